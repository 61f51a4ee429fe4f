// Lesson 05: the velocity field at time t, two ways. Orange: the exact marginal field of a finite
// set of moons points (the minimiser of the CFM loss on that set). Blue: the baked flow-matching
// MLP, trained on 8000 points. Far from t = 1 they agree; near t = 1 the exact field of a small
// set points at its individual points, while the network stays smooth.
import { reference } from "./lib/cloud.js";
import { loadBaked, MLP } from "./lib/mlp.js";
import { exactMarginalVelocity } from "./lib/paths.js";
import { COLORS, Plot, makeCanvas } from "./lib/plot.js";
import { button, checkbox, frame, onResize, publish, setKnobs, slider, deferred } from "./lib/ui.js";

const GRID = [21, 15]; // arrows across x and y
const XLIM = [-2.6, 2.6];
const YLIM = [-1.95, 1.95];

export async function mount(root) {
  const [baked, moons] = await Promise.all([loadBaked("fm"), loadBaked("moons")]);
  const net = new MLP(baked);
  const ref = reference(moons);
  const { knobs, stage, readout } = frame(root, "Exact marginal velocity vs the trained network");
  const t = slider(knobs, { name: "t", label: "t", min: 0, max: 0.99, step: 0.01, value: 0.5, format: (v) => v.toFixed(2) });
  const size = slider(knobs, { name: "n_data", label: "data points", min: 4, max: 1000, step: 1, value: 200 });
  const showExact = checkbox(knobs, { name: "exact", label: "exact field", checked: true });
  const showNet = checkbox(knobs, { name: "network", label: "network", checked: true });
  button(knobs, { action: "failure", label: "failure: 8 points near t = 1" }).addEventListener("click", () =>
    setKnobs(root, { n_data: 8, t: 0.97, exact: true, network: true }),
  );
  const plot = new Plot(makeCanvas(stage, { aspect: 0.75, label: "velocity arrows" }), { xlim: XLIM, ylim: YLIM });
  const [gx, gy] = GRID;
  const grid = new Float64Array(2 * gx * gy);
  for (let i = 0; i < gx; i++) {
    for (let j = 0; j < gy; j++) {
      const p = i * gy + j;
      grid[2 * p] = XLIM[0] + ((i + 0.5) / gx) * (XLIM[1] - XLIM[0]);
      grid[2 * p + 1] = YLIM[0] + ((j + 0.5) / gy) * (YLIM[1] - YLIM[0]);
    }
  }
  const m = gx * gy;

  function redraw() {
    const tv = Number(t.value);
    const k = Number(size.value);
    // the first k reference points, alternating moons so a small set still covers both
    const data = [];
    for (let i = 0; i < k; i++) {
      const j = (i % 2) * Math.floor(ref.n / 2) + Math.floor(i / 2);
      data.push([ref.flat[2 * j], ref.flat[2 * j + 1]]);
    }
    const learned = net.forward(grid, m, tv, null);
    const exact = new Float64Array(2 * m);
    for (let p = 0; p < m; p++) {
      const u = exactMarginalVelocity([grid[2 * p], grid[2 * p + 1]], tv, data);
      exact[2 * p] = u[0];
      exact[2 * p + 1] = u[1];
    }
    let gap = 0;
    let speed = 0;
    let maxExact = 0;
    for (let p = 0; p < m; p++) {
      const e = Math.hypot(exact[2 * p], exact[2 * p + 1]);
      gap += Math.hypot(exact[2 * p] - learned[2 * p], exact[2 * p + 1] - learned[2 * p + 1]) / m;
      speed += Math.hypot(learned[2 * p], learned[2 * p + 1]) / m;
      maxExact = Math.max(maxExact, e);
    }
    // one arrow scale for both fields: the longest arrow spans one grid cell
    const cell = (XLIM[1] - XLIM[0]) / gx;
    let longest = 1e-9;
    for (let p = 0; p < 2 * m; p += 2) {
      if (showExact.checked) longest = Math.max(longest, Math.hypot(exact[p], exact[p + 1]));
      if (showNet.checked) longest = Math.max(longest, Math.hypot(learned[p], learned[p + 1]));
    }
    const scale = (0.95 * cell) / longest;
    plot.fit().axes();
    plot.points(data, { color: COLORS.data, r: k <= 50 ? 3 : 1.5, alpha: 0.6 });
    for (let p = 0; p < m; p++) {
      const at = [grid[2 * p], grid[2 * p + 1]];
      if (showExact.checked) plot.arrow(at, [scale * exact[2 * p], scale * exact[2 * p + 1]], { color: COLORS.data, head: 4 });
      if (showNet.checked) plot.arrow(at, [scale * learned[2 * p], scale * learned[2 * p + 1]], { color: COLORS.path, head: 4 });
    }
    readout.textContent =
      `t = ${tv.toFixed(2)}, ${k} data points: mean |exact - network| = ${gap.toFixed(2)} ` +
      `(network's mean speed ${speed.toFixed(2)}, exact field's largest ${maxExact.toFixed(1)})`;
    publish(root, { t: tv, n_data: k, exact: showExact.checked, network: showNet.checked, grid: m,
      mean_gap: gap, mean_speed_net: speed, max_speed_exact: maxExact });
  }

  root.addEventListener("input", deferred(root, redraw));
  onResize(redraw);
  redraw();
}
