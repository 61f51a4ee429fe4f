// Lesson 06: the baked flow-matching MLP integrated by Euler, midpoint, Heun or RK4 with a chosen
// number of steps. 2000 samples from the same noise, a few trajectories, and how far the
// endpoints land from a fine reference solve (RK4, 32 steps) of the same ODE.
import { drawCloud, drawReference, gaussian, reference, score } from "./lib/cloud.js";
import { loadBaked, MLP } from "./lib/mlp.js";
import { COLORS, Plot, makeCanvas } from "./lib/plot.js";
import { makeRng } from "./lib/rng.js";
import { ODE_SOLVERS, guided, solveODE } from "./lib/samplers.js";
import { button, frame, onResize, publish, select, setKnobs, slider, deferred } from "./lib/ui.js";

const N = 2000; // samples per redraw
const N_TRAJ = 24; // trajectories drawn (the first N_TRAJ samples)
const N_GAP = 300; // samples compared with the reference solve

export async function mount(root) {
  const [baked, moons] = await Promise.all([loadBaked("fm"), loadBaked("moons")]);
  const net = new MLP(baked);
  const ref = reference(moons);
  const f = guided(net);
  const { knobs, stage, readout } = frame(root, "ODE solvers on the learned velocity field");
  const solver = select(knobs, { name: "solver", label: "solver", options: Object.keys(ODE_SOLVERS), value: "euler" });
  const stepsKnob = slider(knobs, { name: "steps", label: "steps", min: 1, max: 32, step: 1, value: 8 });
  button(knobs, { action: "failure", label: "failure: one Euler step" }).addEventListener("click", () =>
    setKnobs(root, { solver: "euler", steps: 1 }),
  );
  const plot = new Plot(makeCanvas(stage, { aspect: 0.75, label: "samples and trajectories" }), {
    xlim: [-3, 3], ylim: [-2.25, 2.25],
  });
  const x0 = gaussian(makeRng(6), N);
  // the fine solve the endpoints are compared with, computed once
  const fine = x0.slice(0, 2 * N_GAP);
  solveODE(f, fine, N_GAP, 32, "rk4");

  const solved = new Map(); // "method/steps" -> {x, states, nfe, gap, s}: a revisit costs nothing

  function solve(method, k) {
    const key = `${method}/${k}`;
    if (!solved.has(key)) {
      const x = x0.slice();
      const states = [x0];
      const nfe = solveODE(f, x, N, k, method, { traj: states }); // every state, for the trajectories
      let gap = 0;
      for (let i = 0; i < N_GAP; i++) gap += Math.hypot(x[2 * i] - fine[2 * i], x[2 * i + 1] - fine[2 * i + 1]);
      // keep only the trajectories' coordinates of the intermediate states
      const kept = states.map((xs) => xs.slice(0, 2 * N_TRAJ));
      solved.set(key, { x, states: kept, nfe, gap: gap / N_GAP, s: score(x, N, ref) });
    }
    return solved.get(key);
  }

  function redraw() {
    const method = solver.value;
    const k = Number(stepsKnob.value);
    const { x, states, nfe, gap, s } = solve(method, k);

    plot.fit().axes();
    drawReference(plot, ref);
    drawCloud(plot, x, N, { color: COLORS.path });
    for (let i = 0; i < N_TRAJ; i++) {
      plot.line(states.map((xs) => [xs[2 * i], xs[2 * i + 1]]), { color: COLORS.ink, width: 1 });
    }
    readout.textContent =
      `${method} x ${k} steps = ${nfe} network evaluations; ${(100 * s.off_data).toFixed(1)}% of samples ` +
      `off the data; endpoints ${gap.toFixed(3)} from a 32-step RK4 solve`;
    publish(root, { solver: method, steps: k, nfe, n: N, off_data: s.off_data, mode_mass: s.mode_mass,
      gap_to_fine: gap });
  }

  root.addEventListener("input", deferred(root, redraw));
  onResize(redraw);
  redraw();
}
