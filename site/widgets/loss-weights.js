// Lesson 03: the ELBO as a weighted eps-regression. Term k of the ELBO (k >= 1) equals
// lambda_k |eps - eps_theta|^2 with lambda_k = beta_k^2 / (2 sigma_k^2 alpha_k (1 - abar_k)),
// sigma_k^2 = beta_k or beta-tilde_k. L_simple drops lambda: every k weighs the same.
// Shown normalized to mean 1 over k = 1..T-1 so the flat line of L_simple sits at 1.
import { COLORS, Plot, makeCanvas } from "./lib/plot.js";
import { SCHEDULES, ddpmCoefficients } from "./lib/schedules.js";
import { button, checkbox, frame, onResize, publish, select, setKnobs, slider, deferred } from "./lib/ui.js";

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

export function mount(root) {
  const { knobs, stage, readout } = frame(root, "Per-step weights: the ELBO vs L_simple");
  const schedule = select(knobs, { name: "schedule", label: "schedule", options: SCHEDULES, value: "linear" });
  const variance = select(knobs, { name: "variance", label: "σ²", options: ["beta", "beta_tilde"], value: "beta", labels: { beta: "β", beta_tilde: "β̃" } });
  const T = slider(knobs, { name: "T", label: "T", min: 50, max: 1000, step: 50, value: 1000 });
  const log = checkbox(knobs, { name: "log", label: "log scale", checked: true });
  button(knobs, { action: "failure", label: "failure: most lopsided" }).addEventListener("click", () =>
    setKnobs(root, { schedule: "cosine", variance: "beta", T: 1000, log: false }),
  );
  const plot = new Plot(makeCanvas(stage, { aspect: 0.55, label: "weights per step" }), { pad: 34 });

  function draw() {
    const Tv = Number(T.value);
    const w = elboWeights(schedule.value, Tv, variance.value);
    const mean = w.reduce((a, b) => a + b, 0) / w.length;
    const norm = w.map((v) => v / mean);
    const top = Math.ceil(norm.length / 10);
    const topShare = [...norm].sort((a, b) => b - a).slice(0, top).reduce((a, b) => a + b, 0) / norm.length;
    const f = log.checked ? Math.log10 : (v) => v;
    const ys = norm.map(f);
    plot.xlim = [1, Tv - 1];
    plot.ylim = log.checked ? [Math.min(-1, Math.floor(Math.min(...ys))), Math.max(1, Math.ceil(Math.max(...ys)))] : [0, Math.max(1.2, ...ys) * 1.05];
    plot.fit().axes({ xlabel: "k (noisier to the right)", ylabel: log.checked ? "log10" : "" });
    plot.line(ys.map((y, i) => [i + 1, y]), { color: COLORS.path, width: 2 });
    plot.line([[1, f(1)], [Tv - 1, f(1)]], { color: COLORS.data, width: 2, dash: [6, 4] });
    plot.text("ELBO λ_k / mean", [Tv - 1, plot.ylim[1]], { dx: -4, dy: 14, align: "right", color: COLORS.path });
    plot.text("L_simple (flat)", [(1 + Tv) / 4, f(1)], { dy: -6, color: COLORS.data });
    const argmax = norm.indexOf(Math.max(...norm)) + 1;
    readout.textContent = `the heaviest 10% of steps carry ${(100 * topShare).toFixed(0)}% of the ELBO's weight (L_simple: 10%); largest at k = ${argmax}`;
    publish(root, { schedule: schedule.value, variance: variance.value, T: Tv, log: log.checked,
      top10_share: topShare, max_over_mean: Math.max(...norm), argmax });
  }
  root.addEventListener("input", deferred(root, draw));
  onResize(draw);
  draw();
}
