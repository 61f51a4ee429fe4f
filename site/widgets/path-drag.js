// Lesson 01: the linear path x_t = (1 - t) x0 + t x1 on the two moons. Each particle is one pair
// (x0 noise, x1 data) and moves on its own straight line as t goes from 0 to 1. Drag on the
// canvas (left/right) or use the slider to move t. The view is fixed at the prior's scale: data
// far larger than the noise visibly leaves it (the particles past the edge are counted and pinned
// to the border as open rings), which is gotcha #1's picture.
import { linearPath, samplePath } from "./lib/paths.js";
import { COLORS, Plot, makeCanvas } from "./lib/plot.js";
import { makeRng, moons, rawMoons } from "./lib/rng.js";
import { button, checkbox, frame, onResize, publish, setKnobs, slider, deferred, player } from "./lib/ui.js";

const N = 300;

export function mount(root) {
  const { knobs, stage, readout } = frame(root, "The linear path: noise to moons on straight lines");
  const t = slider(knobs, { name: "t", label: "t", min: 0, max: 1, step: 0.01, value: 0.5, format: (v) => v.toFixed(2) });
  player(knobs, root, t); // sweep t from 0 to 1: watch the particles move
  const standardize = checkbox(knobs, { name: "standardize", label: "standardize data", checked: true });
  const scale = slider(knobs, { name: "scale", label: "data scale", min: 1, max: 6, step: 0.5, value: 1, format: (v) => `${v}x` });
  const why = document.createElement("span");
  why.className = "knob-note";
  why.textContent = "(off while standardizing: it divides any scale away)";
  scale.parentElement.appendChild(why);
  const lines = checkbox(knobs, { name: "lines", label: "show lines", checked: true });
  button(knobs, { action: "failure", label: "failure: unscaled data" }).addEventListener("click", () =>
    setKnobs(root, { standardize: false, scale: 5, t: 0.75 }),
  );
  const plot = new Plot(makeCanvas(stage, { aspect: 0.75, label: "particles on the linear path" }));
  const x0 = makeRng(7).normals(N, 2);

  function draw() {
    const raw = rawMoons(N, 0.05, 3).map((p) => p.map((v) => v * Number(scale.value)));
    const x1 = standardize.checked ? moons(N, 0.05, 3) : raw;
    const tv = Number(t.value);
    const xt = x1.map((p, i) => samplePath(linearPath, x0[i], p, tv).xt);
    scale.disabled = standardize.checked;
    why.hidden = !standardize.checked;
    // a fixed view at the prior's scale (about +-3.5 sigma): what leaves it is pinned to the border
    plot.xlim = [-3.5, 3.5];
    plot.ylim = [-2.625, 2.625];
    plot.fit().axes();
    if (lines.checked) x1.forEach((p, i) => plot.segment(x0[i], p, { color: COLORS.grid }));
    plot.points(x0, { color: COLORS.noise, r: 1.2, alpha: 0.35 });
    plot.points(x1, { color: COLORS.data, r: 1.5, alpha: 0.35 });
    plot.points(xt, { color: COLORS.path, r: 2.2 });
    const outside = xt.filter((p) => Math.abs(p[0]) > plot.xlim[1] || Math.abs(p[1]) > plot.ylim[1]);
    const pin = (p) => [Math.max(plot.xlim[0], Math.min(plot.xlim[1], p[0])), Math.max(plot.ylim[0], Math.min(plot.ylim[1], p[1]))];
    plot.ctx.strokeStyle = COLORS.data;
    for (const p of outside.map(pin)) {
      plot.ctx.beginPath();
      plot.ctx.arc(plot.px(p[0]), plot.py(p[1]), 3.5, 0, 2 * Math.PI);
      plot.ctx.stroke();
    }
    plot.text(`t = ${tv.toFixed(2)}`, [plot.xlim[1], plot.ylim[1]], { dx: -6, dy: 14, align: "right" });
    if (outside.length) {
      plot.text(`${outside.length} of ${N} particles outside the prior's ±3.5 view (rings on the border)`, [plot.xlim[0], plot.ylim[0]], { dx: 12, dy: -8, align: "left", color: COLORS.data, size: 11 });
    }
    const speed = x1.reduce((acc, p, i) => acc + Math.hypot(p[0] - x0[i][0], p[1] - x0[i][1]), 0) / N;
    const dataStd = Math.sqrt(x1.flat().reduce((a, v) => a + v * v, 0) / (2 * N));
    readout.textContent = `mean speed |x₁ − x₀| = ${speed.toFixed(2)}; data RMS ${dataStd.toFixed(2)} vs noise 1.00; ` +
      `${Math.round((100 * outside.length) / N)}% of particles outside the prior's view at t = ${tv.toFixed(2)}`;
    publish(root, { t: tv, standardize: standardize.checked, scale: Number(scale.value), lines: lines.checked,
      n: N, mean_speed: speed, data_rms: dataStd, xt_mean: [mean(xt, 0), mean(xt, 1)],
      outside_view: outside.length / N, scale_disabled: scale.disabled });
  }

  // dragging across the canvas scrubs t from 0 (left edge) to 1 (right edge)
  plot.canvas.addEventListener("pointermove", (e) => {
    if (e.buttons !== 1) return;
    const r = plot.canvas.getBoundingClientRect();
    setKnobs(root, { t: Math.min(1, Math.max(0, (e.clientX - r.left) / r.width)).toFixed(2) });
  });
  root.addEventListener("input", deferred(root, draw));
  onResize(draw);
  draw();
}

function mean(pts, k) {
  return pts.reduce((a, p) => a + p[k], 0) / pts.length;
}
