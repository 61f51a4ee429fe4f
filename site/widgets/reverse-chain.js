// Lesson 04: the reverse chain of a baked DDPM MLP (linear betas, T = 1000, eps target), run on
// an evenly respaced subset of steps as diffusion.py does. Choose the chain's variance
// (σ² = β or β̃) and its length, then scrub through the chain from noise to data.
// The chain runs in a worker (lib/chain-worker.js) so no knob ever waits for it: the page keeps
// the last chains it got, asks for the newest setting only, and shows the old one, greyed, meanwhile.
import { drawCloud, drawReference, reference, score } from "./lib/cloud.js";
import { loadBaked } from "./lib/mlp.js";
import { COLORS, Plot, makeCanvas } from "./lib/plot.js";
import { ddpmCoefficients, respaced } from "./lib/schedules.js";
import { button, frame, onResize, player, publish, select, setKnobs, slider } from "./lib/ui.js";

const N = 1000; // chains run side by side
const MODEL = "ddpm-linear-eps-t1000";
const KEEP = 6; // chains kept for instant return to a recent setting

export async function mount(root) {
  const ref = reference(await loadBaked("moons"));
  const T = 1000; // MODEL's chain: linear betas, T = 1000
  const coefs = ddpmCoefficients("linear", T);
  const { knobs, stage, readout } = frame(root, "The reverse chain of a trained DDPM");
  const variance = select(knobs, {
    name: "variance", label: "σ²", options: ["beta", "beta_tilde"], value: "beta",
    labels: { beta: "β", beta_tilde: "β̃ (beta-tilde)" },
  });
  const steps = slider(knobs, { name: "steps", label: "steps", min: 2, max: 1000, step: 1, value: 100 });
  const progress = slider(knobs, {
    name: "progress", label: "chain done", min: 0, max: 1, step: 0.01, value: 1, format: (v) => `${Math.round(100 * v)}%`,
  });
  player(knobs, root, progress);
  button(knobs, { action: "failure", label: "failure: 5 steps, σ² = β" }).addEventListener("click", () =>
    setKnobs(root, { variance: "beta", steps: 5, progress: 1 }),
  );
  const plot = new Plot(makeCanvas(stage, { aspect: 0.75, label: "the chain's points" }), {
    xlim: [-3, 3], ylim: [-2.25, 2.25],
  });

  const worker = new Worker(new URL("./lib/chain-worker.js", import.meta.url), { type: "module" });
  const chains = new Map(); // "variance/steps" -> {states, nfe, ks}, most recent last
  let running = null; // the key the worker is computing
  let shown = null; // the last chain drawn (stale while a new one computes)
  const keyOf = () => `${variance.value}/${steps.value}`;

  function ask(key) {
    if (running !== null) return; // one at a time; the newest setting is asked for when it ends
    running = key;
    const [v, s] = key.split("/");
    worker.postMessage({ id: key, model: MODEL, steps: Number(s), variance: v, seedX: 4, seedZ: 5, n: N });
  }

  worker.onmessage = ({ data }) => {
    running = null;
    if (data.error) {
      root.dataset.busy = "error";
      readout.textContent = `the chain failed: ${data.error}`;
      console.error("reverse-chain worker:", data.error);
      return;
    }
    const [, s] = data.id.split("/");
    chains.set(data.id, { states: data.states, nfe: data.nfe, ks: respaced(T, Number(s)) });
    while (chains.size > KEEP) chains.delete(chains.keys().next().value);
    redraw();
  };

  function redraw() {
    const key = keyOf();
    const chain = chains.get(key);
    if (chain) {
      chains.delete(key); // most recently used last
      chains.set(key, chain);
      shown = chain;
      delete root.dataset.busy;
    } else {
      ask(key);
      root.dataset.busy = "true";
    }
    draw(chain === undefined);
  }

  function draw(stale) {
    plot.fit().axes();
    drawReference(plot, ref);
    const knobsNow = { variance: variance.value, steps: Number(steps.value), progress: Number(progress.value) };
    if (shown === null) {
      plot.text("running the chain…", [0, 0], { color: COLORS.noise });
      readout.textContent = "running the chain…";
      publish(root, { ...knobsNow, pending: true });
      return;
    }
    const { states, nfe, ks } = shown;
    const count = states.length / (2 * N);
    const at = Math.round(Number(progress.value) * (count - 1)); // states done
    const x = states.subarray(at * 2 * N, (at + 1) * 2 * N);
    const k = at < ks.length ? ks[ks.length - 1 - at] : -1; // the step the shown state came from
    const s = score(x, N, ref);
    const color = stale ? COLORS.noise : at === count - 1 ? COLORS.path : COLORS.noise;
    drawCloud(plot, x, N, { color, alpha: stale ? 0.3 : 0.75 });
    const where = k >= 0 ? `x_k at k = ${k + 1} of ${T} (ᾱ = ${coefs.alphas_cumprod[k].toFixed(3)})` : "x₀, the samples";
    plot.text(stale ? `computing the ${steps.value}-step chain…` : where, [plot.xlim[0], plot.ylim[1]], { dx: 8, dy: 14, align: "left" });
    const sig = variance.value === "beta" ? "β" : "β̃";
    readout.textContent = stale
      ? `computing the ${steps.value}-step chain (σ² = ${sig}) in the background…`
      : `${ks.length}-step chain, σ² = ${sig}: ${(100 * s.off_data).toFixed(1)}% off the data, RMS radius ${s.rms.toFixed(2)}`;
    const computed = stale ? { pending: true } : { nfe, k, n: N, off_data: s.off_data, rms: s.rms, mode_mass: s.mode_mass };
    publish(root, { ...knobsNow, ...computed });
  }

  root.addEventListener("input", redraw);
  onResize(redraw);
  redraw();
}
