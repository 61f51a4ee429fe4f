// Lesson 13: one transformer, one vocabulary, both directions. Compose a caption from three
// dropdowns and watch two small unified models write its image, scrubbed call by call: Chameleon
// (causal) writes one image token a call in raster order, Show-o fills the span by masked decoding
// in 8 rounds. Pick an image to read the caption a model writes for it. Untick "grammar on" to see
// Chameleon decode with the full softmax: nothing forces 64 image tokens after BOI, nor EOI after
// them, and the span can break. Every trace was decoded ahead by site/bake_unified.py with models
// trained by the package (exp40's budget); every image was checked by the exact checker.
import { loadBaked } from "./lib/mlp.js";
import { COLORS, Plot, makeCanvas } from "./lib/plot.js";
import { GRID, decodeString, drawTokens, tokensAt } from "./lib/tokens.js";
import { button, checkbox, frame, onResize, player, publish, select, setKnobs, slider } from "./lib/ui.js";

const SPAN = GRID * GRID; // 64 image tokens

export async function mount(root) {
  const [t2i, i2t, off] = await Promise.all(["t2i", "i2t", "markers-off"].map((n) => loadBaked(`unified/${n}`)));
  const { alphabet, mask_char: maskChar, palette, vocab, captions, draws } = t2i;
  const temps = t2i.temperatures.map(String);
  const ids = (s) => Array.from({ length: s.length / 2 }, (_, i) => 64 * alphabet.indexOf(s[2 * i]) + alphabet.indexOf(s[2 * i + 1]));
  const freeRuns = Object.fromEntries(Object.entries(off.runs).map(([t, run]) => [t, { ...run, rows: run.rows.map((r) => ({ ...r, written: ids(r.written) })) }]));
  const parts = captions.map((c) => c.match(/^a (\w+) (\w+) in the (.+)$/).slice(1));
  const uniq = (j) => [...new Set(parts.map((p) => p[j]))];
  const { knobs, stage, readout } = frame(root, "One model writes the image of a caption, and the caption of an image");
  const colour = select(knobs, { name: "colour", label: "a", options: uniq(0), value: uniq(0)[0] });
  const shape = select(knobs, { name: "shape", label: "", options: uniq(1), value: uniq(1)[0] });
  const quadrant = select(knobs, { name: "quadrant", label: "in the", options: uniq(2), value: uniq(2)[0] });
  const draw = slider(knobs, { name: "draw", label: "draw", min: 0, max: draws - 1, step: 1, value: 0 });
  const maxCalls = Math.max(SPAN + 2, ...Object.values(freeRuns).map((run) => run.calls));
  const call = slider(knobs, { name: "call", label: "network calls", min: 0, max: maxCalls, step: 1, value: 5 });
  player(knobs, root, call, { ms: 6000 });
  const temp = select(knobs, { name: "temperature", label: "Chameleon temperature", options: temps, value: temps[0] });
  const grammar = checkbox(knobs, { name: "markers", label: "grammar on (BOI/EOI forced)", checked: true });
  const imageLabels = Object.fromEntries(i2t.rows.map((_, i) => [String(i), `image ${i + 1}`]));
  const image = select(knobs, { name: "image", label: "image → text:", options: Object.keys(imageLabels), value: "0", labels: imageLabels });
  button(knobs, { action: "failure", label: "failure: markers off" }).addEventListener("click", () => {
    // the first temperature at which a free draw broke its span, and that draw
    const t = temps.find((x) => freeRuns[x].rows.some((r) => !r.span_ok)) ?? temps[temps.length - 1];
    const at = Math.max(0, freeRuns[t].rows.findIndex((r) => !r.span_ok));
    const [c, s, q] = parts[Math.floor(at / draws)];
    setKnobs(root, { colour: c, shape: s, quadrant: q, draw: at % draws, temperature: t, markers: false, call: maxCalls });
  });
  const plot = new Plot(makeCanvas(stage, { aspect: 0.42, label: "Chameleon and Show-o writing the image; the image read back" }));
  const stream = document.createElement("div");
  stream.className = "stream";
  stream.style.cssText = "font: 0.8rem ui-monospace, monospace; line-height: 1.7; margin-top: 0.3rem; overflow-wrap: anywhere;";
  const readBack = stream.cloneNode(); // the image -> text document of the picked image
  readBack.className = "stream-i2t";
  const captionsOut = document.createElement("p");
  captionsOut.className = "captions";
  captionsOut.style.cssText = "margin: 0.3rem 0 0; font-size: 0.85rem;";
  stage.append(stream, readBack, captionsOut);

  const name = (id) => (id >= vocab.image_offset ? `IMG${id - vocab.image_offset}` : vocab.text[id]);
  const codeColour = (code) => (code === 0 ? "#000" : `rgb(${palette[Math.floor((code - 1) / 15)].join(",")})`);
  function chip(id, extra = "") {
    const el = document.createElement("span");
    el.title = `id ${id}: ${name(id)}`;
    if (id >= vocab.image_offset) {
      el.className = "tok img";
      el.style.cssText = `display:inline-block;width:0.6em;height:0.9em;margin:0 1px;vertical-align:middle;border:1px solid #adb5bd;background:${codeColour(id - vocab.image_offset)};${extra}`;
    } else {
      const marker = ["BOS", "EOS", "BOI", "EOI", "PAD", "MASK"].includes(vocab.text[id]);
      el.className = marker ? "tok marker" : "tok word";
      el.textContent = vocab.text[id];
      el.style.cssText = `margin:0 0.2em;${marker ? "font-weight:700;color:#1c7ed6;" : ""}${extra}`;
    }
    return el;
  }

  function caseIndex() {
    const i = captions.indexOf(`a ${colour.value} ${shape.value} in the ${quadrant.value}`);
    return i * draws + Number(draw.value);
  }
  const promptIds = (cap) => [vocab.ids.BOS, ...cap.replace(",", " ,").split(" ").map((w) => vocab.text.indexOf(w)), vocab.ids.BOI];

  // Chameleon with the grammar: 64 image tokens in raster order, then EOI, then EOS
  const raster = Int16Array.from({ length: SPAN }, (_, i) => i + 1); // call i + 1 writes patch i
  function grammarTrace(row, k) {
    const shown = tokensAt(decodeString(row.tokens, alphabet, maskChar), raster, k);
    const written = [...shown.slice(0, Math.min(k, SPAN))].map((t) => t + vocab.image_offset);
    if (k > SPAN) written.push(vocab.ids.EOI);
    if (k > SPAN + 1) written.push(vocab.ids.EOS);
    return { shown, written, done: k >= SPAN + 2, valid: row.valid, agrees: row.agrees, broke: null };
  }
  // Chameleon without it: whatever the full softmax wrote, the span read up to its first non-image id
  function freeTrace(row, k) {
    const written = row.written.slice(0, k);
    const shown = new Int16Array(SPAN).fill(-1);
    written.slice(0, Math.min(row.image_tokens, SPAN)).forEach((t, i) => (shown[i] = t - vocab.image_offset));
    const done = k >= row.written.length;
    const broke = !row.span_ok && k > Math.min(row.image_tokens, SPAN) ? row : null;
    return { shown, written, done, valid: row.valid, agrees: row.agrees, broke };
  }

  // a line of canvas text, centred at x and shrunk until it fits maxW (a 375 px phone)
  function label(ctx, text, x, y, px, maxW) {
    let size = px;
    ctx.font = `${size}px system-ui, sans-serif`;
    while (size > 7 && ctx.measureText(text).width > maxW) ctx.font = `${--size}px system-ui, sans-serif`;
    ctx.fillText(text, x, y);
  }
  function statusText(tr, calls, k) {
    if (tr.broke) return ["span broken: no image", COLORS.data];
    if (tr.done) return [`done in ${calls} calls: ${tr.valid ? "valid ✓" : "invalid ✗"}`, tr.valid ? COLORS.alt : COLORS.data];
    return [`call ${Math.min(k, calls)} of ${calls}`, COLORS.ink];
  }

  function redraw() {
    const k = Number(call.value);
    const idx = caseIndex();
    const cap = captions[Math.floor(idx / draws)];
    const free = !grammar.checked;
    const freeRun = freeRuns[temp.value];
    const chamRun = t2i.runs[`chameleon-${temp.value}`];
    const cham = free ? freeTrace(freeRun.rows[idx], k) : grammarTrace(chamRun.rows[idx], k);
    const chamCalls = free ? freeRun.rows[idx].written.length : chamRun.calls;
    const so = t2i.runs.showo.rows[idx];
    const soShown = tokensAt(decodeString(so.tokens, alphabet, maskChar), decodeString(so.step, alphabet, maskChar, 1), k);
    const soCalls = t2i.runs.showo.calls;
    const pick = i2t.rows[Number(image.value)];

    const colW = (stage.clientWidth || 480) / 3;
    const cell = Math.max(2, Math.min(18, Math.floor((colW - 12) / 16)));
    const side = 16 * cell;
    plot.canvas.dataset.aspect = String((side + 66) / (3 * colW)); // titles, images, two lines
    plot.fit();
    const { ctx } = plot;
    const pct = (x) => `${Math.round(100 * x)}%`;
    const panels = [
      {
        title: `Chameleon${free ? ", markers off" : ""}, T = ${temp.value}`,
        tokens: cham.shown,
        status: statusText(cham, chamCalls, k),
        note: free ? `all ${freeRun.rows.length} free draws: ${pct(freeRun.span_ok_share)} closed the span` : `all ${chamRun.rows.length} draws: ${pct(chamRun.valid_share)} valid`,
      },
      {
        title: `Show-o, ${soCalls} masked rounds`,
        tokens: soShown,
        status: statusText({ done: k >= soCalls, valid: so.valid }, soCalls, k),
        note: `all ${t2i.runs.showo.rows.length} draws: ${pct(t2i.runs.showo.valid_share)} valid`,
      },
      { title: `image ${Number(image.value) + 1} → text`, tokens: decodeString(pick.tokens, alphabet, maskChar), status: ["caption below", COLORS.noise], note: "" },
    ];
    ctx.textAlign = "center";
    panels.forEach(({ title, tokens, status, note }, j) => {
      const [x, maxW] = [j * colW + colW / 2, colW - 6];
      ctx.fillStyle = COLORS.ink;
      label(ctx, title, x, 15, 13, maxW);
      drawTokens(ctx, tokens, palette, { x: j * colW + (colW - side) / 2, y: 24, cell });
      ctx.fillStyle = status[1];
      label(ctx, status[0], x, 24 + side + 16, 12, maxW);
      ctx.fillStyle = COLORS.noise;
      label(ctx, note, x, 24 + side + 32, 12, maxW);
    });

    // the document Chameleon has written so far, token by token
    const doc = promptIds(cap);
    stream.replaceChildren(document.createTextNode("Chameleon's document: "));
    doc.forEach((id) => stream.append(chip(id)));
    cham.written.forEach((id, i) => {
      const isBreak = cham.broke && i === Math.min(cham.broke.image_tokens, SPAN) && i < cham.written.length;
      stream.append(chip(id, isBreak ? "outline:2px solid #d9480f;color:#d9480f;" : ""));
      if (isBreak) stream.lastChild.classList.add("broken");
    });

    const said = (m) => pick.written[m].filter((t) => t !== vocab.ids.EOS).map(name).join(" ").replace(" ,", ",");
    const exact = (m) => said(m) === pick.truth;
    const pickIds = decodeString(pick.tokens, alphabet, maskChar).map((c) => c + vocab.image_offset);
    readBack.replaceChildren(document.createTextNode(`Image ${Number(image.value) + 1} → text, Chameleon: `));
    [vocab.ids.BOS, vocab.ids.BOI, ...pickIds, vocab.ids.EOI, ...pick.written.chameleon].forEach((id) => readBack.append(chip(id)));
    captionsOut.textContent = `Image ${Number(image.value) + 1} (truth: “${pick.truth}”). Chameleon writes “${said("chameleon")}” ${exact("chameleon") ? "✓" : "✗"}; Show-o writes “${said("showo")}” ${exact("showo") ? "✓" : "✗"}.`;

    let span = "";
    if (free) {
      const r = freeRun.rows[idx];
      const stop = r.stop === null ? "the end of the row" : `'${name(r.stop)}'`;
      span = r.span_ok
        ? `Markers off: this draw still closed a 64-token span with EOI (${r.valid ? "a valid image" : "but the image is invalid"}); try another draw or the failure button.`
        : `Markers off: the span held ${r.image_tokens} image tokens, then ${stop}: not 64 image tokens and EOI, so there is no image to decode ` +
          `(the row wrote ${r.written.filter((t) => t >= vocab.image_offset).length} image ids in all, in ${r.written.length} tokens).`;
    } else {
      span = "Grammar on: inside BOI..EOI only image codes may be written, exactly 64, then EOI.";
    }
    readout.textContent = `Prompt “${cap}” = ids [${doc.join(", ")}], one vocabulary of ${vocab.size} ids (image codes from ${vocab.image_offset}). ${span}`;
    publish(root, {
      colour: colour.value, shape: shape.value, quadrant: quadrant.value, draw: Number(draw.value), call: k,
      temperature: temp.value, markers: grammar.checked, image: image.value, caption: cap,
      cham_written: cham.written.length, cham_image: [...cham.shown].filter((t) => t >= 0).length, cham_done: cham.done,
      cham_valid: cham.valid, span_broken: Boolean(cham.broke), free_span_ok_share: freeRun.span_ok_share,
      showo_written: [...soShown].filter((t) => t >= 0).length, showo_done: k >= soCalls, showo_valid: so.valid,
      i2t_chameleon: said("chameleon"), i2t_showo: said("showo"), i2t_truth: pick.truth,
    });
  }

  root.addEventListener("input", redraw);
  onResize(redraw);
  redraw();
}
