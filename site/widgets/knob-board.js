// Lesson 09: the practical knobs, each on a model trained for that setting (site/bake.py bakes
// one DDPM MLP per schedule x target x t_scale). First panel: that model's samples by the ancestral
// chain or DDIM. Second panel: classifier-free guidance on a class-conditional flow-matching MLP,
// uncond + w (cond - uncond), asking for one moon (RK4, 8 steps).
// Both panels' samplers run in a worker (lib/sample-worker.js): a 100-step chain is a tenth of a
// second or more, so the page draws the last samples greyed meanwhile and never waits for them.
import { drawCloud, drawReference, reference } from "./lib/cloud.js";
import { loadBaked } from "./lib/mlp.js";
import { COLORS, Plot, makeCanvas } from "./lib/plot.js";
import { SampleJobs, redrawOnInput } from "./lib/sample-jobs.js";
import { button, frame, onResize, publish, select, setKnobs, slider } from "./lib/ui.js";

const N = 1000; // samples per panel
const SCHEDULES = ["linear", "cosine"];
const TARGETS = ["eps", "x0", "v"];
const T_SCALES = ["1000", "1"];
const MOONS = { 0: "upper moon", 1: "lower moon" };
const SEED_X = 9; // both panels start from the same noise
const SEED_Z = 10; // the ancestral chain's fresh noise

const bakedName = (schedule, target, tScale) => `ddpm-${schedule}-${target}-t${tScale}`;

export async function mount(root) {
  const ref = reference(await loadBaked("moons")); // the networks load in the worker, when first used

  const { knobs, stage, readout } = frame(root, "Practical knobs, one trained model per setting");
  const schedule = select(knobs, { name: "schedule", label: "betas", options: SCHEDULES, value: "linear" });
  const target = select(knobs, { name: "target", label: "target", options: TARGETS, value: "eps", labels: { eps: "ε", x0: "x₀", v: "v" } });
  const tScale = select(knobs, { name: "t_scale", label: "t_scale", options: T_SCALES, value: "1000" });
  const sampler = select(knobs, { name: "sampler", label: "sampler", options: ["ancestral", "ddim"], value: "ancestral" });
  const steps = slider(knobs, { name: "steps", label: "steps", min: 2, max: 100, step: 1, value: 32 });
  const label = select(knobs, { name: "label", label: "guide to", options: ["0", "1"], value: "0", labels: MOONS });
  const weight = slider(knobs, { name: "guidance", label: "guidance w", min: 0, max: 8, step: 0.5, value: 1 });
  // cosine betas end at alpha-bar = 2e-9 (beta clipped at 0.999), where x0-hat =
  // (x - sqrt(1 - abar) eps-hat) / sqrt(abar) multiplies the eps-net's error by 2e4. DDIM carries
  // the first jump's error along deterministically; the ancestral chain's fresh noise washes it out
  button(knobs, { action: "failure", label: "failure: cosine + ε + DDIM" }).addEventListener("click", () =>
    setKnobs(root, { schedule: "cosine", target: "eps", t_scale: "1000", sampler: "ddim", steps: 32 }),
  );
  // two panels side by side on a wide screen, stacked on a phone
  const pair = document.createElement("div");
  pair.className = "two-up";
  stage.appendChild(pair);
  const cell = () => pair.appendChild(document.createElement("div"));
  const left = new Plot(makeCanvas(cell(), { aspect: 0.75, label: "DDPM samples" }), { xlim: [-3, 3], ylim: [-2.25, 2.25] });
  const right = new Plot(makeCanvas(cell(), { aspect: 0.75, label: "guided samples" }), { xlim: [-3, 3], ylim: [-2.25, 2.25] });
  const jobs = new SampleJobs({
    onResult: () => redraw(),
    onError: (message) => {
      root.dataset.busy = "error";
      readout.textContent = `a sampler failed: ${message}`;
      console.error("knob-board worker:", message);
    },
  });
  let shown = null; // the last pair of panels drawn: stays on screen, greyed, while the next runs

  function redraw() {
    const t0 = performance.now();
    const name = bakedName(schedule.value, target.value, tScale.value);
    const y = Number(label.value);
    const w = Number(weight.value);
    // each panel's samples are kept by their own knobs: moving the guidance never reruns the
    // DDPM chain, and a setting seen before redraws at once
    const ddpm = jobs.get({ model: name, n: N, seedX: SEED_X, seedZ: SEED_Z, sampler: sampler.value, steps: Number(steps.value) });
    const cfg = jobs.get({ model: "fm-cond", n: N, seedX: SEED_X, sampler: "rk4", steps: 8, label: y, guidance: w });
    const ready = ddpm !== undefined && cfg !== undefined;
    if (ready) shown = { ddpm, cfg, name, y, w };
    draw(!ready);
    if (ready) delete root.dataset.busy;
    else root.dataset.busy = "true";
    root.dataset.workMs = String(Math.round(performance.now() - t0)); // this thread's share
  }

  function draw(stale) {
    const knobsNow = {
      schedule: schedule.value, target: target.value, t_scale: tScale.value, sampler: sampler.value,
      steps: Number(steps.value), label: label.value, guidance: Number(weight.value),
    };
    for (const plot of [left, right]) {
      plot.fit().axes();
      drawReference(plot, ref);
    }
    if (shown === null) {
      for (const plot of [left, right]) plot.text("sampling…", [0, 0], { color: COLORS.noise });
      readout.textContent = "sampling…";
      return publish(root, { ...knobsNow, pending: true });
    }
    const { ddpm, cfg, name, y, w } = shown;
    const look = (color) => ({ color: stale ? COLORS.noise : color, alpha: stale ? 0.3 : 0.75 });
    drawCloud(left, ddpm.x, N, look(COLORS.path));
    left.text(stale ? "sampling…" : name, [left.xlim[0], left.ylim[1]], { dx: 8, dy: 14, align: "left" });
    drawCloud(right, cfg.x, N, look(COLORS.alt));
    right.text(stale ? "sampling…" : `w = ${w}, ${MOONS[y]}`, [right.xlim[0], right.ylim[1]], { dx: 8, dy: 14, align: "left" });
    if (stale) {
      readout.textContent = "sampling the new setting in the background…";
      return publish(root, { ...knobsNow, pending: true });
    }
    const { nfe, off_data } = ddpm;
    readout.textContent =
      `DDPM panel: ${(100 * off_data).toFixed(1)}% off the data (${nfe} evaluations). Guided panel: ` +
      `${(100 * cfg.mode_mass[y]).toFixed(1)}% on the ${MOONS[y]}, ${(100 * cfg.off_data).toFixed(1)}% off the data.`;
    publish(root, {
      ...knobsNow, model: name, nfe, off_data, mode_mass: ddpm.mode_mass, guided_on_label: cfg.mode_mass[y],
      guided_off_data: cfg.off_data,
    });
  }

  redrawOnInput(root, redraw);
  onResize(redraw);
  redraw();
}
