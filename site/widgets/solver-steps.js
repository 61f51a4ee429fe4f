// Lesson 06: the baked flow-matching MLP integrated by Euler, midpoint, Heun or RK4 with a chosen
// number of steps. 2000 samples from the same noise, a few trajectories, and how far the
// endpoints land from a fine reference solve (RK4, 32 steps) of the same ODE.
// The solves run in a worker (lib/sample-worker.js): an RK4 x 32 solve is a third of a second of
// work, so the page draws the last result greyed meanwhile and never waits for it.
import { drawCloud, drawReference, reference } from "./lib/cloud.js";
import { loadBaked } from "./lib/mlp.js";
import { COLORS, Plot, makeCanvas } from "./lib/plot.js";
import { ODE_SOLVERS } from "./lib/samplers.js";
import { SampleJobs, redrawOnInput } from "./lib/sample-jobs.js";
import { button, frame, onResize, publish, select, setKnobs, slider } from "./lib/ui.js";

const N = 2000; // samples per solve
const N_TRAJ = 24; // trajectories drawn (the first N_TRAJ samples)
const N_GAP = 300; // samples compared with the reference solve (the first N_GAP: same noise)
const SEED = 6; // the noise every solve starts from
const FINE = { model: "fm", n: N_GAP, seedX: SEED, sampler: "rk4", steps: 32 };

export async function mount(root) {
  const ref = reference(await loadBaked("moons"));
  const { knobs, stage, readout } = frame(root, "ODE solvers on the learned velocity field");
  const solver = select(knobs, { name: "solver", label: "solver", options: Object.keys(ODE_SOLVERS), value: "euler" });
  const stepsKnob = slider(knobs, { name: "steps", label: "steps", min: 1, max: 32, step: 1, value: 8 });
  button(knobs, { action: "failure", label: "failure: one Euler step" }).addEventListener("click", () =>
    setKnobs(root, { solver: "euler", steps: 1 }),
  );
  const plot = new Plot(makeCanvas(stage, { aspect: 0.75, label: "samples and trajectories" }), {
    xlim: [-3, 3], ylim: [-2.25, 2.25],
  });
  const jobs = new SampleJobs({
    onResult: () => redraw(),
    onError: (message) => {
      root.dataset.busy = "error";
      readout.textContent = `the solver failed: ${message}`;
      console.error("solver-steps worker:", message);
    },
  });
  let shown = null; // the last solve drawn: stays on screen, greyed, while the next one runs

  function redraw() {
    const t0 = performance.now();
    const method = solver.value;
    const k = Number(stepsKnob.value);
    const fine = jobs.get(FINE);
    const solve = jobs.get({ model: "fm", n: N, seedX: SEED, sampler: method, steps: k, keep: N_TRAJ });
    const ready = fine !== undefined && solve !== undefined;
    if (ready) shown = { solve, fine: fine.x, method, k };
    draw(!ready);
    if (ready) delete root.dataset.busy;
    else root.dataset.busy = "true";
    root.dataset.workMs = String(Math.round(performance.now() - t0)); // this thread's share
  }

  function draw(stale) {
    plot.fit().axes();
    drawReference(plot, ref);
    const knobsNow = { solver: solver.value, steps: Number(stepsKnob.value) };
    if (shown === null) {
      plot.text("solving…", [0, 0], { color: COLORS.noise });
      readout.textContent = "solving the ODE…";
      return publish(root, { ...knobsNow, pending: true });
    }
    const { solve, fine, method, k } = shown;
    const { x, traj, nfe, off_data, mode_mass } = solve;
    drawCloud(plot, x, N, { color: stale ? COLORS.noise : COLORS.path, alpha: stale ? 0.3 : 0.75 });
    const states = traj.length / (2 * N_TRAJ);
    for (let i = 0; i < N_TRAJ; i++) {
      const line = Array.from({ length: states }, (_, s) => [traj[2 * (s * N_TRAJ + i)], traj[2 * (s * N_TRAJ + i) + 1]]);
      plot.line(line, { color: stale ? COLORS.noise : COLORS.ink, width: 1 });
    }
    let gap = 0;
    for (let i = 0; i < N_GAP; i++) gap += Math.hypot(x[2 * i] - fine[2 * i], x[2 * i + 1] - fine[2 * i + 1]);
    gap /= N_GAP;
    if (stale) {
      plot.text(`solving ${knobsNow.solver} x ${knobsNow.steps}…`, [plot.xlim[0], plot.ylim[1]], { dx: 8, dy: 14, align: "left" });
      readout.textContent = `solving ${knobsNow.solver} x ${knobsNow.steps} steps in the background…`;
      return publish(root, { ...knobsNow, pending: true });
    }
    readout.textContent =
      `${method} x ${k} steps = ${nfe} network evaluations; ${(100 * off_data).toFixed(1)}% of samples ` +
      `off the data; endpoints ${gap.toFixed(3)} from a 32-step RK4 solve`;
    publish(root, { solver: method, steps: k, nfe, n: N, off_data, mode_mass, gap_to_fine: gap });
  }

  redrawOnInput(root, redraw);
  onResize(redraw);
  redraw();
}
