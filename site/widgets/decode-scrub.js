// Lesson 10: one prompt ("a red square", ...) decoded three ways, scrubbed call by call: the
// autoregressive model fixes one token per network call in raster order, MaskGIT fixes a batch
// per round, MDLM reveals each masked token with probability (t - s) / t per step. Every trace
// was decoded ahead by site/bake_partb.py with the exact posterior in place of a network (so
// what differs between the panels is the decoder alone), and each final image was checked by the
// exact checker. The slider counts network calls: a panel that has finished stays as it is.
import { loadBaked } from "./lib/mlp.js";
import { COLORS, Plot, makeCanvas } from "./lib/plot.js";
import { decodeString, drawTokens, tokensAt } from "./lib/tokens.js";
import { button, frame, onResize, player, publish, select, setKnobs, slider } from "./lib/ui.js";

export async function mount(root) {
  const baked = await loadBaked("partb/decode-scrub");
  const { alphabet, mask_char: maskChar, palette, runs, prompts, draws } = baked;
  const { knobs, stage, readout } = frame(root, "One prompt, three decoders (exact posterior in place of a network)");
  const prompt = select(knobs, { name: "prompt", label: "prompt", options: Object.keys(prompts), value: Object.keys(prompts)[0], labels: prompts });
  const draw = slider(knobs, { name: "draw", label: "draw", min: 0, max: draws - 1, step: 1, value: 0 });
  const mg = select(knobs, { name: "maskgit", label: "MaskGIT rounds T", options: baked.maskgit_T.map(String), value: "8" });
  const md = select(knobs, { name: "mdlm", label: "MDLM steps", options: baked.mdlm_steps.map(String), value: "16" });
  const call = slider(knobs, { name: "call", label: "network calls", min: 0, max: 64, step: 1, value: 8 });
  player(knobs, root, call, { ms: 6000 });
  button(knobs, { action: "failure", label: "failure: MaskGIT in 4 rounds" }).addEventListener("click", () =>
    setKnobs(root, { maskgit: String(baked.maskgit_T[0]), call: 64, draw: firstInvalid(`maskgit-${baked.maskgit_T[0]}`) }),
  );
  const plot = new Plot(makeCanvas(stage, { aspect: 0.4, label: "three decoders side by side" }));

  // rows of a run for the chosen prompt, decoded once
  const cache = new Map();
  function row(run, d) {
    const key = `${run}/${prompt.value}/${d}`;
    if (!cache.has(key)) {
      const r = runs[run].rows.filter((x) => String(x.class) === prompt.value)[d];
      cache.set(key, { tokens: decodeString(r.tokens, alphabet, maskChar), step: decodeString(r.step, alphabet, maskChar, 1), valid: r.valid });
    }
    return cache.get(key);
  }
  function firstInvalid(run) {
    const rows = runs[run].rows.filter((x) => String(x.class) === prompt.value);
    return Math.max(0, rows.findIndex((x) => !x.valid));
  }

  function redraw() {
    const k = Number(call.value);
    const d = Number(draw.value);
    const panels = [
      { run: "ar", title: "autoregressive" },
      { run: `maskgit-${mg.value}`, title: `MaskGIT, T = ${mg.value}` },
      { run: `mdlm-${md.value}`, title: `MDLM, ${md.value} steps` },
    ];
    plot.fit();
    const { ctx, width, height } = plot;
    const colW = width / 3;
    const cell = Math.max(2, Math.floor(Math.min(colW - 12, height - 64) / 16));
    const side = 16 * cell;
    const state = { prompt: prompt.value, draw: d, maskgit: mg.value, mdlm: md.value, call: k };
    panels.forEach(({ run, title }, j) => {
      const r = row(run, d);
      const nfe = runs[run].nfe;
      const shown = tokensAt(r.tokens, r.step, k);
      const fresh = new Set([...r.step].flatMap((s, i) => (s === k ? [i] : []))); // fixed by this call
      const x = j * colW + (colW - side) / 2;
      ctx.fillStyle = COLORS.ink;
      ctx.font = `${Math.min(13, Math.floor(colW / 11))}px system-ui, sans-serif`;
      ctx.textAlign = "center";
      ctx.fillText(title, j * colW + colW / 2, 15);
      drawTokens(ctx, shown, palette, { x, y: 24, cell, mark: fresh });
      const fixed = shown.filter((t) => t >= 0).length;
      const done = k >= nfe;
      ctx.font = `${Math.min(12, Math.floor(colW / 13))}px system-ui, sans-serif`; // fits a phone
      ctx.fillStyle = done ? (r.valid ? COLORS.alt : COLORS.data) : COLORS.ink;
      const status = done ? `done in ${nfe} calls: ${r.valid ? "valid ✓" : "invalid ✗"}` : `call ${k} of ${nfe}: ${fixed}/64 fixed`;
      ctx.fillText(status, j * colW + colW / 2, 24 + side + 16);
      ctx.fillStyle = COLORS.noise;
      ctx.fillText(`all ${runs[run].rows.length} draws: ${Math.round(100 * runs[run].valid_share)}% valid`, j * colW + colW / 2, 24 + side + 32);
      const key = j === 0 ? "ar" : j === 1 ? "mg" : "md";
      Object.assign(state, { [`${key}_fixed`]: fixed, [`${key}_done`]: done, [`${key}_valid`]: r.valid, [`${key}_valid_share`]: runs[run].valid_share, [`${key}_nfe`]: nfe });
    });
    readout.textContent =
      `After ${k} network calls: autoregressive ${state.ar_fixed}/64 tokens, MaskGIT ${state.mg_fixed}/64, MDLM ${state.md_fixed}/64. ` +
      "Outlined: the tokens the last call fixed. Validity from the exact checker; every decoder here reads the exact posterior, so an invalid image is the decoder's doing.";
    publish(root, state);
  }

  root.addEventListener("input", redraw);
  onResize(redraw);
  redraw();
}
