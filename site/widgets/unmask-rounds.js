// Lesson 12: MaskGIT's unmasking rounds, scrubbed call by call, over a grid of knobs: rounds T,
// the mask schedule, the choice temperature and corrector calls (each re-masks the 4 least likely
// tokens and re-samples them). Top row: the exact posterior decoded in place of a network
// (site/bake_partb.py), four class prompts; the bars: the share of a batch of 128 such samples
// that the exact checker accepts, for each choice temperature at the current T, schedule and
// corrector. Bottom row, where the lab saved one (exp30): the trained network at the same setting.
import { loadBaked } from "./lib/mlp.js";
import { COLORS, Plot, makeCanvas } from "./lib/plot.js";
import { decodeString, drawTokens, tokensAt } from "./lib/tokens.js";
import { button, frame, onResize, player, publish, select, setKnobs, slider } from "./lib/ui.js";

const CLASS_NAMES = ["red square", "green square", "blue square", "yellow square"]; // classes 0..3

export async function mount(root) {
  const baked = await loadBaked("partb/unmask-rounds");
  const { alphabet, mask_char: maskChar, palette, trained } = baked;
  const { knobs, stage, readout } = frame(root, "MaskGIT's rounds on the exact posterior (and on the trained network)");
  const T = select(knobs, { name: "T", label: "rounds T", options: baked.T.map(String), value: "8" });
  const sched = select(knobs, { name: "schedule", label: "schedule", options: baked.schedules, value: "cosine" });
  const ct = select(knobs, { name: "choice_temperature", label: "choice temperature", options: baked.choice_temperatures.map(String), value: "4.5" });
  const corr = select(knobs, { name: "corrector", label: "corrector calls", options: baked.correctors.map(String), value: "0" });
  const call = slider(knobs, { name: "call", label: "after call", min: 0, max: 8, step: 1, value: 8 });
  player(knobs, root, call, { ms: 4000 });
  button(knobs, { action: "failure", label: "failure: choice temperature 0" }).addEventListener("click", () =>
    setKnobs(root, { choice_temperature: "0", call: Number(call.max) }),
  );
  const plot = new Plot(makeCanvas(stage, { aspect: 0.45, label: "unmasking rounds and validity" }));
  const key = (s) => `${s.T}/${s.schedule}/${Number(s.choice_temperature)}/${s.corrector}`;
  const cells = new Map(baked.settings.map((s) => [key(s), s]));
  const trainedCells = new Map((trained.settings || []).map((s) => [key(s), s]));
  let lastMax = Number(call.max);

  function frameOf(r, setting, k) {
    // tokens and outlined positions after k calls: rounds first, then corrector calls
    const tokens = decodeString(r.tokens, alphabet, maskChar);
    const round = decodeString(r.round, alphabet, maskChar, 1);
    if (k <= setting.T) return { tokens: tokensAt(tokens, round, k), mark: new Set([...round].flatMap((s, i) => (s === k ? [i] : []))) };
    const out = Int16Array.from(tokens);
    let mark = new Set();
    r.fixes.slice(0, k - setting.T).forEach((fix) => {
      fix.forEach(([i, t]) => (out[i] = t));
      mark = new Set(fix.map(([i]) => i));
    });
    return { tokens: out, mark };
  }

  function drawRow(setting, y, cell, label, colW) {
    const { ctx } = plot;
    const k = Math.min(Number(call.value), setting.nfe);
    ctx.textAlign = "left";
    ctx.fillStyle = COLORS.ink;
    ctx.font = "12px system-ui, sans-serif";
    ctx.fillText(label, 4, y - 6);
    let valid = 0;
    setting.rows.forEach((r, j) => {
      const { tokens, mark } = frameOf(r, setting, k);
      const x = j * colW + (colW - 16 * cell) / 2;
      drawTokens(ctx, tokens, palette, { x, y, cell, mark, markColor: k > setting.T ? COLORS.path : COLORS.data });
      const done = k >= setting.nfe;
      valid += r.valid;
      ctx.textAlign = "center";
      ctx.fillStyle = done ? (r.valid ? COLORS.alt : COLORS.data) : COLORS.noise;
      const name = CLASS_NAMES[r.class] ?? `class ${r.class}`;
      ctx.fillText(done ? `${r.valid ? "valid ✓" : "invalid ✗"}` : name, j * colW + colW / 2, y + 16 * cell + 13);
    });
    return valid;
  }

  function drawBars(setting, x0, y0, w, h) {
    // validity of the batch for each choice temperature at this T, schedule, corrector
    const { ctx } = plot;
    const temps = baked.choice_temperatures;
    const bw = w / temps.length;
    ctx.textAlign = "left";
    ctx.fillStyle = COLORS.ink;
    ctx.fillText(`valid share of ${baked.batch} samples (exact checker)`, x0, y0 - 6);
    temps.forEach((t, i) => {
      const s = cells.get(key({ ...setting, choice_temperature: t }));
      const bh = (h - 28) * s.valid_share;
      const here = Number(t) === Number(setting.choice_temperature);
      ctx.fillStyle = here ? (s.valid_share < 0.2 ? COLORS.data : COLORS.path) : COLORS.faint;
      ctx.fillRect(x0 + i * bw + 6, y0 + h - 16 - bh, bw - 12, bh);
      ctx.fillStyle = COLORS.ink;
      ctx.textAlign = "center";
      ctx.fillText(`${Math.round(100 * s.valid_share)}%`, x0 + (i + 0.5) * bw, y0 + h - 20 - bh);
      ctx.fillText(`choice T ${t}`, x0 + (i + 0.5) * bw, y0 + h - 2);
    });
  }

  function redraw() {
    const setting = cells.get(key({ T: T.value, schedule: sched.value, choice_temperature: ct.value, corrector: corr.value }));
    const max = setting.nfe;
    if (Number(call.max) !== max) {
      const atEnd = Number(call.value) >= lastMax;
      call.max = String(max);
      if (atEnd || Number(call.value) > max) call.value = String(max);
      call.dispatchEvent(new Event("sync"));
    }
    lastMax = max;
    const k = Number(call.value);
    // wide: the two rows of samples beside the bars; narrow (a phone): the bars below
    const outer = plot.canvas.parentElement ? plot.canvas.parentElement.clientWidth : 600;
    const wide = outer >= 560;
    const gridW = wide ? outer * 0.68 : outer;
    const colW = gridW / 4;
    const cell = Math.max(2, Math.floor(Math.min(colW - 8, 160) / 16));
    const rowsH = 2 * 16 * cell + 76;
    const barsH = wide ? rowsH - 30 : 150;
    plot.canvas.dataset.aspect = String((wide ? rowsH : rowsH + barsH + 24) / outer);
    plot.fit();
    const { width } = plot;
    drawRow(setting, 18, cell, "exact posterior (oracle)", colW);
    const tr = trainedCells.get(key(setting));
    const y2 = 18 + 16 * cell + 40;
    if (tr) {
      drawRow(tr, y2, cell, `trained network (exp30: seed ${trained.seeds[0]}, step ${trained.trained_steps} of ${trained.budget_steps})`, colW);
    } else {
      plot.ctx.textAlign = "left";
      plot.ctx.fillStyle = COLORS.noise;
      plot.ctx.fillText("trained network: no trace saved at this setting", 4, y2 + 20);
      plot.ctx.fillText("(saved: cosine, T = 4, 8, 16, choice T 0 or 4.5, no corrector)", 4, y2 + 36);
    }
    if (wide) drawBars(setting, gridW + 12, 18, width - gridW - 16, barsH);
    else drawBars(setting, 8, rowsH + 20, width - 16, barsH);
    const phase = k <= setting.T ? `round ${k} of ${setting.T}` : `corrector call ${k - setting.T} of ${setting.corrector}`;
    readout.textContent =
      `${phase} (${setting.nfe} network calls in all). The exact posterior at this setting gives ` +
      `${Math.round(100 * setting.valid_share)}% valid samples out of ${baked.batch}` +
      (tr ? `; the trained network's four shown here: ${tr.rows.filter((r) => r.valid).length} of 4 valid.` : ".") +
      " Orange outline: fixed by this round; blue: re-sampled by this corrector call.";
    publish(root, { T: T.value, schedule: sched.value, choice_temperature: ct.value, corrector: corr.value, call: k,
      nfe: setting.nfe, valid_share: setting.valid_share, shown_valid: setting.rows.filter((r) => r.valid).length,
      trained_shown: Boolean(tr), trained_valid: tr ? tr.rows.filter((r) => r.valid).length : null });
  }

  root.addEventListener("input", redraw);
  onResize(redraw);
  redraw();
}
