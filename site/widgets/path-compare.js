// Lesson 07: the same pairs (x0 noise, x1 data) moved along the linear path and the VP path
// (alpha = sin(pi t / 2), sigma = cos(pi t / 2)). Traces show each conditional path; with
// "Euler steps" > 0 the conditional velocity u_t = alpha' x1 + sigma' x0 is integrated from t = 0
// with that many steps instead, and the readout gives how far the end lands from x1.
import { linearPath, samplePath, vpPath } from "./lib/paths.js";
import { COLORS, Plot, makeCanvas } from "./lib/plot.js";
import { makeRng, moons } from "./lib/rng.js";
import { button, frame, onResize, publish, setKnobs, slider, deferred, player } from "./lib/ui.js";

const N = 200;
const TRACE = 24; // points per drawn trace

/** Euler on dx/dt = u_t(x | x0, x1) from t = 0 to 1: the visited points. */
function euler(path, x0, x1, steps) {
  const pts = [x0];
  let x = x0;
  for (let i = 0; i < steps; i++) {
    const { ut } = samplePath(path, x0, x1, i / steps);
    x = x.map((v, d) => v + ut[d] / steps);
    pts.push(x);
  }
  return pts;
}

function rms(pts) {
  return Math.sqrt(pts.flat().reduce((a, v) => a + v * v, 0) / (2 * pts.length));
}

export function mount(root) {
  const { knobs, stage, readout } = frame(root, "Linear vs VP: the same particles, two paths");
  const t = slider(knobs, { name: "t", label: "t", min: 0, max: 1, step: 0.01, value: 0.5, format: (v) => v.toFixed(2) });
  player(knobs, root, t); // sweep t from 0 to 1: watch the particles move
  const steps = slider(knobs, { name: "steps", label: "Euler steps", min: 0, max: 16, step: 1, value: 0, format: (v) => (v ? String(v) : "exact") });
  const traces = slider(knobs, { name: "traces", label: "traces", min: 0, max: 60, step: 10, value: 30 });
  button(knobs, { action: "failure", label: "failure: one Euler step" }).addEventListener("click", () =>
    setKnobs(root, { steps: 1, t: 1 }),
  );
  stage.classList.add("two-up");
  const panels = [linearPath, vpPath].map((path) => {
    const cell = document.createElement("div");
    stage.appendChild(cell);
    return { path, plot: new Plot(makeCanvas(cell, { aspect: 1, label: `${path.name} path` }), { xlim: [-3, 3], ylim: [-3, 3], pad: 18 }) };
  });
  const x0 = makeRng(5).normals(N, 2);
  const x1 = moons(N, 0.05, 4);

  function draw() {
    const tv = Number(t.value);
    const nSteps = Number(steps.value);
    const nTraces = Number(traces.value);
    const out = {};
    for (const { path, plot } of panels) {
      plot.fit().axes();
      plot.points(x1, { color: COLORS.data, r: 1.2, alpha: 0.25 });
      for (let i = 0; i < nTraces; i++) {
        const exact = Array.from({ length: TRACE + 1 }, (_, j) => samplePath(path, x0[i], x1[i], j / TRACE).xt);
        plot.line(exact, { color: COLORS.faint, width: 1 });
        if (nSteps) plot.line(euler(path, x0[i], x1[i], nSteps), { color: COLORS.alt, width: 1.2 });
      }
      let xt;
      let err = 0;
      if (nSteps) {
        // Euler positions: the step grid point nearest t (t = 1 is the end of the integration)
        const ends = x0.map((p, i) => euler(path, p, x1[i], nSteps));
        xt = ends.map((pts) => pts[Math.round(tv * nSteps)]);
        err = ends.reduce((a, pts, i) => a + Math.hypot(pts[nSteps][0] - x1[i][0], pts[nSteps][1] - x1[i][1]), 0) / N;
      } else {
        xt = x0.map((p, i) => samplePath(path, p, x1[i], tv).xt);
      }
      plot.points(xt, { color: COLORS.path, r: 2 });
      plot.text(path.name === "linear" ? "linear: α = t, σ = 1 - t" : "VP: α = sin(πt/2), σ = cos(πt/2)", [-3, 3], { dx: 4, dy: 12, align: "left" });
      out[path.name] = { rms: rms(xt), err };
    }
    const errText = nSteps
      ? `; end error after ${nSteps} Euler step(s): linear ${out.linear.err.toFixed(3)}, VP ${out.vp.err.toFixed(3)}`
      : "";
    readout.textContent = `cloud RMS at t = ${tv.toFixed(2)}: linear ${out.linear.rms.toFixed(2)}, VP ${out.vp.rms.toFixed(2)}${errText}`;
    publish(root, { t: tv, steps: nSteps, traces: nTraces, rms_linear: out.linear.rms, rms_vp: out.vp.rms,
      end_error_linear: out.linear.err, end_error_vp: out.vp.err });
  }
  root.addEventListener("input", deferred(root, draw));
  onResize(draw);
  draw();
}
