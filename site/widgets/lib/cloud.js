// Point clouds as flat arrays (n points of 2 numbers, row-major): draw thousands at once, and
// score them against the baked reference moons (site/baked/moons.json) the way the package's
// metric reads "off the data" and "mass per mode" (generative/metrics.py, OFF_DATA = 0.25).
import { COLORS } from "./plot.js";

export const OFF_DATA = 0.25; // standardized units, as generative/metrics.py

/** Squares of `size` CSS pixels at each point, one path and one fill (fast for 2000 points). */
export function drawCloud(plot, xs, n, { color = COLORS.path, size = 2.2, alpha = 0.75 } = {}) {
  const { ctx } = plot;
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
}

/** Faint reference moons behind the samples. */
export function drawReference(plot, ref) {
  drawCloud(plot, ref.flat, ref.n, { color: COLORS.data, size: 1.6, alpha: 0.25 });
}

/** The baked reference as flat arrays: {flat, labels, n, numClasses}. */
export function reference(baked) {
  const n = baked.points.length;
  return {
    n,
    flat: Float64Array.from(baked.points.flat()),
    labels: Int32Array.from(baked.labels),
    numClasses: Math.max(...baked.labels) + 1,
  };
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
    let best = Infinity;
    let label = 0;
    for (let j = 0; j < ref.n; j++) {
      const dx = x - ref.flat[2 * j];
      const dy = y - ref.flat[2 * j + 1];
      const d = dx * dx + dy * dy;
      if (d < best) {
        best = d;
        label = ref.labels[j];
      }
    }
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
