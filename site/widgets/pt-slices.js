// Lesson 01: the marginal p_t of the linear path, projected on one axis, for many t, stacked in
// an oblique view. The projection of x_t = (1 - t) x0 + t x1 onto a unit vector u is
// s = t (u . x1) + (1 - t) z with z ~ N(0, 1), so each slice is exactly a Gaussian mixture over the
// data: p_t(s) = mean_i N(s; t s1_i, (1 - t)^2 + h^2), h the display bandwidth (a histogram's bin).
import { COLORS, Plot, makeCanvas } from "./lib/plot.js";
import { moons } from "./lib/rng.js";
import { button, frame, onResize, publish, setKnobs, slider, deferred } from "./lib/ui.js";

const DATA = moons(400, 0.05, 1);
const GRID = Array.from({ length: 141 }, (_, i) => -3.5 + i * 0.05);

const STEP = GRID[1] - GRID[0];

/** The projected density at time t on GRID. Each data point adds a Gaussian bump; along the
 * evenly spaced grid a Gaussian is a product of ratios that shrink by a constant factor, so a bump
 * costs three exp() calls, not one per grid point (24 slices redraw in a few ms). */
function slice(s1, t, h) {
  const v = (1 - t) ** 2 + h * h;
  const out = new Float64Array(GRID.length);
  const q = Math.exp((-STEP * STEP) / v); // ratio of successive ratios
  for (const m of s1) {
    const mu = t * m;
    const c = Math.min(GRID.length - 1, Math.max(0, Math.round((mu - GRID[0]) / STEP)));
    const d = GRID[c] - mu;
    const g = Math.exp((-0.5 * d * d) / v);
    out[c] += g;
    for (const dir of [1, -1]) { // walk right, then left, from the grid point nearest the bump
      let gi = g;
      let r = Math.exp((-(2 * d * dir * STEP) - STEP * STEP) / (2 * v));
      for (let i = c + dir; i >= 0 && i < GRID.length && gi > 1e-300; i += dir) {
        gi *= r;
        r *= q;
        out[i] += gi;
      }
    }
  }
  const norm = 1 / Math.sqrt(2 * Math.PI * v) / s1.length;
  return Array.from(out, (x) => x * norm);
}

/** Modes with hysteresis: a peak counts once the curve falls 10% of the maximum below it. */
export function countModes(dens) {
  const delta = 0.1 * Math.max(...dens);
  let modes = 0;
  let up = true;
  let ref = dens[0];
  for (const v of dens) {
    if (up && v > ref) ref = v;
    else if (up && v < ref - delta) [modes, up, ref] = [modes + 1, false, v];
    else if (!up && v < ref) ref = v;
    else if (!up && v > ref + delta) [up, ref] = [true, v];
  }
  return modes;
}

export function mount(root) {
  const { knobs, stage, readout } = frame(root, "p_t along one axis, stacked over t");
  const angle = slider(knobs, { name: "angle", label: "axis angle", min: 0, max: 175, step: 5, value: 90, format: (v) => `${v}°` });
  const bandwidth = slider(knobs, { name: "bandwidth", label: "bin width", min: 0.05, max: 0.4, step: 0.01, value: 0.1, format: (v) => v.toFixed(2) });
  const slices = slider(knobs, { name: "slices", label: "slices", min: 4, max: 24, step: 1, value: 12 });
  button(knobs, { action: "failure", label: "failure: a lying axis" }).addEventListener("click", () =>
    setKnobs(root, { angle: 10, bandwidth: 0.25 }),
  );
  const plot = new Plot(makeCanvas(stage, { aspect: 0.8, label: "stacked slices of p_t" }), { xlim: [0, 1], ylim: [0, 1], pad: 10 });
  const inset = new Plot(makeCanvas(stage, { aspect: 0.35, label: "the data and the projection axis" }), { xlim: [-6, 6], ylim: [-2.1, 2.1], pad: 4 });

  function draw() {
    const a = (Number(angle.value) * Math.PI) / 180;
    const u = [Math.cos(a), Math.sin(a)];
    const h = Number(bandwidth.value);
    const n = Number(slices.value);
    const s1 = DATA.map((p) => p[0] * u[0] + p[1] * u[1]);
    const ts = Array.from({ length: n }, (_, j) => j / (n - 1));
    const curves = ts.map((t) => slice(s1, t, h));
    const peak = Math.max(...curves.flat());
    plot.fit();
    // oblique view: t = 0 (noise) at the back, up and right; t = 1 (the data) in front, drawn last
    const depth = [0.28, 0.45];
    const back = (j) => (n - 1 - j) / (n - 1);
    const toView = (j, g, d) => [0.04 + 0.68 * (g / (GRID.length - 1)) + depth[0] * back(j),
      0.04 + depth[1] * back(j) + 0.45 * (d / peak)];
    for (let j = 0; j < n; j++) {
      const pts = curves[j].map((d, g) => toView(j, g, d));
      const base = [toView(j, 0, 0), toView(j, GRID.length - 1, 0)];
      plot.ctx.fillStyle = "rgba(255,255,255,0.92)";
      plot.ctx.beginPath();
      pts.forEach((p, i) => (i ? plot.ctx.lineTo(plot.px(p[0]), plot.py(p[1])) : plot.ctx.moveTo(plot.px(p[0]), plot.py(p[1]))));
      plot.ctx.lineTo(plot.px(base[1][0]), plot.py(base[1][1]));
      plot.ctx.lineTo(plot.px(base[0][0]), plot.py(base[0][1]));
      plot.ctx.fill();
      const color = j === n - 1 ? COLORS.data : j === 0 ? COLORS.noise : COLORS.path;
      plot.line(pts, { color, width: j === 0 || j === n - 1 ? 2 : 1.2 });
      plot.segment(base[0], base[1], { color: COLORS.grid });
    }
    plot.text("t = 0 (noise)", toView(0, 0, 0), { dx: -2, dy: -4, align: "left", color: COLORS.noise });
    plot.text("t = 1 (data)", toView(n - 1, 0, 0), { dx: 4, dy: 14, align: "left", color: COLORS.data });
    plot.arrow(toView(0, GRID.length - 1, 0), [-depth[0], -depth[1]], { color: COLORS.noise });
    plot.text("t → 1", toView(n - 1, GRID.length - 1, 0), { dx: 4, dy: 16, align: "left", color: COLORS.noise });
    inset.fit();
    inset.points(DATA, { color: COLORS.data, r: 1.2, alpha: 0.5 });
    inset.arrow([-2.5 * u[0], -2.5 * u[1]], [5 * u[0], 5 * u[1]], { color: COLORS.path, width: 1.5 });
    const modes = curves.map(countModes);
    readout.textContent =
      `the t = 1 slice has ${modes[n - 1]} hump${modes[n - 1] === 1 ? "" : "s"} along this axis, the t = 0 slice ` +
      `${modes[0]}. The 2-D data is two moons: a 1-D view of them can show more humps or fewer, ` +
      "so count humps here, not moons.";
    publish(root, { angle: Number(angle.value), bandwidth: h, slices: n, modes_data: modes[n - 1],
      modes_noise: modes[0], peak });
  }
  root.addEventListener("input", deferred(root, draw));
  onResize(draw);
  draw();
}
