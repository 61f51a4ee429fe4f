// Lesson 14: think then draw, and editing the thought. A prompt "draw a + b" (a pair whose
// composite documents were trained, or a held-out one), a model (think, counterfactual or direct)
// and the trace's answer: the model's own, or a forced c' (the prompt then ends in
// `THINK a + b = c' ENDTHINK BOI` and the model only draws). Every drawing was decoded ahead by
// site/bake_think.py with exp41's trained models and read by the exact glyph checker; the strip
// below shows the drawing for every c' offered, so one can see whether the picture follows the
// thought. The direct model has no trace: on held-out pairs it has never drawn a sum.
import { loadBaked } from "./lib/mlp.js";
import { COLORS, Plot, makeCanvas } from "./lib/plot.js";
import { decodeString, drawTokens } from "./lib/tokens.js";
import { button, frame, onResize, publish, select, setKnobs } from "./lib/ui.js";

const GLYPH_PALETTE = [[255, 255, 255]]; // the one-colour glyph tokenizer
const MODELS = { think: "think (trained with true traces)", counterfactual: "counterfactual (some wrong traces)", direct: "direct (no trace)" };

export async function mount(root) {
  const baked = await loadBaked("think/think-edit");
  const { alphabet, prompts } = baked;
  const { knobs, stage, readout } = frame(root, "Think, then draw: edit the thought, watch the drawing");
  const labels = Object.fromEntries(prompts.map((p, i) => [String(i), `draw ${p.a} + ${p.b} (${p.split === "trained" ? "trained pair" : "held-out pair"})`]));
  const prompt = select(knobs, { name: "prompt", label: "prompt", options: Object.keys(labels), value: "0", labels });
  const model = select(knobs, { name: "model", label: "model", options: Object.keys(MODELS), value: "think", labels: MODELS });
  const answer = select(knobs, { name: "answer", label: "trace answer", options: ["own"], value: "own", labels: { own: "the model's own" } });
  const heldOut = prompts.findIndex((p) => p.split === "held_out");
  button(knobs, { action: "failure", label: "failure: direct model, held-out pair" }).addEventListener("click", () =>
    setKnobs(root, { prompt: String(heldOut), model: "direct", answer: "own" }),
  );
  const plot = new Plot(makeCanvas(stage, { aspect: 0.5, label: "trace and drawing" }));
  const tokens = (s) => decodeString(s, alphabet);

  function syncAnswers(p) {
    // the c' offered for this prompt (the same for think and counterfactual)
    const want = ["own", ...p.think.forced.map((f) => String(f.c))];
    const have = [...answer.options].map((o) => o.value);
    if (want.join() === have.join()) return;
    const keep = want.includes(answer.value) ? answer.value : "own";
    answer.replaceChildren(...want.map((v) => new Option(v === "own" ? "the model's own" : `${v}${Number(v) === p.a + p.b ? " (the true sum)" : ""}`, v, false, v === keep)));
    answer.value = keep;
  }

  function verdict(drawn) {
    return drawn < 0 ? "no clean glyph" : `reads ${drawn}`;
  }

  function redraw() {
    const p = prompts[Number(prompt.value)];
    syncAnswers(p);
    const m = model.value;
    const row = p[m];
    const direct = m === "direct";
    const forced = !direct && answer.value !== "own" ? row.forced.find((f) => String(f.c) === answer.value) : null;
    const shown = forced ?? row;
    const traceAnswer = direct ? null : forced ? forced.c : row.trace;
    const traceText = direct ? "(no trace: BOI right after the prompt)" : forced ? `${p.a} + ${p.b} = ${forced.c}  (forced)` : row.trace_text || "(no trace written)";

    // layout first (sizes from the container's width), then the canvas height to fit it
    const width = plot.canvas.parentElement ? plot.canvas.parentElement.clientWidth : 600;
    const big = Math.max(3, Math.floor(Math.min(width * (width < 500 ? 0.25 : 0.3), 220) / 16));
    const font = Math.max(11, Math.min(14, Math.floor(width / 45)));
    const list = direct ? [] : row.forced;
    const slot = list.length ? Math.min(120, (width - 16) / list.length) : 0;
    const small = Math.max(2, Math.floor((slot - 10) / 16));
    const yStrip = 8 + 16 * big + 2 * font + 24;
    const used = list.length ? yStrip + 16 * small + 2 * font + 8 : yStrip + 8;
    plot.canvas.dataset.aspect = String(used / width);
    plot.fit();
    const { ctx } = plot;
    ctx.font = `${font}px system-ui, sans-serif`;
    ctx.textAlign = "left";
    ctx.fillStyle = COLORS.ink;
    ctx.fillText(`prompt:  draw ${p.a} + ${p.b}`, 8, 20);
    ctx.fillText(`THINK  ${traceText}  ENDTHINK`, 8, 20 + 1.6 * font);
    ctx.fillStyle = COLORS.noise;
    ctx.fillText(`then BOI, 64 image tokens, EOI`, 8, 20 + 3.2 * font);
    const x0 = width - 16 * big - 12;
    drawTokens(ctx, tokens(shown.tokens), GLYPH_PALETTE, { x: x0, y: 8, cell: big });
    const ok = shown.drawn === p.a + p.b;
    ctx.fillStyle = ok ? COLORS.alt : COLORS.data;
    ctx.textAlign = "right";
    ctx.fillText(`checker: ${verdict(shown.drawn)}${ok ? " ✓ the sum" : ""}`, width - 6, 8 + 16 * big + font + 4);

    // the strip: every forced answer's drawing, the chosen one outlined
    ctx.textAlign = "left";
    ctx.fillStyle = COLORS.ink;
    ctx.fillText(direct ? "the direct model has no thought to edit" : "forced answer c' → what the checker reads in the drawing", 8, yStrip - 6);
    list.forEach((f, i) => {
      const x = 8 + i * slot + (slot - 16 * small) / 2;
      drawTokens(ctx, tokens(f.tokens), GLYPH_PALETTE, { x, y: yStrip, cell: small });
      if (forced && f.c === forced.c) {
        ctx.strokeStyle = COLORS.path;
        ctx.lineWidth = 3;
        ctx.strokeRect(x - 3, yStrip - 3, 16 * small + 6, 16 * small + 6);
      }
      ctx.fillStyle = f.drawn === f.c ? COLORS.alt : COLORS.data;
      ctx.textAlign = "center";
      ctx.fillText(`${f.c} → ${f.drawn < 0 ? "✗" : f.drawn}`, 8 + (i + 0.5) * slot, yStrip + 16 * small + font + 2);
    });

    const follows = traceAnswer !== null && traceAnswer >= 0 && shown.drawn === traceAnswer;
    const acc = baked.exp41_accuracy[m === "direct" ? "direct" : m];
    readout.textContent =
      `${direct ? "Direct" : "The trace says " + (traceAnswer >= 0 ? traceAnswer : "nothing readable") + ";"} ` +
      `the drawing ${verdict(shown.drawn)}${follows ? ", as the trace says" : ""}. ` +
      `Over exp41's pairs this model draws the right sum on ${Math.round(100 * acc.trained)}% of trained ` +
      `and ${Math.round(100 * acc.held_out)}% of held-out pairs.`;
    publish(root, { prompt: prompt.value, a: p.a, b: p.b, split: p.split, model: m, answer: answer.value,
      trace: traceAnswer, drawn: shown.drawn, tokens: shown.tokens, correct: ok, follows });
  }

  root.addEventListener("input", redraw);
  onResize(redraw);
  redraw();
}
