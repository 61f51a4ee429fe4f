// Lesson 11's 2D codebook trainer, the algorithm of generative/discrete/tokenizers/codebook2d.py
// with encoder="none": vector quantization directly on the points (vq.py), or FSQ (fsq.py), and
// the statistics of code_stats.py. Points are flat Float64Arrays [x0, y0, x1, y1, ...].
//
// Randomness is injected, never hidden: the trainer asks `pick(n, count)` for the batch rows a
// dead code restarts at, and the caller chooses the batches. The widget answers with its seeded
// rng; the parity test answers with the draws torch made, so both sides take the same path.
import { makeRng } from "./rng.js";

/** Adam as torch.optim.Adam (defaults betas 0.9, 0.999, eps 1e-8) on one flat parameter. */
export class Adam {
  constructor(size, { lr = 3e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8 } = {}) {
    Object.assign(this, { lr, beta1, beta2, eps, t: 0 });
    this.m = new Float64Array(size);
    this.v = new Float64Array(size);
  }

  step(param, grad) {
    const { beta1: b1, beta2: b2, eps, m, v } = this;
    this.t += 1;
    const stepSize = this.lr / (1 - b1 ** this.t);
    const bc2Sqrt = Math.sqrt(1 - b2 ** this.t);
    for (let i = 0; i < param.length; i++) {
      m[i] += (grad[i] - m[i]) * (1 - b1); // torch: exp_avg.lerp_(grad, 1 - beta1)
      v[i] = v[i] * b2 + (1 - b2) * grad[i] * grad[i];
      param[i] -= (stepSize * m[i]) / (Math.sqrt(v[i]) / bc2Sqrt + eps);
    }
  }
}

/** Index of the nearest code to (x, y): the expanded form |x|^2 - 2 x.e + |e|^2 of vq.py,
 * first index on ties (torch's argmin). */
export function nearest(e, K, x, y) {
  let best = 0;
  let bestD = Infinity;
  const xx = x * x + y * y;
  for (let k = 0; k < K; k++) {
    const ex = e[2 * k];
    const ey = e[2 * k + 1];
    const d = xx - 2 * (x * ex + y * ey) + (ex * ex + ey * ey);
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  return best;
}

/** A seeded `draw(n, weights)` for kmeans: an index in 0..n-1, uniform when weights is null or
 * sums to zero, else with probability proportional to weights[i] (torch.multinomial's law). */
export function rngDraw(rng) {
  return (n, weights = null) => {
    const total = weights ? weights.reduce((a, b) => a + b, 0) : 0;
    if (!(total > 0)) return Math.floor(rng.uniform() * n);
    let u = rng.uniform() * total;
    let j = 0;
    while (j < n - 1 && (u -= weights[j]) >= 0) j++;
    return j;
  };
}

/** vq.py's kmeans on n points: k-means++ seeding (each new centre drawn with probability ~ the
 * squared distance to the nearest centre so far), then Lloyd's iterations; an empty cluster keeps
 * its centre. draw(n, weights) makes the random choices (rngDraw, or torch's in the tests). */
export function kmeans(pts, n, K, draw, iters = 10) {
  const c = new Float64Array(2 * K);
  const first = draw(n, null);
  c.set([pts[2 * first], pts[2 * first + 1]], 0);
  const d2 = new Float64Array(n).fill(Infinity);
  for (let k = 1; k < K; k++) {
    for (let i = 0; i < n; i++) {
      const dx = pts[2 * i] - c[2 * (k - 1)];
      const dy = pts[2 * i + 1] - c[2 * (k - 1) + 1];
      d2[i] = Math.min(d2[i], dx * dx + dy * dy);
    }
    const j = draw(n, d2);
    c.set([pts[2 * j], pts[2 * j + 1]], 2 * k);
  }
  for (let it = 0; it < iters; it++) {
    const sum = new Float64Array(2 * K);
    const cnt = new Float64Array(K);
    for (let i = 0; i < n; i++) {
      const a = nearest(c, K, pts[2 * i], pts[2 * i + 1]);
      sum[2 * a] += pts[2 * i];
      sum[2 * a + 1] += pts[2 * i + 1];
      cnt[a] += 1;
    }
    for (let k = 0; k < K; k++) if (cnt[k] > 0) c.set([sum[2 * k] / cnt[k], sum[2 * k + 1] / cnt[k]], 2 * k);
  }
  return c;
}

/** The initial codebook of VectorQuantizer: N(0, I) codes, or all in a far corner (4 + 0.1 N(0, I)).
 * "kmeans" also starts from N(0, I); the trainer replaces it on the first batch. */
export function initCodebook(K, init, rng) {
  const e = new Float64Array(2 * K);
  for (let i = 0; i < 2 * K; i++) e[i] = init === "far" ? 4 + 0.1 * rng.normal() : rng.normal();
  return e;
}

/** VectorQuantizer (vq.py) in training mode with no encoder: the codes learn from the codebook
 * loss by Adam (update "loss") or are running means (update "ema"); either way running counts
 * find the dead codes, which restart at batch points when deadThreshold > 0. */
export class VQ2D {
  constructor({ K, codebook, update = "loss", decay = 0.99, beta = 0.25, deadThreshold = 0, lr = 3e-3, kmeansInit = false, eps = 1e-5 }) {
    Object.assign(this, { K, update, decay, beta, deadThreshold, eps, kmeansInit });
    this.e = Float64Array.from(codebook);
    this.count = new Float64Array(K).fill(1); // every code starts as if it held one vector
    this.sum = Float64Array.from(this.e);
    this.adam = new Adam(2 * K, { lr });
    this.restarts = 0;
  }

  setCodebook(e) {
    this.e.set(e);
    for (let i = 0; i < 2 * this.K; i++) this.sum[i] = e[i] * this.count[i >> 1];
  }

  /** One training step on a batch of m points; pick(n, count) chooses the batch rows dead codes
   * restart at, draw(n, weights) the k-means seeds (first step of a k-means init only). */
  step(batch, m, pick, draw = null) {
    const { K, e } = this;
    if (this.kmeansInit) {
      this.setCodebook(kmeans(batch, m, K, draw));
      this.kmeansInit = false;
    }
    const idx = new Int32Array(m);
    const grad = new Float64Array(2 * K);
    const n = new Float64Array(K);
    const s = new Float64Array(2 * K);
    let sq = 0;
    for (let i = 0; i < m; i++) {
      const x = batch[2 * i];
      const y = batch[2 * i + 1];
      const k = nearest(e, K, x, y);
      idx[i] = k;
      const dx = e[2 * k] - x;
      const dy = e[2 * k + 1] - y;
      sq += dx * dx + dy * dy;
      // d/de_k of mean over the m x 2 entries of (q - sg[x])^2, the codebook loss
      grad[2 * k] += (2 * dx) / (2 * m);
      grad[2 * k + 1] += (2 * dy) / (2 * m);
      n[k] += 1;
      s[2 * k] += x;
      s[2 * k + 1] += y;
    }
    const commit = sq / (2 * m);
    this.emaStep(batch, m, n, s, pick);
    if (this.update === "loss") this.adam.step(e, grad); // the gradient was taken before the restart
    const codebookLoss = this.update === "loss" ? commit : 0;
    return { idx, commit, codebookLoss, loss: this.beta * commit + codebookLoss, error: sq / m };
  }

  /** vq.py's ema_step: running counts always, the EMA codebook for update "ema", then restarts. */
  emaStep(batch, m, n, s, pick) {
    const { K, e, count, sum, decay: g, eps } = this;
    for (let k = 0; k < K; k++) count[k] = count[k] * g + (1 - g) * n[k];
    if (this.update === "ema") {
      let total = 0;
      for (let k = 0; k < K; k++) total += count[k];
      for (let k = 0; k < K; k++) {
        const smoothed = ((count[k] + eps) / (total + K * eps)) * total; // Laplace smoothing
        for (let d = 0; d < 2; d++) {
          sum[2 * k + d] = sum[2 * k + d] * g + (1 - g) * s[2 * k + d];
          e[2 * k + d] = sum[2 * k + d] / smoothed;
        }
      }
    }
    if (this.deadThreshold > 0) {
      const dead = [];
      for (let k = 0; k < K; k++) if (count[k] < this.deadThreshold) dead.push(k);
      if (!dead.length) return;
      const rows = pick(m, dead.length);
      dead.forEach((k, j) => {
        for (let d = 0; d < 2; d++) {
          e[2 * k + d] = batch[2 * rows[j] + d];
          sum[2 * k + d] = batch[2 * rows[j] + d] * this.deadThreshold;
        }
        count[k] = this.deadThreshold;
      });
      this.restarts += dead.length;
    }
  }

  assign(x, y) {
    return nearest(this.e, this.K, x, y);
  }

  positions() {
    return this.e;
  }
}

/** torch.round: halves go to the even neighbour. */
export function roundHalfEven(x) {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** FSQ (fsq.py) on 2D points with no encoder: a fixed grid, nothing to learn. */
export class FSQ2D {
  constructor(levels, eps = 1e-3) {
    this.levels = levels.map(Number);
    this.K = this.levels.reduce((a, b) => a * b, 1);
    this.halfL = this.levels.map((L) => ((L - 1) * (1 + eps)) / 2);
    this.offset = this.levels.map((L) => (L % 2 === 0 ? 0.5 : 0));
    this.shift = this.levels.map((_, i) => Math.atanh(this.offset[i] / this.halfL[i]));
    this.halfWidth = this.levels.map((L) => Math.floor(L / 2));
    this.basis = this.levels.map((_, i) => this.levels.slice(0, i).reduce((a, b) => a * b, 1));
    this.e = new Float64Array(2 * this.K);
    for (let k = 0; k < this.K; k++) this.e.set(this.indexToCode(k), 2 * k);
  }

  /** The bounded tanh, h in (-L/2, L/2), shaped so that rounding gives exactly L values. */
  bound(z, i) {
    return Math.tanh(z + this.shift[i]) * this.halfL[i] - this.offset[i];
  }

  /** [codes in [-1, 1], index] of one point. */
  quantize(p) {
    const code = p.map((z, i) => roundHalfEven(this.bound(z, i)) / this.halfWidth[i]);
    const index = code.reduce((a, c, i) => a + Math.round(c * this.halfWidth[i] + this.halfWidth[i]) * this.basis[i], 0);
    return [code, index];
  }

  indexToCode(k) {
    return this.levels.map((L, i) => ((Math.floor(k / this.basis[i]) % L) - this.halfWidth[i]) / this.halfWidth[i]);
  }

  assign(x, y) {
    return this.quantize([x, y])[1];
  }

  positions() {
    return this.e;
  }
}

/** code_stats.py over a held-out pass: counts per code, usage, perplexity, mean squared error. */
export function codeStats(q, pts, n) {
  const counts = new Float64Array(q.K);
  let err = 0;
  const e = q.positions();
  for (let i = 0; i < n; i++) {
    const k = q.assign(pts[2 * i], pts[2 * i + 1]);
    counts[k] += 1;
    err += (pts[2 * i] - e[2 * k]) ** 2 + (pts[2 * i + 1] - e[2 * k + 1]) ** 2;
  }
  let h = 0;
  let used = 0;
  for (const c of counts) {
    if (c > 0) {
      used += 1;
      h -= (c / n) * Math.log(c / n);
    }
  }
  return { counts, used, usage: used / q.K, perplexity: Math.exp(h), reconMse: err / (2 * n) };
}

/** n points of a 2D set, raw: sklearn-like moons (noise 0.03, upper half first) or 8 Gaussians
 * (radius 2, std 0.1, point i around centre i mod 8). Seeded draws of the same distributions
 * as codebook2d.draw_points, not the same numbers. */
export function drawPoints(name, n, seed) {
  const rng = makeRng(seed);
  const out = new Float64Array(2 * n);
  const half = Math.floor(n / 2);
  for (let i = 0; i < n; i++) {
    let p;
    if (name === "moons") {
      const upper = i < half;
      const j = upper ? i : i - half;
      const a = (Math.PI * j) / Math.max((upper ? half : n - half) - 1, 1);
      p = upper ? [Math.cos(a), Math.sin(a)] : [1 - Math.cos(a), 0.5 - Math.sin(a)];
      p = [p[0] + 0.03 * rng.normal(), p[1] + 0.03 * rng.normal()];
    } else {
      const a = (2 * Math.PI * (i % 8)) / 8;
      p = [2 * Math.cos(a) + 0.1 * rng.normal(), 2 * Math.sin(a) + 0.1 * rng.normal()];
    }
    out.set(p, 2 * i);
  }
  return out;
}

/** Training and held-out points standardized per axis by the training set's mean and std. */
export function points(name, nTrain, nEval, seed) {
  const train = drawPoints(name, nTrain, seed);
  const held = drawPoints(name, nEval, seed + 10000);
  for (let d = 0; d < 2; d++) {
    let mean = 0;
    let sq = 0;
    for (let i = 0; i < nTrain; i++) mean += train[2 * i + d] / nTrain;
    for (let i = 0; i < nTrain; i++) sq += (train[2 * i + d] - mean) ** 2 / nTrain;
    const std = sq > 0 ? Math.sqrt(sq) : 1;
    for (const a of [train, held]) for (let i = 0; i < a.length / 2; i++) a[2 * i + d] = (a[2 * i + d] - mean) / std;
  }
  return { train, held };
}
