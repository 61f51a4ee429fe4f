// Drawing for lesson 11's codebook trainer: the cells (each pixel coloured by the code it is
// assigned to), the held-out points, the codes sized by their counts, and a bar per code.
import { COLORS } from "./plot.js";
import { makeRng } from "./rng.js";

export const LIM = 2.6; // standardized 2D data lies within about +-2 (codebook_figures.py's box)

/** The half-width of a view that holds the data and every code (a far-corner init starts near
 * (4, 4): the reader should see the winning code walk in), at most 6. */
export function viewLimit(e) {
  let m = LIM;
  for (const v of e) m = Math.max(m, Math.abs(v) + 0.4);
  return Math.min(m, 6);
}
const CELLS = 120; // cells per side of the assignment picture

/** A light colour per code, the same on every redraw. */
export function palette(K) {
  const rng = makeRng(11);
  return Array.from({ length: K }, () => [0, 1, 2].map(() => Math.round(255 * (0.5 + 0.5 * rng.uniform()))));
}

/** Paint the view [-lim, lim]^2 by assigned code: q.assign(x, y) at the centre of each cell. */
export function drawCells(plot, q, colours, lim = LIM) {
  const img = new ImageData(CELLS, CELLS);
  for (let r = 0; r < CELLS; r++) {
    const y = lim - ((r + 0.5) / CELLS) * 2 * lim;
    for (let c = 0; c < CELLS; c++) {
      const x = -lim + ((c + 0.5) / CELLS) * 2 * lim;
      const rgb = colours[q.assign(x, y)];
      img.data.set([rgb[0], rgb[1], rgb[2], 255], 4 * (r * CELLS + c));
    }
  }
  const off = document.createElement("canvas");
  off.width = off.height = CELLS;
  off.getContext("2d").putImageData(img, 0, 0);
  const { ctx } = plot;
  ctx.imageSmoothingEnabled = false;
  const x0 = plot.px(-lim);
  const y0 = plot.py(lim);
  ctx.drawImage(off, x0, y0, plot.px(lim) - x0, plot.py(-lim) - y0);
}

/** Codes as dots sized by count; codes never hit are red crosses (as in exp20's figure). */
export function drawCodes(plot, e, counts) {
  const { ctx } = plot;
  const top = Math.max(1, ...counts);
  plot.clipped(() => {
    for (let k = 0; k < counts.length; k++) {
      const x = plot.px(e[2 * k]);
      const y = plot.py(e[2 * k + 1]);
      if (counts[k] > 0) {
        ctx.fillStyle = COLORS.ink;
        ctx.beginPath();
        ctx.arc(x, y, 2 + 5 * Math.sqrt(counts[k] / top), 0, 2 * Math.PI);
        ctx.fill();
      } else {
        ctx.strokeStyle = "#e03131";
        ctx.lineWidth = 1.5;
        ctx.beginPath();
        ctx.moveTo(x - 4, y - 4);
        ctx.lineTo(x + 4, y + 4);
        ctx.moveTo(x - 4, y + 4);
        ctx.lineTo(x + 4, y - 4);
        ctx.stroke();
      }
    }
  });
  // codes outside the view (only past the cap of viewLimit) are counted, not lost
  const lim = plot.xlim[1];
  let out = 0;
  for (let k = 0; k < counts.length; k++) if (Math.max(Math.abs(e[2 * k]), Math.abs(e[2 * k + 1])) > lim) out++;
  if (out) plot.text(`${out} code(s) outside the view`, [lim, lim], { dx: -4, dy: 14, align: "right", color: "#e03131" });
}

/** One bar per code (its held-out count), tallest first; dead codes are a red tick at zero. */
export function drawCounts(canvas, counts, colours) {
  const dpr = window.devicePixelRatio || 1;
  const width = canvas.parentElement ? canvas.parentElement.clientWidth : 480;
  const height = 70;
  canvas.width = Math.round(width * dpr);
  canvas.height = Math.round(height * dpr);
  canvas.style.height = `${height}px`;
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, width, height);
  const order = [...counts.keys()].sort((a, b) => counts[b] - counts[a]);
  const top = Math.max(1, ...counts);
  const w = (width - 8) / counts.length;
  order.forEach((k, i) => {
    const h = ((height - 16) * counts[k]) / top;
    ctx.fillStyle = counts[k] > 0 ? `rgb(${colours[k].map((v) => v - 60).join(",")})` : "#e03131";
    ctx.fillRect(4 + i * w, height - 12 - Math.max(h, counts[k] > 0 ? 1 : 2), Math.max(w - 1, 1), Math.max(h, counts[k] > 0 ? 1 : 2));
  });
  ctx.fillStyle = "#868e96";
  ctx.font = "11px system-ui, sans-serif";
  ctx.fillText("held-out hits per code, most used first (red: never hit)", 4, height - 1);
}
