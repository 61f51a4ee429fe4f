// Lesson 14: editing as token surgery. A two-object scene, and a one-word edit of its caption (the
// colour or the shape of the left or the right object). Surgery re-masks only the edited half's 32
// image tokens and lets the Show-o-mode model rewrite them under the new caption; regeneration
// writes all 64 from the new caption. Both were decoded ahead by site/bake_think.py with exp41's
// model and scored by the exact checker; the pixels that differ from the original are computed
// here, from the tokens, and outlined (the untouched half in red: it should have none).
import { loadBaked } from "./lib/mlp.js";
import { COLORS, Plot, makeCanvas } from "./lib/plot.js";
import { GRID, decodeString, drawTokens, tokenPixels } from "./lib/tokens.js";
import { button, checkbox, frame, onResize, publish, select, setKnobs } from "./lib/ui.js";

export async function mount(root) {
  const baked = await loadBaked("think/token-surgery");
  const { alphabet, palette, scenes, edits } = baked;
  const { knobs, stage, readout } = frame(root, "Edit one object: token surgery against regeneration");
  const sceneLabels = Object.fromEntries(scenes.map((s, i) => [String(i), `scene ${i + 1}`]));
  const scene = select(knobs, { name: "scene", label: "scene", options: Object.keys(sceneLabels), value: "0", labels: sceneLabels });
  const edit = select(knobs, { name: "edit", label: "new caption", options: [], value: "" });
  const mark = checkbox(knobs, { name: "highlight", label: "outline changed pixels", checked: true });
  button(knobs, { action: "failure", label: "failure: regeneration's worst edit" }).addEventListener("click", () => {
    const worst = edits.reduce((w, e, i) => (e.regeneration.untouched_changed > edits[w].regeneration.untouched_changed ? i : w), 0);
    setKnobs(root, { scene: String(edits[worst].scene) });
    const local = sceneEdits().findIndex(([, i]) => i === worst);
    setKnobs(root, { edit: String(local), highlight: true });
  });
  const plot = new Plot(makeCanvas(stage, { aspect: 0.45, label: "original, surgery and regeneration" }));
  const tokens = (s) => decodeString(s, alphabet);
  const side = 2 * GRID;

  // the edits of the picked scene; the knob's values are their places in this list ("0", "1",
  // ...), the same names in every scene, so a value stays meaningful when the scene changes
  const sceneEdits = () => edits.map((e, i) => [e, i]).filter(([e]) => String(e.scene) === scene.value);

  function syncEdits() {
    const mine = sceneEdits();
    const labels = mine.map(([e]) => `${e.half ? "right" : "left"} object → ${newWord(e)}`);
    if ([...edit.options].map((o) => o.text).join() !== labels.join()) {
      const keep = edit.value;
      edit.replaceChildren(...labels.map((label, j) => new Option(label, String(j))));
      edit.value = keep;
    }
    if (!(Number(edit.value) < mine.length) || edit.value === "") edit.value = "0";
    return mine;
  }

  function newWord(e) {
    // the one word of the edited caption that differs from the scene's own
    const [was, now] = [scenes[e.scene].caption.split(" "), e.caption.split(" ")];
    return now.find((w, i) => w !== was[i]) ?? "?";
  }

  function changed(a, b) {
    // per pixel (row-major 16 x 16): does it differ between the two token sequences?
    const [pa, pb] = [tokenPixels(a, palette), tokenPixels(b, palette)];
    const out = new Uint8Array(side * side);
    for (let i = 0; i < out.length; i++) out[i] = pa[3 * i] !== pb[3 * i] || pa[3 * i + 1] !== pb[3 * i + 1] || pa[3 * i + 2] !== pb[3 * i + 2] ? 1 : 0;
    return out;
  }

  function panel(ctx, seq, diff, half, { x, y, cell, title, lines }) {
    ctx.fillStyle = COLORS.ink;
    ctx.textAlign = "center";
    ctx.fillText(title, x + (side * cell) / 2, y - 6);
    drawTokens(ctx, seq, palette, { x, y, cell });
    // the edited half: a dashed frame
    ctx.setLineDash([4, 3]);
    ctx.strokeStyle = COLORS.path;
    ctx.lineWidth = 1.5;
    ctx.strokeRect(x + half * 8 * cell, y, 8 * cell, side * cell);
    ctx.setLineDash([]);
    if (diff && mark.checked) {
      for (let i = 0; i < diff.length; i++) {
        if (!diff[i]) continue;
        const [r, c] = [Math.floor(i / side), i % side];
        ctx.strokeStyle = (c < 8 ? 0 : 1) === half ? COLORS.data : "#e03131";
        ctx.lineWidth = (c < 8 ? 0 : 1) === half ? 1 : 2;
        ctx.strokeRect(x + c * cell + 1, y + r * cell + 1, cell - 2, cell - 2);
      }
    }
    lines.forEach(([text, color], k) => {
      ctx.fillStyle = color;
      ctx.fillText(text, x + (side * cell) / 2, y + side * cell + 16 + 15 * k);
    });
  }

  function redraw() {
    const e = syncEdits()[Number(edit.value)][0];
    const orig = tokens(scenes[e.scene].tokens);
    const outs = { surgery: tokens(e.surgery.tokens), regeneration: tokens(e.regeneration.tokens) };
    const diffs = { surgery: changed(orig, outs.surgery), regeneration: changed(orig, outs.regeneration) };
    const untouched = (d) => d.reduce((n, v, i) => n + (v && (i % side < 8 ? 0 : 1) !== e.half ? 1 : 0), 0);
    const width = plot.canvas.parentElement ? plot.canvas.parentElement.clientWidth : 600;
    const colW = width / 3;
    const cell = Math.max(3, Math.floor(Math.min(colW - 12, 200) / side));
    plot.canvas.dataset.aspect = String((side * cell + 90) / width);
    plot.fit();
    const { ctx } = plot;
    ctx.font = `${Math.max(10, Math.min(13, Math.floor(colW / 14)))}px system-ui, sans-serif`;
    const x = (j) => j * colW + (colW - side * cell) / 2;
    const wide = colW >= 220; // a phone gets the short labels
    panel(ctx, orig, null, e.half, { x: x(0), y: 22, cell, title: "original", lines: [[wide ? "edited half: dashed" : "edit: dashed", COLORS.path]] });
    const counts = {};
    ["surgery", "regeneration"].forEach((name, j) => {
      const r = e[name];
      counts[name] = untouched(diffs[name]);
      const verdict = r.valid ? (r.agrees ? "matches the new caption ✓" : "valid, wrong content ✗") : "not a clean scene ✗";
      const short = r.valid ? (r.agrees ? "✓ new caption" : "✗ wrong content") : "✗ not clean";
      panel(ctx, outs[name], diffs[name], e.half, {
        x: x(j + 1), y: 22, cell, title: wide ? `${name} (${name === "surgery" ? 32 : 64} tokens)` : name,
        lines: [
          [wide ? verdict : short, r.agrees ? COLORS.alt : COLORS.data],
          [wide ? `untouched half: ${counts[name]} pixels changed` : `kept half: ${counts[name]} px`, counts[name] ? "#e03131" : COLORS.alt],
        ],
      });
    });
    const rate = (m, k) => Math.round(100 * baked.exp41[m][k]);
    readout.textContent =
      `New caption: "${e.caption}". Surgery leaves ${counts.surgery} pixels of the untouched half changed, ` +
      `regeneration ${counts.regeneration}. Over exp41's edits: surgery matches the new caption ${rate("surgery", "edit_success")}% ` +
      `of the time and keeps the untouched half ${rate("surgery", "untouched_preserved")}%; regeneration ` +
      `${rate("regeneration", "edit_success")}% and ${rate("regeneration", "untouched_preserved")}%.`;
    publish(root, { scene: scene.value, edit: edit.value, half: e.half, caption: e.caption, highlight: mark.checked,
      surgery_untouched_changed: counts.surgery, regeneration_untouched_changed: counts.regeneration,
      surgery_edited_changed: diffs.surgery.reduce((a, b) => a + b, 0) - counts.surgery,
      surgery_agrees: e.surgery.agrees, regeneration_agrees: e.regeneration.agrees });
  }

  root.addEventListener("input", redraw);
  onResize(redraw);
  redraw();
}
