// Lesson 09: the practical knobs, each on a model trained for that setting (site/bake.py bakes
// one DDPM MLP per schedule x target x t_scale). First panel: that model's samples by the ancestral
// chain or DDIM. Second panel: classifier-free guidance on a class-conditional flow-matching MLP,
// uncond + w (cond - uncond), asking for one moon (RK4, 8 steps).
import { drawCloud, drawReference, gaussian, reference, score } from "./lib/cloud.js";
import { loadBaked, MLP } from "./lib/mlp.js";
import { COLORS, Plot, makeCanvas } from "./lib/plot.js";
import { makeRng } from "./lib/rng.js";
import { ancestral, ddim, guided, normalFiller, solveODE } from "./lib/samplers.js";
import { ddpmCoefficients } from "./lib/schedules.js";
import { button, frame, onResize, publish, select, setKnobs, slider, deferred } from "./lib/ui.js";

const N = 1000; // samples per panel
const SCHEDULES = ["linear", "cosine"];
const TARGETS = ["eps", "x0", "v"];
const T_SCALES = ["1000", "1"];
const MOONS = { 0: "upper moon", 1: "lower moon" };

const bakedName = (schedule, target, tScale) => `ddpm-${schedule}-${target}-t${tScale}`;

export async function mount(root) {
  const names = SCHEDULES.flatMap((s) => TARGETS.flatMap((g) => T_SCALES.map((ts) => bakedName(s, g, ts))));
  const files = await Promise.all([...names, "fm-cond", "moons"].map(loadBaked));
  const nets = Object.fromEntries(names.map((n, i) => [n, new MLP(files[i])]));
  const condNet = new MLP(files[names.length]);
  const ref = reference(files[names.length + 1]);
  const coefs = Object.fromEntries(SCHEDULES.map((s) => [s, ddpmCoefficients(s, 1000)]));

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
  const noise = gaussian(makeRng(9), N);
  // each panel's samples are kept by their own knobs: moving the guidance never reruns the
  // DDPM chain, and a setting seen before redraws at once
  const memo = new Map();
  const cached = (key, make) => {
    if (!memo.has(key)) memo.set(key, make());
    if (memo.size > 64) memo.delete(memo.keys().next().value);
    return memo.get(key);
  };

  function redraw() {
    const name = bakedName(schedule.value, target.value, tScale.value);
    const net = nets[name];
    const { x, nfe, s } = cached(`ddpm/${name}/${sampler.value}/${steps.value}`, () => {
      const xs = noise.slice();
      const opts = { alphasCumprod: coefs[schedule.value].alphas_cumprod, target: target.value, steps: Number(steps.value) };
      const normal = normalFiller(makeRng(10));
      const used = sampler.value === "ancestral" ? ancestral(guided(net), xs, N, { ...opts, normal }) : ddim(guided(net), xs, N, opts);
      return { x: xs, nfe: used, s: score(xs, N, ref) };
    });

    const y = Number(label.value);
    const w = Number(weight.value);
    const { g, sg } = cached(`guided/${y}/${w}`, () => {
      const gs = noise.slice();
      solveODE(guided(condNet, y, w), gs, N, 8, "rk4");
      return { g: gs, sg: score(gs, N, ref) };
    });

    left.fit().axes();
    drawReference(left, ref);
    drawCloud(left, x, N, { color: COLORS.path });
    left.text(name, [left.xlim[0], left.ylim[1]], { dx: 8, dy: 14, align: "left" });
    right.fit().axes();
    drawReference(right, ref);
    drawCloud(right, g, N, { color: COLORS.alt });
    right.text(`w = ${w}, ${MOONS[y]}`, [right.xlim[0], right.ylim[1]], { dx: 8, dy: 14, align: "left" });
    readout.textContent =
      `DDPM panel: ${(100 * s.off_data).toFixed(1)}% off the data (${nfe} evaluations). Guided panel: ` +
      `${(100 * sg.mode_mass[y]).toFixed(1)}% on the ${MOONS[y]}, ${(100 * sg.off_data).toFixed(1)}% off the data.`;
    publish(root, {
      schedule: schedule.value, target: target.value, t_scale: tScale.value, sampler: sampler.value,
      steps: Number(steps.value), label: label.value, guidance: w, model: name, nfe, off_data: s.off_data,
      mode_mass: s.mode_mass, guided_on_label: sg.mode_mass[y], guided_off_data: sg.off_data,
    });
  }

  root.addEventListener("input", deferred(root, redraw));
  onResize(redraw);
  redraw();
}
