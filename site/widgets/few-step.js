// Lesson 09: few-step sampling. Pick a method (base flow matching, OT-CFM ours and torchcfm's,
// reflow, the consistency-distilled student by Euler or by re-noising, DDPM with DDIM) and a
// budget of 1, 2, 4 or 8 network evaluations; the picture is what the lab's own runs (first
// training seed) drew: samples (blue) over true moons (orange) and the solver's intermediate
// states of the first few samples (thin lines from the grey noise dot). The readout gives that
// method's W2/floor and D at this NFE, its straightness and its training CPU, medians over the
// lab's training seeds. Data: site/baked/few-step.json, cut from
// benchmarks/results/exp14_few_step*.json by site/bake_few_step.py.
import { loadBaked } from "./lib/mlp.js";
import { COLORS, Plot, makeCanvas } from "./lib/plot.js";
import { button, deferred, frame, onResize, publish, select, setKnobs } from "./lib/ui.js";

const XLIM = [-3, 3];
const YLIM = [-2.25, 2.25];
const FAIL = { method: "base FM", nfe: "1" }; // one Euler step of the base field: the mean

/** RMS distance of points to their own centroid: a cloud collapsed onto the mean scores ~0. */
function spread(pts) {
  const m = [0, 1].map((j) => pts.reduce((s, p) => s + p[j], 0) / pts.length);
  return Math.sqrt(pts.reduce((s, p) => s + (p[0] - m[0]) ** 2 + (p[1] - m[1]) ** 2, 0) / pts.length);
}

const inFrame = (p) => p[0] >= XLIM[0] && p[0] <= XLIM[1] && p[1] >= YLIM[0] && p[1] <= YLIM[1];
const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;
const fmt = (v, d = 2) => (v === null || v === undefined ? "not recorded" : v.toFixed(d));

function describe(name, k, a) {
  const band = a.divergence_band;
  const d = a.divergence
    ? `D ${fmt(a.divergence[k], 1)} (a perfect sampler: ${band[0].toFixed(1)} to ${band[1].toFixed(1)})`
    : "D not in exp14's results yet (re-run exp14)";
  return (
    `${name} at ${k} NFE (${a.sampler}): W2 ${fmt(a.ratio[k])}x the floor, ${d}; ` +
    `straightness ${a.straightness.toExponential(1)} (mean squared deviation from the chord, ` +
    `0 = straight lines); training CPU ${fmt(a.cpu_vs_base)}x the base run's.`
  );
}

export async function mount(root) {
  const baked = await loadBaked("few-step");
  const names = Object.keys(baked.arms);
  const spreadData = spread(baked.data);
  const { knobs, stage, readout } = frame(root, "Few-step sampling: samples and trajectories per method and NFE");
  const method = select(knobs, { name: "method", label: "method", options: names, value: names.includes("reflow") ? "reflow" : names[0] });
  const nfe = select(knobs, { name: "nfe", label: "NFE", options: baked.nfes, value: baked.nfes[0] });
  button(knobs, { action: "failure", label: "failure: base FM, 1 NFE (the mean)" }).addEventListener("click", () =>
    setKnobs(root, FAIL),
  );
  const plot = new Plot(makeCanvas(stage, { aspect: 0.75, label: "samples and trajectories over the moons" }), {
    xlim: XLIM,
    ylim: YLIM,
  });

  function draw() {
    const a = baked.arms[method.value];
    const k = nfe.value;
    const ex = a.examples[k];
    plot.fit().axes();
    plot.points(baked.data, { color: COLORS.data, r: 1.6, alpha: 0.35 });
    for (const path of ex.paths) {
      plot.line(path, { color: COLORS.ink, width: 0.8 });
      plot.points([path[0]], { color: COLORS.noise, r: 1.8, alpha: 0.9 });
      plot.points(path.slice(1, -1), { color: COLORS.ink, r: 1.2, alpha: 0.7 }); // the solver's stops
    }
    plot.points(ex.samples, { color: COLORS.path, r: 1.8, alpha: 0.75 });
    const s = spread(ex.samples);
    const outside = ex.samples.filter((p) => !inFrame(p)).length;
    plot.text(`${method.value}, ${k} NFE`, [XLIM[0], YLIM[1]], { dx: 6, dy: 14, align: "left", size: 11 });
    readout.textContent =
      describe(method.value, k, a) +
      ` Picture: seed ${baked.examples_seed}'s runs, ${ex.samples.length} samples` +
      (outside ? `, ${outside} outside the frame` : "") +
      `; their spread is ${(s / spreadData).toFixed(2)}x the data's. Numbers: medians over ` +
      `${plural(baked.training_seeds.length, "training seed")} x ${plural(baked.eval_seeds, "evaluation seed")}.`;
    publish(root, {
      method: method.value,
      nfe: k,
      sampler: a.sampler,
      ratio: a.ratio[k],
      divergence: a.divergence ? a.divergence[k] : null,
      straightness: a.straightness,
      cpu_vs_base: a.cpu_vs_base,
      spread: s,
      data_spread: spreadData,
      outside_frame: outside,
      n_samples: ex.samples.length,
      n_paths: ex.paths.length,
      path_states: ex.paths[0].length,
    });
  }

  root.addEventListener("input", deferred(root, draw));
  onResize(draw);
  draw();
}
