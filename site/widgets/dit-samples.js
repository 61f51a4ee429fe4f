// Lesson 08: a DiT-T trained with DDPM on the moons, sampled at EMA snapshots taken during
// training, by the ancestral chain or DDIM, at a few step counts. The samples were computed by
// site/bake.py with the package's own samplers (too heavy to run a transformer here), so this
// widget only looks them up. Below: the training loss, and the adaLN-Zero experiment's curves
// when benchmarks/results/exp12_adaln_zero.json existed at bake time.
import { drawCloud, drawReference, reference } from "./lib/cloud.js";
import { loadBaked } from "./lib/mlp.js";
import { COLORS, Plot, makeCanvas } from "./lib/plot.js";
import { button, frame, onResize, publish, select, setKnobs, slider } from "./lib/ui.js";

const PALETTE = [COLORS.data, COLORS.alt, COLORS.noise];

/** Every [[step, loss], ...] array in a lab result (its layout is the experiment's own), named by
 * its key path: the widget draws whatever loss curves exp12 recorded. */
function findCurves(obj, path = []) {
  if (Array.isArray(obj) && obj.length > 1 && obj.every((p) => Array.isArray(p) && p.length === 2 && p.every(Number.isFinite))) {
    return [{ name: path.join("/"), points: obj }];
  }
  if (obj && typeof obj === "object") return Object.entries(obj).flatMap(([k, v]) => findCurves(v, [...path, k]));
  return [];
}

export async function mount(root) {
  const [baked, moons] = await Promise.all([loadBaked("dit-samples"), loadBaked("moons")]);
  const ref = reference(moons);
  const { snapshots, samplers, steps: stepList, grid, losses, adaln_zero: adaln } = baked;
  const { knobs, stage, readout } = frame(root, `${baked.model}: samples during training`);
  const snap = slider(knobs, {
    name: "snapshot", label: "training step", min: snapshots[0], max: snapshots.at(-1),
    step: snapshots[1] - snapshots[0], value: snapshots.at(-1),
  });
  const sampler = select(knobs, { name: "sampler", label: "sampler", options: samplers, value: "ancestral" });
  const steps = select(knobs, { name: "steps", label: "steps", options: stepList.map(String), value: String(stepList[1]) });
  button(knobs, { action: "failure", label: "failure: DDIM on the DiT" }).addEventListener("click", () =>
    setKnobs(root, { sampler: "ddim", steps: String(stepList[1]), snapshot: snapshots.at(-1) }),
  );
  const plot = new Plot(makeCanvas(stage, { aspect: 0.75, label: "DiT samples" }), { xlim: [-3, 3], ylim: [-2.25, 2.25] });
  const lossPlot = new Plot(makeCanvas(stage, { aspect: 0.35, label: "training loss" }), { pad: 34 });
  const cells = new Map(grid.map((g) => [`${g.snapshot}/${g.sampler}/${g.steps}`, g]));

  function drawLosses() {
    const curves = [{ name: "this DiT", points: losses, color: COLORS.path }];
    if (adaln) findCurves(adaln).forEach((c, i) => curves.push({ ...c, color: PALETTE[i % PALETTE.length] }));
    const all = curves.flatMap((c) => c.points);
    lossPlot.xlim = [0, Math.max(...all.map((p) => p[0]))];
    lossPlot.ylim = [0, Math.max(...all.map((p) => p[1])) * 1.05];
    lossPlot.fit().axes({ xlabel: "training step" });
    curves.forEach((c, i) => {
      lossPlot.line(c.points, { color: c.color, width: 1.2 });
      lossPlot.text(c.name, [lossPlot.xlim[1], lossPlot.ylim[1]], { dx: -6, dy: 14 + 14 * i, align: "right", color: c.color });
    });
    const at = Number(snap.value);
    lossPlot.segment([at, lossPlot.ylim[0]], [at, lossPlot.ylim[1]], { color: COLORS.ink, dash: [3, 3] });
  }

  function redraw() {
    const key = `${snap.value}/${sampler.value}/${steps.value}`;
    const cell = cells.get(key);
    const xs = Float64Array.from(cell.points.flat());
    const n = cell.points.length;
    plot.fit().axes();
    drawReference(plot, ref);
    drawCloud(plot, xs, n, { color: COLORS.path });
    const outside = cell.points.filter((p) => Math.abs(p[0]) > 3 || Math.abs(p[1]) > 2.25).length;
    readout.textContent =
      `step ${snap.value}, ${sampler.value} x ${steps.value}: ${(100 * cell.off_data).toFixed(1)}% off the data, ` +
      `${outside} of ${n} outside the frame (farthest at radius ${cell.max_norm.toFixed(1)})`;
    drawLosses();
    publish(root, { snapshot: Number(snap.value), sampler: sampler.value, steps: steps.value, n,
      off_data: cell.off_data, max_norm: cell.max_norm, outside, adaln_zero: Boolean(adaln) });
  }

  root.addEventListener("input", redraw);
  onResize(redraw);
  redraw();
}
