// Lesson 01: the linear path x_t = (1 - t) x0 + t x1 on the two moons. Each particle is one pair
// (x0 noise, x1 data) and moves on its own straight line as t goes from 0 to 1. Drag on the
// canvas (left/right) or use the slider to move t.
import { linearPath, samplePath } from "./lib/paths.js";
import { COLORS, Plot, makeCanvas } from "./lib/plot.js";
import { makeRng, moons, rawMoons } from "./lib/rng.js";
import { button, checkbox, frame, onResize, publish, setKnobs, slider } from "./lib/ui.js";

const N = 300;

export function mount(root) {
  const { knobs, stage, readout } = frame(root, "The linear path: noise to moons on straight lines");
  const t = slider(knobs, { name: "t", label: "t", min: 0, max: 1, step: 0.01, value: 0.5, format: (v) => v.toFixed(2) });
  const standardize = checkbox(knobs, { name: "standardize", label: "standardize data", checked: true });
  const scale = slider(knobs, { name: "scale", label: "data scale", min: 1, max: 6, step: 0.5, value: 1, format: (v) => `${v}x` });
  const lines = checkbox(knobs, { name: "lines", label: "show lines", checked: true });
  button(knobs, { action: "failure", label: "failure: unscaled data" }).addEventListener("click", () =>
    setKnobs(root, { standardize: false, scale: 5, t: 0.5 }),
  );
  const plot = new Plot(makeCanvas(stage, { aspect: 0.75, label: "particles on the linear path" }));
  const x0 = makeRng(7).normals(N, 2);

  function draw() {
    const raw = rawMoons(N, 0.05, 3).map((p) => p.map((v) => v * Number(scale.value)));
    const x1 = standardize.checked ? moons(N, 0.05, 3) : raw;
    const tv = Number(t.value);
    const xt = x1.map((p, i) => samplePath(linearPath, x0[i], p, tv).xt);
    // the view grows to keep every point of both ends in frame
    const reach = Math.max(3, ...x1.flat().map(Math.abs)) * 1.05;
    plot.xlim = [-reach, reach];
    plot.ylim = [-reach * 0.75, reach * 0.75];
    plot.fit().axes();
    if (lines.checked) x1.forEach((p, i) => plot.segment(x0[i], p, { color: COLORS.grid }));
    plot.points(x0, { color: COLORS.noise, r: 1.2, alpha: 0.35 });
    plot.points(x1, { color: COLORS.data, r: 1.5, alpha: 0.35 });
    plot.points(xt, { color: COLORS.path, r: 2.2 });
    plot.text(`t = ${tv.toFixed(2)}`, [plot.xlim[1], plot.ylim[1]], { dx: -6, dy: 14, align: "right" });
    const speed = x1.reduce((acc, p, i) => acc + Math.hypot(p[0] - x0[i][0], p[1] - x0[i][1]), 0) / N;
    const dataStd = Math.sqrt(x1.flat().reduce((a, v) => a + v * v, 0) / (2 * N));
    readout.textContent = `mean speed |x1 - x0| = ${speed.toFixed(2)}; data RMS ${dataStd.toFixed(2)} vs noise 1.00`;
    publish(root, { t: tv, standardize: standardize.checked, scale: Number(scale.value), lines: lines.checked,
      n: N, mean_speed: speed, data_rms: dataStd, xt_mean: [mean(xt, 0), mean(xt, 1)] });
  }

  // dragging across the canvas scrubs t from 0 (left edge) to 1 (right edge)
  plot.canvas.addEventListener("pointermove", (e) => {
    if (e.buttons !== 1) return;
    const r = plot.canvas.getBoundingClientRect();
    setKnobs(root, { t: Math.min(1, Math.max(0, (e.clientX - r.left) / r.width)).toFixed(2) });
  });
  root.addEventListener("input", draw);
  onResize(draw);
  draw();
}

function mean(pts, k) {
  return pts.reduce((a, p) => a + p[k], 0) / pts.length;
}
