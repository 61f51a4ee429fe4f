// Lesson 15: a text encoder and a separate image generator, on swap-pair captions ("a red square
// ... a blue circle" against "a blue square ... a red circle": the same bag of words). Pick the
// encoder x conditioning pipeline and the guidance weight; the top rows are the images the lab's
// trained pipeline drew for six swap pairs (caption A above, its partner B below), framed green
// where both objects have the right shape and colour, red where not, dashed where the image is
// not within 2 pixels of a clean scene. The bars: binding of every pipeline at this weight, with
// the bag-of-words ceiling on swap pairs (50%). Data: site/baked/hybrid/swap-pairs.json, cut
// from benchmarks/results/exp50_hybrid*.json by site/bake_hybrid.py.
import { loadBaked } from "./lib/mlp.js";
import { COLORS, Plot, makeCanvas } from "./lib/plot.js";
import { button, frame, onResize, publish, select, setKnobs } from "./lib/ui.js";

const OK = "#2f9e44";
const BAD = "#e03131";

function drawImage(ctx, s, palette, x, y, cell) {
  for (let i = 0; i < 256; i++) {
    const k = Number(s[i]);
    const c = palette[k] || [255, 0, 255];
    ctx.fillStyle = `rgb(${c[0]},${c[1]},${c[2]})`;
    ctx.fillRect(x + (i % 16) * cell, y + Math.floor(i / 16) * cell, cell, cell);
  }
}

export async function mount(root) {
  const baked = await loadBaked("hybrid/swap-pairs");
  const names = Object.keys(baked.arms);
  const { knobs, stage, readout } = frame(root, "Two towers on swap pairs: does the generator bind?");
  const start = names.includes("pretrained-xattn") ? "pretrained-xattn" : names[0];
  const arm = select(knobs, { name: "arm", label: "encoder-conditioning", options: names, value: start });
  const w = select(knobs, { name: "guidance", label: "guidance w", options: baked.guidance, value: baked.guidance[0] });
  const pairs = baked.arms[start].examples[baked.guidance[0]].captions.length / 2;
  const pair = select(knobs, { name: "pair", label: "pair", options: [...Array(pairs).keys()].map(String), value: "0" });
  const failTo = names.includes("bow-xattn") ? "bow-xattn" : names[names.length - 1];
  button(knobs, { action: "failure", label: `failure: ${failTo} (no word order)` }).addEventListener("click", () =>
    setKnobs(root, { arm: failTo }),
  );
  const plot = new Plot(makeCanvas(stage, { aspect: 0.62, label: "swap-pair images and binding per pipeline" }));

  function draw() {
    plot.fit();
    const { ctx } = plot;
    const W = plot.canvas.clientWidth || plot.canvas.width;
    const H = plot.canvas.clientHeight || plot.canvas.height;
    ctx.clearRect(0, 0, W, H);
    const ex = baked.arms[arm.value].examples[w.value];
    const n = ex.captions.length / 2;
    const colW = W / n;
    const cell = Math.max(1, Math.floor(Math.min(colW - 10, H * 0.26) / 16));
    const p = Number(pair.value);
    for (let j = 0; j < n; j++) {
      for (let r = 0; r < 2; r++) {
        const i = 2 * j + r;
        const x = j * colW + (colW - 16 * cell) / 2;
        const y = 6 + r * (16 * cell + 12);
        drawImage(ctx, ex.pixels[i], baked.palette, x, y, cell);
        ctx.lineWidth = j === p ? 4 : 2;
        ctx.strokeStyle = ex.binding[i] ? OK : BAD;
        ctx.setLineDash(ex.near_valid[i] ? [] : [4, 3]);
        ctx.strokeRect(x - 2, y - 2, 16 * cell + 4, 16 * cell + 4);
      }
    }
    ctx.setLineDash([]);
    // bars: binding of every pipeline at this weight; the bag-of-words ceiling at 0.5
    const top = 2 * (16 * cell + 12) + 18;
    const h = H - top - 34;
    const bw = W / names.length;
    names.forEach((name, k) => {
      const s = baked.arms[name].scores[w.value];
      const bh = h * s.binding;
      ctx.fillStyle = name === arm.value ? COLORS.data : COLORS.faint;
      ctx.fillRect(k * bw + 4, top + h - bh, bw - 8, bh);
      ctx.fillStyle = COLORS.ink;
      ctx.font = "10px system-ui, sans-serif";
      ctx.textAlign = "center";
      ctx.fillText(name, k * bw + bw / 2, top + h + 12);
      ctx.fillText(`${Math.round(100 * s.binding)}%`, k * bw + bw / 2, top + h - bh - 3);
    });
    ctx.strokeStyle = COLORS.ink;
    ctx.setLineDash([5, 4]);
    ctx.beginPath();
    ctx.moveTo(0, top + h * 0.5);
    ctx.lineTo(W, top + h * 0.5);
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.textAlign = "left";
    ctx.fillText("bag-of-words ceiling on swap pairs (50%)", 4, top + h * 0.5 - 3);
    const s = baked.arms[arm.value].scores[w.value];
    const mark = (i) => (ex.binding[i] ? "bound right" : "bound wrong") + (ex.near_valid[i] ? "" : ", not a clean scene");
    readout.textContent =
      `${arm.value}, w = ${w.value}: binding ${Math.round(100 * s.binding)}% and colour on swap pairs ` +
      `${Math.round(100 * s.swap_colour)}% over the lab's 100 pairs; near-valid ${Math.round(100 * s.near_valid)}% ` +
      `(the exact posterior with the same decoder: ${Math.round(100 * baked.oracle_near_valid)}%). ` +
      `Pair ${p}: A "${ex.captions[2 * p]}" (${mark(2 * p)}); B "${ex.captions[2 * p + 1]}" (${mark(2 * p + 1)}).`;
    publish(root, { arm: arm.value, guidance: w.value, pair: p, binding: s.binding, swap_colour: s.swap_colour, shown_bound: ex.binding.filter(Boolean).length });
  }

  root.addEventListener("input", draw);
  onResize(draw);
  draw();
}
