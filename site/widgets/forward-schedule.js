// Lesson 02: the forward chain on the standardized moons. The scatter is x_k drawn from the closed
// form x_k = sqrt(ᾱ_k) x0 + sqrt(1 - ᾱ_k) eps (fixed eps, so moving k morphs one cloud), each point
// coloured by the moon it started on; the curve is ᾱ over the whole chain with the current k marked.
// Below, the chain's true end x_T beside the prior N(0, I) the sampler starts from: where the
// chain is too short the end still remembers the moons (the colours stay apart) and the two differ.
import { COLORS, Plot, makeCanvas } from "./lib/plot.js";
import { makeRng, moons } from "./lib/rng.js";
import { SCHEDULES, ddpmCoefficients, qSample } from "./lib/schedules.js";
import { button, frame, onResize, publish, select, setKnobs, slider, deferred } from "./lib/ui.js";

const N = 400;
const UPPER = N / 2; // rawMoons: the first half of the points is the upper moon
const moonColor = (i) => (i < UPPER ? COLORS.data : COLORS.alt);

/** Share of points a nearest-class-mean rule assigns to the moon they came from: 0.5 when x has
 * forgotten the data, near 1 while the moons are still apart. */
function rememberedShare(xs) {
  const mean = (a, b) => [0, 1].map((d) => xs.slice(a, b).reduce((s, p) => s + p[d], 0) / (b - a));
  const [mu, ml] = [mean(0, UPPER), mean(UPPER, N)];
  const d2 = (p, m) => (p[0] - m[0]) ** 2 + (p[1] - m[1]) ** 2;
  return xs.filter((p, i) => (d2(p, mu) < d2(p, ml)) === (i < UPPER)).length / N;
}

function panel(parent, label) {
  const div = document.createElement("div");
  parent.appendChild(div);
  return new Plot(makeCanvas(div, { aspect: 0.75, label }), { xlim: [-3.5, 3.5], ylim: [-2.6, 2.6], pad: 18 });
}

export function mount(root) {
  const { knobs, stage, readout } = frame(root, "The forward chain: data to noise");
  const schedule = select(knobs, { name: "schedule", label: "schedule", options: SCHEDULES, value: "linear" });
  const T = slider(knobs, { name: "T", label: "T", min: 10, max: 1000, step: 10, value: 1000 });
  const k = slider(knobs, { name: "k", label: "k", min: 1, max: 1000, step: 1, value: 250 });
  button(knobs, { action: "failure", label: "failure: linear, T = 50" }).addEventListener("click", () =>
    setKnobs(root, { schedule: "linear", T: 50, k: 50 }),
  );
  const scatter = new Plot(makeCanvas(stage, { aspect: 0.7, label: "the noised cloud x_k" }), { xlim: [-3.5, 3.5], ylim: [-2.45, 2.45] });
  const curve = new Plot(makeCanvas(stage, { aspect: 0.3, label: "alpha-bar over the chain" }), { xlim: [0, 1], ylim: [0, 1] });
  const ends = document.createElement("div");
  ends.className = "two-up";
  stage.appendChild(ends);
  const endPlot = panel(ends, "the chain's end x_T");
  const priorPlot = panel(ends, "the prior N(0, I)");
  const x0 = moons(N, 0.05, 2);
  const eps = makeRng(11).normals(N, 2);
  const prior = makeRng(12).normals(N, 2);

  let lastT = Number(T.value);
  function draw() {
    const Tv = Number(T.value);
    const wasAtEnd = Number(k.value) >= lastT;
    k.max = String(Tv);
    // keep k at the end of the chain when T changes there, else clamp it into the new range
    if (Tv !== lastT && wasAtEnd) k.value = String(Tv);
    lastT = Tv;
    k.dispatchEvent(new Event("sync"));
    const kv = Math.min(Number(k.value), Tv); // k = 1..T as in the lesson; ᾱ_0 = 1 is the data
    const c = ddpmCoefficients(schedule.value, Tv);
    const abar = c.alphas_cumprod[kv - 1];
    const xk = x0.map((p, i) => qSample(c, p, kv - 1, eps[i]));
    const xT = x0.map((p, i) => qSample(c, p, Tv - 1, eps[i]));
    scatter.fit().axes();
    scatter.points(x0, { color: COLORS.grid, r: 1.2, alpha: 0.6 });
    scatter.points(xk, { color: moonColor, r: 2 });
    scatter.text(`k = ${kv} of ${Tv}`, [scatter.xlim[1], scatter.ylim[1]], { dx: -6, dy: 14, align: "right" });
    curve.xlim = [0, Tv];
    curve.fit().axes({ xlabel: "k", ylabel: "ᾱ_k" });
    curve.line([[0, 1], ...Array.from(c.alphas_cumprod, (a, i) => [i + 1, a])], { color: COLORS.path, width: 2 });
    curve.points([[kv, abar]], { color: COLORS.data, r: 4, alpha: 1 });
    const end = c.alphas_cumprod[Tv - 1];
    const [endShare, priorShare] = [rememberedShare(xT), rememberedShare(prior)];
    endPlot.fit().axes();
    endPlot.points(xT, { color: moonColor, r: 1.6 });
    endPlot.text(`chain's end, k = T: ᾱ_T = ${end.toPrecision(2)}`, [endPlot.xlim[0], endPlot.ylim[1]], { dx: 4, dy: 12, align: "left", size: 11 });
    priorPlot.fit().axes();
    priorPlot.points(prior, { color: COLORS.noise, r: 1.6 });
    priorPlot.text("the prior N(0, I): where sampling starts", [priorPlot.xlim[0], priorPlot.ylim[1]], { dx: 4, dy: 12, align: "left", size: 11 });
    const std = Math.sqrt(xk.flat().reduce((a, v) => a + v * v, 0) / (2 * N));
    readout.textContent =
      `ᾱ_k = ${abar.toPrecision(3)}; at the end of the chain ᾱ_T = ${end.toPrecision(3)} (signal kept: ` +
      `${Math.sqrt(end).toPrecision(2)}). The end still tells the moons apart for ${Math.round(100 * endShare)}% ` +
      `of points (50% = forgotten); a sampler that starts from the prior starts somewhere the chain never ends.`;
    publish(root, { schedule: schedule.value, T: Tv, k: kv, alpha_bar: abar, alpha_bar_end: end,
      signal_end: Math.sqrt(end), rms: std, end_remembers: endShare, prior_remembers: priorShare });
  }
  root.addEventListener("input", deferred(root, draw));
  onResize(draw);
  draw();
}
