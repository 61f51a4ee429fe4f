// Lesson 02: the forward chain on the standardized moons. The scatter is x_k drawn from the closed
// form x_k = sqrt(abar_k) x0 + sqrt(1 - abar_k) eps (fixed eps, so moving k morphs one cloud);
// the curve below is abar over the whole chain with the current k marked.
import { COLORS, Plot, makeCanvas } from "./lib/plot.js";
import { makeRng, moons } from "./lib/rng.js";
import { SCHEDULES, ddpmCoefficients, qSample } from "./lib/schedules.js";
import { button, frame, onResize, publish, select, setKnobs, slider } from "./lib/ui.js";

const N = 400;

export function mount(root) {
  const { knobs, stage, readout } = frame(root, "The forward chain: data to noise");
  const schedule = select(knobs, { name: "schedule", label: "schedule", options: SCHEDULES, value: "linear" });
  const T = slider(knobs, { name: "T", label: "T", min: 10, max: 1000, step: 10, value: 1000 });
  const k = slider(knobs, { name: "k", label: "k", min: 0, max: 999, step: 1, value: 250 });
  button(knobs, { action: "failure", label: "failure: linear, T = 50" }).addEventListener("click", () =>
    setKnobs(root, { schedule: "linear", T: 50, k: 49 }),
  );
  const scatter = new Plot(makeCanvas(stage, { aspect: 0.7, label: "the noised cloud x_k" }), { xlim: [-3.5, 3.5], ylim: [-2.45, 2.45] });
  const curve = new Plot(makeCanvas(stage, { aspect: 0.3, label: "alpha-bar over the chain" }), { xlim: [0, 1], ylim: [0, 1] });
  const x0 = moons(N, 0.05, 2);
  const eps = makeRng(11).normals(N, 2);

  function draw(event) {
    const Tv = Number(T.value);
    const wasAtEnd = Number(k.value) >= Number(k.max);
    k.max = String(Tv - 1);
    // keep k at the end of the chain when T changes there, else clamp it into the new range
    if (event?.target === T && wasAtEnd) k.value = String(Tv - 1);
    k.dispatchEvent(new Event("sync"));
    const kv = Math.min(Number(k.value), Tv - 1);
    const c = ddpmCoefficients(schedule.value, Tv);
    const abar = c.alphas_cumprod[kv];
    const xk = x0.map((p, i) => qSample(c, p, kv, eps[i]));
    scatter.fit().axes();
    scatter.points(x0, { color: COLORS.data, r: 1.2, alpha: 0.2 });
    scatter.points(xk, { color: COLORS.path, r: 2 });
    scatter.text(`k = ${kv} of ${Tv}`, [scatter.xlim[1], scatter.ylim[1]], { dx: -6, dy: 14, align: "right" });
    curve.xlim = [0, Tv - 1 || 1];
    curve.fit().axes({ xlabel: "k", ylabel: "ᾱ_k" });
    curve.line(Array.from(c.alphas_cumprod, (a, i) => [i, a]), { color: COLORS.path, width: 2 });
    curve.points([[kv, abar]], { color: COLORS.data, r: 4, alpha: 1 });
    const end = c.alphas_cumprod[Tv - 1];
    const std = Math.sqrt(xk.flat().reduce((a, v) => a + v * v, 0) / (2 * N));
    readout.textContent = `ᾱ_k = ${abar.toPrecision(3)}; at the end of the chain ᾱ = ${end.toPrecision(3)} (signal kept: ${Math.sqrt(end).toPrecision(2)})`;
    publish(root, { schedule: schedule.value, T: Tv, k: kv, alpha_bar: abar, alpha_bar_end: end,
      signal_end: Math.sqrt(end), rms: std });
  }
  root.addEventListener("input", draw);
  onResize(draw);
  draw();
}
