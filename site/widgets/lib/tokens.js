// Tokens of the `shapes` scenes for the Part B widgets: the baked traces store a sequence as a
// string (one character a position, see site/bake_partb.py), and the exact 2x2 patch tokenizer
// (generative/discrete/data/patch_tokenizer.py) turns a token back into its four pixels:
//   token 0 = an empty patch;  token = 1 + colour * 15 + (mask - 1),  mask bits tl=1 tr=2 bl=4 br=8.

export const GRID = 8; // patches per side: 64 tokens, a 16x16 image
const BITS = [1, 2, 4, 8]; // tl, tr, bl, br
const MASKED_FILL = "#ced4da";
const MASKED_DOT = "#868e96";

/** A baked string -> Int16Array of values (-1 where masked); offset is added back (steps are
 * stored as step - 1). */
export function decodeString(s, alphabet, maskChar = ".", offset = 0) {
  const out = new Int16Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s[i] === maskChar ? -1 : alphabet.indexOf(s[i]) + offset;
  return out;
}

/** Pixels of one token sequence: Uint8Array (16 * 16 * 3), row-major, black where masked or
 * empty (the browser test compares this with PatchTokenizer.decode). */
export function tokenPixels(tokens, palette) {
  const size = 2 * GRID;
  const px = new Uint8Array(size * size * 3);
  tokens.forEach((t, i) => {
    if (t <= 0) return;
    const colour = palette[Math.floor((t - 1) / 15)];
    const mask = ((t - 1) % 15) + 1;
    const [py, pxl] = [2 * Math.floor(i / GRID), 2 * (i % GRID)];
    BITS.forEach((bit, j) => {
      if (!(mask & bit)) return;
      const at = ((py + (j >> 1)) * size + pxl + (j & 1)) * 3;
      px.set(colour, at);
    });
  });
  return px;
}

/** Draw a sequence as a 16x16 image at (x, y), `cell` CSS px per pixel. Masked patches are grey
 * with a dot; positions in `mark` (a Set) get an outline of `markColor`. */
export function drawTokens(ctx, tokens, palette, { x = 0, y = 0, cell = 8, mark = null, markColor = "#d9480f" } = {}) {
  const side = 2 * GRID * cell;
  ctx.fillStyle = "#000";
  ctx.fillRect(x, y, side, side);
  const px = tokenPixels(tokens, palette);
  for (let r = 0; r < 2 * GRID; r++) {
    for (let c = 0; c < 2 * GRID; c++) {
      const at = (r * 2 * GRID + c) * 3;
      if (px[at] || px[at + 1] || px[at + 2]) {
        ctx.fillStyle = `rgb(${px[at]},${px[at + 1]},${px[at + 2]})`;
        ctx.fillRect(x + c * cell, y + r * cell, cell, cell);
      }
    }
  }
  const patch = 2 * cell;
  tokens.forEach((t, i) => {
    const [px0, py0] = [x + (i % GRID) * patch, y + Math.floor(i / GRID) * patch];
    if (t < 0) {
      ctx.fillStyle = MASKED_FILL;
      ctx.fillRect(px0 + 0.5, py0 + 0.5, patch - 1, patch - 1);
      ctx.fillStyle = MASKED_DOT;
      ctx.fillRect(px0 + patch / 2 - 1, py0 + patch / 2 - 1, 2, 2);
    }
    if (mark && mark.has(i)) {
      ctx.strokeStyle = markColor;
      ctx.lineWidth = 2;
      ctx.strokeRect(px0 + 1, py0 + 1, patch - 2, patch - 2);
    }
  });
}

/** The tokens visible after `call` network calls, given when each position was fixed. */
export function tokensAt(tokens, fixedAt, call) {
  return tokens.map((t, i) => (fixedAt[i] <= call ? t : -1));
}
