// Lesson 04: the reverse chain of a baked DDPM MLP (linear betas, T = 1000, eps target), run on
// an evenly respaced subset of steps as diffusion.py does. Choose the chain's variance
// (sigma^2 = beta or beta-tilde) and its length, then scrub through the chain from noise to data.
import { drawCloud, drawReference, gaussian, reference, score } from "./lib/cloud.js";
import { loadBaked, MLP } from "./lib/mlp.js";
import { COLORS, Plot, makeCanvas } from "./lib/plot.js";
import { makeRng } from "./lib/rng.js";
import { ancestral, guided, normalFiller } from "./lib/samplers.js";
import { ddpmCoefficients, respaced } from "./lib/schedules.js";
import { button, frame, onResize, publish, select, setKnobs, slider } from "./lib/ui.js";

const N = 1000; // chains run side by side

export async function mount(root) {
  const [baked, moons] = await Promise.all([loadBaked("ddpm-linear-eps-t1000"), loadBaked("moons")]);
  const net = new MLP(baked);
  const ref = reference(moons);
  const { schedule, T, target } = net.method;
  const coefs = ddpmCoefficients(schedule, T);
  const { knobs, stage, readout } = frame(root, "The reverse chain of a trained DDPM");
  const variance = select(knobs, {
    name: "variance", label: "sigma^2", options: ["beta", "beta_tilde"], value: "beta",
    labels: { beta: "beta", beta_tilde: "beta-tilde" },
  });
  const steps = slider(knobs, { name: "steps", label: "steps", min: 2, max: 1000, step: 1, value: 100 });
  const progress = slider(knobs, {
    name: "progress", label: "chain done", min: 0, max: 1, step: 0.01, value: 1, format: (v) => `${Math.round(100 * v)}%`,
  });
  button(knobs, { action: "failure", label: "failure: 5 steps, sigma^2 = beta" }).addEventListener("click", () =>
    setKnobs(root, { variance: "beta", steps: 5, progress: 1 }),
  );
  const plot = new Plot(makeCanvas(stage, { aspect: 0.75, label: "the chain's points" }), {
    xlim: [-3, 3], ylim: [-2.25, 2.25],
  });
  const xT = gaussian(makeRng(4), N);
  let cache = { key: "", traj: null, nfe: 0, ks: [] };

  /** Run (or reuse) the chain for the current variance and length, keeping every state. */
  function chain() {
    const key = `${variance.value}/${steps.value}`;
    if (cache.key !== key) {
      const x = xT.slice();
      const traj = [xT.slice()];
      const nfe = ancestral(guided(net), x, N, {
        alphasCumprod: coefs.alphas_cumprod, target, steps: Number(steps.value), variance: variance.value,
        normal: normalFiller(makeRng(5)), traj,
      });
      cache = { key, traj, nfe, ks: respaced(T, Number(steps.value)) };
    }
    return cache;
  }

  function redraw() {
    const { traj, nfe, ks } = chain();
    const at = Math.round(Number(progress.value) * (traj.length - 1)); // states done
    const x = traj[at];
    const k = at < ks.length ? ks[ks.length - 1 - at] : -1; // the step the shown state came from
    const s = score(x, N, ref);
    plot.fit().axes();
    drawReference(plot, ref);
    drawCloud(plot, x, N, { color: at === traj.length - 1 ? COLORS.path : COLORS.noise });
    const where = k >= 0 ? `x at step k = ${k} (alpha-bar ${coefs.alphas_cumprod[k].toFixed(3)})` : "x_0, the samples";
    plot.text(where, [plot.xlim[0], plot.ylim[1]], { dx: 8, dy: 14, align: "left" });
    readout.textContent =
      `${ks.length}-step chain, sigma^2 = ${variance.value === "beta" ? "beta" : "beta-tilde"}: ` +
      `${(100 * s.off_data).toFixed(1)}% off the data, RMS radius ${s.rms.toFixed(2)}`;
    publish(root, { variance: variance.value, steps: Number(steps.value), progress: Number(progress.value),
      nfe, k, n: N, off_data: s.off_data, rms: s.rms, mode_mass: s.mode_mass });
  }

  root.addEventListener("input", redraw);
  onResize(redraw);
  redraw();
}
