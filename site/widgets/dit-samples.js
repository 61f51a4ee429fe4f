// Lesson 08: a DiT-T trained with DDPM on the moons, sampled at EMA snapshots taken during
// training, by the ancestral chain or DDIM, at a few step counts. The samples were computed by
// site/bake.py with the package's own samplers (too heavy to run a transformer here), so this
// widget only looks them up. The frame follows the samples: when a sampler throws points far
// away (DDIM on this network) the view zooms out to hold them all, the usual [-3, 3] box stays
// drawn dashed, and the runaways are drawn large. Below: this DiT's training loss.
import { drawCloud, drawReference, reference } from "./lib/cloud.js";
import { loadBaked } from "./lib/mlp.js";
import { COLORS, Plot, makeCanvas } from "./lib/plot.js";
import { button, frame, onResize, publish, select, setKnobs, slider } from "./lib/ui.js";

export async function mount(root) {
  const [baked, moons] = await Promise.all([loadBaked("dit-samples"), loadBaked("moons")]);
  const ref = reference(moons);
  const { snapshots, samplers, steps: stepList, grid, losses } = baked;
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
  const BOX = [3, 2.25]; // the usual view: every widget of the course shows the moons in it
  const lossPlot = new Plot(makeCanvas(stage, { aspect: 0.35, label: "training loss" }), { pad: 34 });
  const cells = new Map(grid.map((g) => [`${g.snapshot}/${g.sampler}/${g.steps}`, g]));

  function drawLosses() {
    lossPlot.xlim = [0, Math.max(...losses.map((p) => p[0]))];
    lossPlot.ylim = [0, Math.max(...losses.map((p) => p[1])) * 1.05];
    lossPlot.fit().axes({ xlabel: "training step" });
    lossPlot.line(losses, { color: COLORS.path, width: 1.2 });
    lossPlot.text("this DiT's training loss (DDPM, moons)", [lossPlot.xlim[1], lossPlot.ylim[1]], { dx: -6, dy: 14, align: "right", color: COLORS.path });
    const at = Number(snap.value);
    lossPlot.segment([at, lossPlot.ylim[0]], [at, lossPlot.ylim[1]], { color: COLORS.ink, dash: [3, 3] });
  }

  function redraw() {
    const key = `${snap.value}/${sampler.value}/${steps.value}`;
    const cell = cells.get(key);
    const xs = Float64Array.from(cell.points.flat());
    const n = cell.points.length;
    const far = cell.points.filter((p) => Math.abs(p[0]) > BOX[0] || Math.abs(p[1]) > BOX[1]);
    // the frame grows (never shrinks below the box) until every finite sample is inside it
    const reach = Math.max(1, ...cell.points.flatMap((p) => [Math.abs(p[0]) / BOX[0], Math.abs(p[1]) / BOX[1]]).filter(Number.isFinite)) * (far.length ? 1.08 : 1);
    plot.xlim = [-BOX[0] * reach, BOX[0] * reach];
    plot.ylim = [-BOX[1] * reach, BOX[1] * reach];
    plot.fit().axes();
    drawReference(plot, ref);
    drawCloud(plot, xs, n, { color: COLORS.path });
    if (far.length) {
      plot.line([[-BOX[0], -BOX[1]], [BOX[0], -BOX[1]], [BOX[0], BOX[1]], [-BOX[0], BOX[1]], [-BOX[0], -BOX[1]]], { color: COLORS.noise, width: 1, dash: [4, 3] });
      plot.points(far, { color: COLORS.data, r: 4, alpha: 0.9 });
      plot.text(`view zoomed out ${reach.toFixed(0)}x: ${far.length} runaway samples (orange)`, [plot.xlim[0], plot.ylim[1]], { dx: 6, dy: 14, align: "left", color: COLORS.data });
    }
    readout.textContent =
      `step ${snap.value}, ${sampler.value} × ${steps.value} steps: ${(100 * cell.off_data).toFixed(1)}% off the data; ` +
      `${far.length} of ${n} outside the usual [-3, 3] view (farthest at radius ${cell.max_norm.toFixed(1)})`;
    drawLosses();
    publish(root, { snapshot: Number(snap.value), sampler: sampler.value, steps: steps.value, n,
      off_data: cell.off_data, max_norm: cell.max_norm, outside: far.length, zoom: reach });
  }

  root.addEventListener("input", redraw);
  onResize(redraw);
  redraw();
}
