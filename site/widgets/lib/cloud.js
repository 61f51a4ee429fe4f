// Point clouds as flat arrays (n points of 2 numbers, row-major): draw thousands at once, and
// score them against the baked reference moons (site/baked/moons.json) the way the package's
// metric reads "off the data" and "mass per mode" (generative/continuous/metrics.py, OFF_DATA = 0.25).
import { COLORS } from "./plot.js";

export const OFF_DATA = 0.25; // standardized units, as generative/continuous/metrics.py

/** Squares of `size` CSS pixels at each point, one path and one fill (fast for 2000 points). */
export function drawCloud(plot, xs, n, { color = COLORS.path, size = 2.2, alpha = 0.75 } = {}) {
  const { ctx } = plot;
  plot.clipped(() => {
    ctx.globalAlpha = alpha;
    ctx.fillStyle = color;
    ctx.beginPath();
    const h = size / 2;
    for (let i = 0; i < n; i++) {
      const x = xs[2 * i];
      const y = xs[2 * i + 1];
      if (Number.isFinite(x) && Number.isFinite(y)) ctx.rect(plot.px(x) - h, plot.py(y) - h, size, size);
    }
    ctx.fill();
    ctx.globalAlpha = 1;
  });
}

/** Faint reference moons behind the samples. */
export function drawReference(plot, ref) {
  drawCloud(plot, ref.flat, ref.n, { color: COLORS.data, size: 1.6, alpha: 0.25 });
}

/** The baked reference as flat arrays {flat, labels, n, numClasses}, with the points binned in
 * OFF_DATA-sized cells: any point within OFF_DATA of a sample lies in the 3 x 3 cells around it. */
export function reference(baked) {
  const n = baked.points.length;
  const flat = Float64Array.from(baked.points.flat());
  const cells = new Map();
  for (let j = 0; j < n; j++) {
    const key = cellKey(Math.floor(flat[2 * j] / OFF_DATA), Math.floor(flat[2 * j + 1] / OFF_DATA));
    if (!cells.has(key)) cells.set(key, []);
    cells.get(key).push(j);
  }
  return { n, flat, labels: Int32Array.from(baked.labels), numClasses: Math.max(...baked.labels) + 1, cells };
}

const cellKey = (i, j) => (i + 4096) * 8192 + (j + 4096);

/** The nearest reference point to (x, y): its squared distance and label. Exact: the 3 x 3
 * cells first; only a sample farther than OFF_DATA from all of them scans every point. */
function nearest(ref, x, y) {
  let best = Infinity;
  let label = 0;
  const visit = (j) => {
    const dx = x - ref.flat[2 * j];
    const dy = y - ref.flat[2 * j + 1];
    const d = dx * dx + dy * dy;
    if (d < best) [best, label] = [d, ref.labels[j]];
  };
  const ci = Math.floor(x / OFF_DATA);
  const cj = Math.floor(y / OFF_DATA);
  if (Math.abs(ci) < 4000 && Math.abs(cj) < 4000) {
    for (let di = -1; di <= 1; di++) for (let dj = -1; dj <= 1; dj++) ref.cells.get(cellKey(ci + di, cj + dj))?.forEach(visit);
  }
  if (best > OFF_DATA * OFF_DATA) for (let j = 0; j < ref.n; j++) visit(j);
  return { best, label };
}

/** Share of samples farther than OFF_DATA from every reference point, share nearest each
 * reference mode, and the RMS radius; non-finite samples count as off the data. */
export function score(xs, n, ref) {
  const mass = new Float64Array(ref.numClasses);
  let off = 0;
  let sq = 0;
  let finite = 0;
  for (let i = 0; i < n; i++) {
    const x = xs[2 * i];
    const y = xs[2 * i + 1];
    if (!Number.isFinite(x) || !Number.isFinite(y)) {
      off++;
      continue;
    }
    finite++;
    sq += x * x + y * y;
    const { best, label } = nearest(ref, x, y);
    if (best > OFF_DATA * OFF_DATA) off++;
    mass[label]++;
  }
  return {
    off_data: off / n,
    mode_mass: Array.from(mass, (m) => m / n),
    rms: finite ? Math.sqrt(sq / finite) : NaN,
  };
}

/** n standard normal points (flat) from a seeded rng.js generator. */
export function gaussian(rng, n) {
  const xs = new Float64Array(2 * n);
  for (let i = 0; i < 2 * n; i++) xs[i] = rng.normal();
  return xs;
}
