// Canvas helpers shared by the widgets: a plot that maps world coordinates to CSS pixels, sized to
// its container on every draw (sharp on high-DPI screens, legible on a 375 px phone).

export const COLORS = {
  noise: "#8a94a6",
  data: "#d9480f",
  path: "#1c7ed6",
  alt: "#2f9e44",
  ink: "#212529",
  grid: "#e9ecef",
  faint: "rgba(28, 126, 214, 0.25)",
};

/** A canvas appended to `parent`, with CSS width 100% and height = width * aspect. */
export function makeCanvas(parent, { aspect = 0.75, label = "" } = {}) {
  const canvas = document.createElement("canvas");
  canvas.dataset.aspect = String(aspect);
  canvas.setAttribute("role", "img");
  if (label) canvas.setAttribute("aria-label", label);
  parent.appendChild(canvas);
  return canvas;
}

export class Plot {
  /** xlim/ylim: [min, max] of the world box shown; pad: margin in CSS pixels for labels. */
  constructor(canvas, { xlim = [-3, 3], ylim = [-3, 3], pad = 28 } = {}) {
    Object.assign(this, { canvas, xlim, ylim, pad });
    this.ctx = canvas.getContext("2d");
  }

  /** Resize the backing store to the displayed size; call at the start of each draw. */
  fit() {
    const { canvas } = this;
    const dpr = window.devicePixelRatio || 1;
    const width = canvas.parentElement ? canvas.parentElement.clientWidth : 480;
    const height = Math.round(width * Number(canvas.dataset.aspect || 0.75));
    if (canvas.width !== Math.round(width * dpr) || canvas.height !== Math.round(height * dpr)) {
      canvas.width = Math.round(width * dpr);
      canvas.height = Math.round(height * dpr);
      canvas.style.height = `${height}px`;
    }
    this.width = width;
    this.height = height;
    this.ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    this.ctx.clearRect(0, 0, width, height);
    return this;
  }

  /** Run draw() with the canvas clipped to the frame: nothing it draws reaches the axes'
   * labels or the margin (points far outside simply vanish; the widgets count them). */
  clipped(draw) {
    const { ctx, xlim, ylim } = this;
    ctx.save();
    ctx.beginPath();
    ctx.rect(this.px(xlim[0]), this.py(ylim[1]), this.px(xlim[1]) - this.px(xlim[0]), this.py(ylim[0]) - this.py(ylim[1]));
    ctx.clip();
    try {
      return draw();
    } finally {
      ctx.restore();
    }
  }

  px(x) {
    const [a, b] = this.xlim;
    return this.pad + ((x - a) / (b - a)) * (this.width - 2 * this.pad);
  }

  py(y) {
    const [a, b] = this.ylim;
    return this.height - this.pad - ((y - a) / (b - a)) * (this.height - 2 * this.pad);
  }

  /** A light frame with the zero lines and tick labels at the box ends. */
  axes({ xlabel = "", ylabel = "" } = {}) {
    const { ctx, xlim, ylim } = this;
    ctx.strokeStyle = COLORS.grid;
    ctx.lineWidth = 1;
    ctx.strokeRect(this.px(xlim[0]), this.py(ylim[1]), this.px(xlim[1]) - this.px(xlim[0]), this.py(ylim[0]) - this.py(ylim[1]));
    if (xlim[0] < 0 && xlim[1] > 0) this.segment([0, ylim[0]], [0, ylim[1]], { color: COLORS.grid });
    if (ylim[0] < 0 && ylim[1] > 0) this.segment([xlim[0], 0], [xlim[1], 0], { color: COLORS.grid });
    const f = (v) => String(Number(v.toPrecision(3)));
    this.text(f(xlim[0]), [xlim[0], ylim[0]], { dy: 14, align: "left" });
    this.text(f(xlim[1]), [xlim[1], ylim[0]], { dy: 14, align: "right" });
    // y labels run vertically just left of the frame: they need 14 px, not a number's width,
    // and keep the frame's corners free for the widgets' own titles
    this.vtext(f(ylim[0]), ylim[0], "left");
    this.vtext(f(ylim[1]), ylim[1], "right");
    if (xlabel) this.text(xlabel, [(xlim[0] + xlim[1]) / 2, ylim[0]], { dy: 14 });
    if (ylabel) this.vtext(ylabel, (ylim[0] + ylim[1]) / 2, "center");
  }

  /** Text rotated to read upward, left of the frame at height y. */
  vtext(str, y, align) {
    const { ctx } = this;
    ctx.save();
    ctx.translate(this.px(this.xlim[0]) - 3, this.py(y));
    ctx.rotate(-Math.PI / 2);
    ctx.fillStyle = "#868e96";
    ctx.font = "11px system-ui, sans-serif";
    ctx.textAlign = align;
    ctx.textBaseline = "bottom";
    ctx.fillText(str, 0, 0);
    ctx.restore();
  }

  /** Dots at each [x, y]; color may be a string or a function of the point's index. */
  points(pts, { color = COLORS.path, r = 2, alpha = 0.8 } = {}) {
    const { ctx } = this;
    this.clipped(() => {
      ctx.globalAlpha = alpha;
      pts.forEach((p, i) => {
        ctx.fillStyle = typeof color === "function" ? color(i) : color;
        ctx.beginPath();
        ctx.arc(this.px(p[0]), this.py(p[1]), r, 0, 2 * Math.PI);
        ctx.fill();
      });
      ctx.globalAlpha = 1;
    });
  }

  /** A polyline through [x, y] points. */
  line(pts, { color = COLORS.path, width = 1.5, dash = [] } = {}) {
    const { ctx } = this;
    ctx.strokeStyle = color;
    ctx.lineWidth = width;
    ctx.setLineDash(dash);
    this.clipped(() => {
      ctx.beginPath();
      pts.forEach((p, i) => (i ? ctx.lineTo(this.px(p[0]), this.py(p[1])) : ctx.moveTo(this.px(p[0]), this.py(p[1]))));
      ctx.stroke();
    });
    ctx.setLineDash([]);
  }

  segment(p, q, opts = {}) {
    this.line([p, q], { width: 1, ...opts });
  }

  /** An arrow from p to p + v (world units). */
  arrow(p, v, { color = COLORS.ink, width = 1, head = 5 } = {}) {
    const { ctx } = this;
    const x0 = this.px(p[0]);
    const y0 = this.py(p[1]);
    const x1 = this.px(p[0] + v[0]);
    const y1 = this.py(p[1] + v[1]);
    const ang = Math.atan2(y1 - y0, x1 - x0);
    ctx.strokeStyle = color;
    ctx.fillStyle = color;
    ctx.lineWidth = width;
    this.clipped(() => {
      ctx.beginPath();
      ctx.moveTo(x0, y0);
      ctx.lineTo(x1, y1);
      ctx.stroke();
      ctx.beginPath();
      ctx.moveTo(x1, y1);
      ctx.lineTo(x1 - head * Math.cos(ang - 0.4), y1 - head * Math.sin(ang - 0.4));
      ctx.lineTo(x1 - head * Math.cos(ang + 0.4), y1 - head * Math.sin(ang + 0.4));
      ctx.fill();
    });
  }

  /** Text at a world point, offset by (dx, dy) CSS pixels. */
  text(str, p, { dx = 0, dy = 0, align = "center", color = COLORS.ink, size = 12 } = {}) {
    const { ctx } = this;
    ctx.fillStyle = color;
    ctx.font = `${size}px system-ui, sans-serif`;
    ctx.textAlign = align;
    ctx.fillText(str, this.px(p[0]) + dx, this.py(p[1]) + dy);
  }

  /** World coordinates of a pointer event on the canvas. */
  toWorld(event) {
    const rect = this.canvas.getBoundingClientRect();
    const x = event.clientX - rect.left;
    const y = event.clientY - rect.top;
    const [xa, xb] = this.xlim;
    const [ya, yb] = this.ylim;
    return [
      xa + ((x - this.pad) / (this.width - 2 * this.pad)) * (xb - xa),
      ya + ((this.height - this.pad - y) / (this.height - 2 * this.pad)) * (yb - ya),
    ];
  }
}
