// Lesson 03: the ELBO as a weighted eps-regression. Term k of the ELBO (k >= 1) equals
// lambda_k |eps - eps_theta|^2 with lambda_k = beta_k^2 / (2 sigma_k^2 alpha_k (1 - abar_k)),
// sigma_k^2 = beta_k or beta-tilde_k. L_simple drops lambda: every k weighs the same.
// Shown normalized to mean 1 over k = 1..T-1 so the flat line of L_simple sits at 1.
// The target knob adds what L_simple on another target weighs in eps units (x0: 1 / SNR_k,
// v: 1 / abar_k) and shows samples of a model trained on it (site/bake.py's target-samples).
import { drawCloud, drawReference, reference, score } from "./lib/cloud.js";
import { loadBaked } from "./lib/mlp.js";
import { COLORS, Plot, makeCanvas } from "./lib/plot.js";
import { SCHEDULES, ddpmCoefficients } from "./lib/schedules.js";
import { button, checkbox, frame, onResize, publish, select, setKnobs, slider, deferred } from "./lib/ui.js";

const TARGET_LABELS = { eps: "ε", v: "v", x0: "x₀" };

/** lambda_k for k = 1..T-1 (k = 0 is the decoder term, outside this sum). */
export function elboWeights(schedule, T, variance) {
  const c = ddpmCoefficients(schedule, T);
  const w = [];
  for (let k = 1; k < T; k++) {
    const s2 = variance === "beta" ? c.betas[k] : c.posterior_variance[k];
    w.push(c.betas[k] ** 2 / (2 * s2 * c.alphas[k] * (1 - c.alphas_cumprod[k])));
  }
  return w;
}

/** The weight L_simple on `target` puts on |eps - eps_theta|^2 at k = 1..T-1: an x0 error is the
 * eps error times sqrt((1 - abar) / abar), a v error the eps error over sqrt(abar). */
export function targetWeights(schedule, T, target) {
  const { alphas_cumprod: abar } = ddpmCoefficients(schedule, T);
  const w = [];
  for (let k = 1; k < T; k++) w.push(target === "eps" ? 1 : target === "v" ? 1 / abar[k] : (1 - abar[k]) / abar[k]);
  return w;
}

const normalized = (w) => {
  const mean = w.reduce((a, b) => a + b, 0) / w.length;
  return w.map((v) => v / mean);
};

export async function mount(root) {
  const [baked, moons] = await Promise.all([loadBaked("target-samples"), loadBaked("moons")]);
  const ref = reference(moons);
  const arms = Object.fromEntries(baked.arms.map((a) => [a.target, { ...a, x: Float64Array.from(a.points.flat()) }]));
  for (const a of Object.values(arms)) a.score = score(a.x, baked.n, ref); // what the panel shows
  const { knobs, stage, readout } = frame(root, "Per-step weights: the ELBO vs L_simple, and each target's samples");
  const schedule = select(knobs, { name: "schedule", label: "schedule", options: SCHEDULES, value: "linear" });
  const variance = select(knobs, { name: "variance", label: "σ²", options: ["beta", "beta_tilde"], value: "beta", labels: { beta: "β", beta_tilde: "β̃" } });
  const T = slider(knobs, { name: "T", label: "T", min: 50, max: 1000, step: 50, value: 1000 });
  const log = checkbox(knobs, { name: "log", label: "log scale", checked: true });
  const target = select(knobs, { name: "target", label: "L_simple on", options: baked.targets, value: "eps", labels: TARGET_LABELS });
  // the x0 target weighs the clean end by SNR_k less than eps does: the last, finest steps of
  // the chain are barely trained, and the samples come out blurred off the moons
  button(knobs, { action: "failure", label: "failure: the x₀ target" }).addEventListener("click", () =>
    setKnobs(root, { schedule: "linear", variance: "beta", T: 1000, log: true, target: "x0" }),
  );
  const pair = document.createElement("div");
  pair.className = "two-up"; // side by side on a wide screen, stacked on a phone
  stage.appendChild(pair);
  const cell = () => pair.appendChild(document.createElement("div"));
  const plot = new Plot(makeCanvas(cell(), { aspect: 0.75, label: "weights per step" }), { pad: 34 });
  const samples = new Plot(makeCanvas(cell(), { aspect: 0.75, label: "samples of the chosen target's model" }), {
    xlim: [-3, 3], ylim: [-2.25, 2.25],
  });

  function drawWeights() {
    const Tv = Number(T.value);
    const norm = normalized(elboWeights(schedule.value, Tv, variance.value));
    const mine = normalized(targetWeights(schedule.value, Tv, target.value));
    const top = Math.ceil(norm.length / 10);
    const topShare = [...norm].sort((a, b) => b - a).slice(0, top).reduce((a, b) => a + b, 0) / norm.length;
    // the cleanest tenth of the steps: the target's share of its weight there (eps: 10%)
    const cleanShare = mine.slice(0, top).reduce((a, b) => a + b, 0) / mine.length;
    const f = log.checked ? Math.log10 : (v) => v;
    const ys = norm.map(f);
    const ts = mine.map(f);
    const all = [...ys, ...ts];
    plot.xlim = [1, Tv - 1];
    plot.ylim = log.checked ? [Math.min(-1, Math.floor(Math.min(...all))), Math.max(1, Math.ceil(Math.max(...all)))] : [0, Math.max(1.2, ...ys) * 1.05];
    plot.fit().axes({ xlabel: "k (noisier to the right)", ylabel: log.checked ? "log10" : "" });
    plot.line(ys.map((y, i) => [i + 1, y]), { color: COLORS.path, width: 2 });
    plot.line([[1, f(1)], [Tv - 1, f(1)]], { color: COLORS.data, width: 2, dash: [6, 4] });
    if (target.value !== "eps") plot.line(ts.map((y, i) => [i + 1, y]), { color: COLORS.alt, width: 2 });
    plot.text("ELBO λ_k / mean", [Tv - 1, plot.ylim[1]], { dx: -4, dy: 14, align: "right", color: COLORS.path });
    plot.text(`L_simple on ${TARGET_LABELS[target.value]}, in ε units`, [1, plot.ylim[0]], { dx: 4, dy: -6, align: "left", color: target.value === "eps" ? COLORS.data : COLORS.alt });
    const argmax = norm.indexOf(Math.max(...norm)) + 1;
    return { T: Tv, top10_share: topShare, max_over_mean: Math.max(...norm), argmax, clean_share: cleanShare };
  }

  function drawSamples() {
    const arm = arms[target.value];
    samples.fit().axes();
    drawReference(samples, ref);
    drawCloud(samples, arm.x, baked.n, { color: target.value === "x0" ? COLORS.alt : COLORS.path });
    const where = `L_simple on ${TARGET_LABELS[arm.target]}: ${baked.steps} ancestral steps, ${baked.schedule} β, T = 1000`;
    samples.text(where, [samples.xlim[0], samples.ylim[1]], { dx: 8, dy: 14, align: "left" });
    return { off_data: arm.score.off_data, w2_ratio: arm.ratio };
  }

  function draw() {
    const w = drawWeights();
    const s = drawSamples();
    const name = TARGET_LABELS[target.value];
    readout.textContent =
      `the heaviest 10% of steps carry ${(100 * w.top10_share).toFixed(0)}% of the ELBO's weight (L_simple: 10%); ` +
      `largest at k = ${w.argmax}. L_simple on ${name} puts ${(100 * w.clean_share).toPrecision(2)}% of its weight on ` +
      `the cleanest 10% of steps; its samples: ${(100 * s.off_data).toFixed(1)}% off the moons, ` +
      `W2 ${s.w2_ratio.toFixed(2)}x a perfect sampler's`;
    publish(root, { schedule: schedule.value, variance: variance.value, log: log.checked, target: target.value, ...w, ...s });
  }
  root.addEventListener("input", deferred(root, draw));
  onResize(draw);
  draw();
}
