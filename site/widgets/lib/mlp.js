// The course's residual MLP (generative/continuous/mlp.py) in the browser, from weights baked by
// site/bake.py. Same forward pass:
//   c = TimestepEmbedder(t) [+ LabelEmbedder(y)]          (embeddings.py)
//   h = inp(x); for each block: h = h + fc2(silu(fc1(silu(h)) + c)); out = Linear(silu(h))
// Two implementations: `forwardReference`, plain float64 JS that reads like mlp.py, and
// `forward`, the same arithmetic in float32 on the WebAssembly SIMD kernels of kernels.js (the
// fast path every widget uses; it falls back to the reference where SIMD is missing). Both are
// checked against torch in tests/test_site_models.py.
import { instantiate, kernelModule } from "./kernels.js";

/** Fetch a baked model by name (site/baked/<name>.json) and build it. */
export async function loadBaked(name) {
  const res = await fetch(new URL(`../../baked/${name}.json`, import.meta.url));
  if (!res.ok) throw new Error(`baked file '${name}.json' could not be loaded (${res.status})`);
  return res.json();
}

export async function loadMLP(name) {
  return new MLP(await loadBaked(name));
}

/** A baked tensor: base64 of little-endian float32, row-major. */
function decode({ shape, b64 }) {
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return { shape, data: new Float32Array(bytes.buffer) };
}

const silu = (v) => v / (1 + Math.exp(-v));
const TILE = 64; // rows per pass of the fast path: three 64 x width activation buffers fit in L1
const f32 = Math.fround;

/** out = W x + b for one vector; W (J, K) row-major as torch's nn.Linear stores it. */
function linear(W, b, x, J, K, out) {
  for (let j = 0; j < J; j++) {
    let s = b[j];
    for (let k = 0; k < K; k++) s += W[j * K + k] * x[k];
    out[j] = s;
  }
  return out;
}

export class MLP {
  /** kernels: null for the best WebAssembly flavour this browser has, "simd" or "relaxed-simd"
   * to ask for one (tests), "reference" for plain JS only. */
  constructor(baked, { kernels = null } = {}) {
    if (baked.kind !== "mlp") throw new Error(`${baked.name}: not a baked MLP (kind ${baked.kind})`);
    Object.assign(this, {
      name: baked.name, method: baked.method, width: baked.width, depth: baked.depth, dim: baked.dim,
      tScale: baked.t_scale, freqDim: baked.freq_dim, numClasses: baked.num_classes,
      standardizer: baked.standardizer, losses: baked.losses,
    });
    this.freqs = decode(baked.freqs).data; // float32, exactly torch's
    const T = Object.fromEntries(Object.entries(baked.tensors).map(([k, v]) => [k, decode(v).data]));
    this.p = T;
    this.blocks = Array.from({ length: this.depth }, (_, i) => ({
      W1: T[`blocks.${i}.fc1.weight`], b1: T[`blocks.${i}.fc1.bias`],
      W2: T[`blocks.${i}.fc2.weight`], b2: T[`blocks.${i}.fc2.bias`],
    }));
    const module = kernels === "reference" ? null : kernelModule(kernels);
    this.fast = module ? new FastMLP(this, module) : null;
    this.kernels = module ? module.flavour : "reference";
  }

  // region: condition
  /** c = t_embedder(t) + y_embedder(y) for one scalar time and label (null: the null label).
   * The sinusoid's argument is rounded to float32 step by step as torch computes it, since at
   * t_scale = 1000 a float32 rounding of t * t_scale moves cos by up to 1e-4. */
  condition(t, y = null) {
    const { width: W, freqDim: F, freqs, p } = this;
    const half = F / 2;
    const tt = f32(f32(t) * f32(this.tScale));
    const emb = new Float64Array(F);
    for (let i = 0; i < half; i++) {
      const a = f32(tt * freqs[i]);
      emb[i] = Math.cos(a);
      emb[half + i] = Math.sin(a);
    }
    const h = linear(p["t_embedder.mlp.0.weight"], p["t_embedder.mlp.0.bias"], emb, W, F, new Float64Array(W));
    for (let j = 0; j < W; j++) h[j] = silu(h[j]);
    const c = linear(p["t_embedder.mlp.2.weight"], p["t_embedder.mlp.2.bias"], h, W, W, new Float64Array(W));
    if (this.numClasses) {
      const label = y === null || y === undefined ? this.numClasses : y;
      if (!(label >= 0 && label <= this.numClasses)) throw new Error(`label ${y} out of range`);
      const table = p["y_embedder.table.weight"];
      for (let j = 0; j < W; j++) c[j] += table[label * W + j];
    }
    return c;
  }
  // endregion

  /** The network on n points x (n * dim numbers, row-major) at one time t and label y; writes
   * and returns out (n * dim). Fast float32 path when available. */
  forward(x, n, t, y = null, out = new Float64Array(n * this.dim)) {
    if (this.fast) return this.fast.forward(x, n, this.condition(t, y), out);
    return this.forwardReference(x, n, t, y, out);
  }

  // region: forward
  /** The forward pass in plain float64 JS, one point at a time, exactly as mlp.py reads. */
  forwardReference(x, n, t, y = null, out = new Float64Array(n * this.dim)) {
    const { width: W, dim: D, p } = this;
    const c = this.condition(t, y);
    const h = new Float64Array(W);
    const a = new Float64Array(W);
    const u = new Float64Array(W);
    const xi = new Float64Array(D);
    const o = new Float64Array(D);
    for (let i = 0; i < n; i++) {
      for (let d = 0; d < D; d++) xi[d] = x[i * D + d];
      linear(p["inp.weight"], p["inp.bias"], xi, W, D, h);
      for (const { W1, b1, W2, b2 } of this.blocks) {
        for (let j = 0; j < W; j++) a[j] = silu(h[j]);
        linear(W1, b1, a, W, W, u);
        for (let j = 0; j < W; j++) u[j] = silu(u[j] + c[j]);
        linear(W2, b2, u, W, W, a);
        for (let j = 0; j < W; j++) h[j] += a[j];
      }
      for (let j = 0; j < W; j++) a[j] = silu(h[j]);
      linear(p["out.1.weight"], p["out.1.bias"], a, D, W, o);
      for (let d = 0; d < D; d++) out[i * D + d] = o[d];
    }
    return out;
  }
  // endregion
}

/** The same network on the SIMD kernels: weights transposed to (in, out) float32 in the
 * kernel's memory, activations (n, width) row-major, one kernel call per layer for all points. */
class FastMLP {
  constructor(net, module) {
    this.module = module;
    const { width: W, dim: D, p } = net;
    if (W % 4) throw new Error("the fast MLP needs a width divisible by 4");
    this.W = W;
    this.D = D;
    this.outCols = 4; // the output layer padded to one SIMD vector of columns
    this.dense = W % 16 === 0 ? "dense16x2" : "dense4"; // x2: two rows per pass (n padded to even)
    this.silu = W % 8 === 0 ? "silu16" : "silu"; // 16 numbers per iteration: an even row count x W
    const transposed = (Wt, J, K, cols = J) => {
      const m = new Float32Array(K * cols); // (K, cols), zero columns past J
      for (let j = 0; j < J; j++) for (let k = 0; k < K; k++) m[k * cols + j] = Wt[j * K + k];
      return m;
    };
    const padded = (b, cols) => Float32Array.from({ length: cols }, (_, j) => (j < b.length ? b[j] : 0));
    this.weights = {
      inp: transposed(p["inp.weight"], W, D), inpB: p["inp.bias"],
      out: transposed(p["out.1.weight"], D, W, this.outCols), outB: padded(p["out.1.bias"], this.outCols),
    };
    net.blocks.forEach(({ W1, W2, b2 }, i) => {
      Object.assign(this.weights, { [`W1_${i}`]: transposed(W1, W, W), [`W2_${i}`]: transposed(W2, W, W), [`b2_${i}`]: b2 });
    });
    this.b1 = net.blocks.map((b) => b.b1); // fc1's bias, added to c on every call
    this.depth = net.blocks.length;
    this.capacity = 0;
  }

  /** (Re)allocate the kernel memory: weights, then inputs and outputs for `n` points, then
   * activations for one tile of TILE rows (small enough to stay in the CPU's L1 cache). */
  allocate(n) {
    const { W, weights } = this;
    let offset = 0;
    const place = (len) => {
      const at = offset;
      offset += Math.ceil(len / 4) * 4 * 4; // bytes, 16-aligned
      return at;
    };
    const at = {};
    for (const [k, v] of Object.entries(weights)) at[k] = place(v.length);
    for (let i = 0; i < this.depth; i++) at[`cb_${i}`] = place(W); // fc1 bias + c, per call
    Object.assign(at, { X: place(n * this.D), O: place(n * this.outCols) });
    Object.assign(at, { H: place(TILE * W), A: place(TILE * W), U: place(TILE * W) });
    this.k = instantiate(this.module, offset);
    this.f = new Float32Array(this.k.memory.buffer);
    for (const [k, v] of Object.entries(weights)) this.f.set(v, at[k] / 4);
    this.at = at;
    this.capacity = n;
  }

  forward(x, n, c, out) {
    const { W, D, outCols } = this;
    const rows = n + (n % 2); // an even row count for the two-row kernel; the pad row is ignored
    if (rows > this.capacity) this.allocate(Math.max(rows, 2 * this.capacity));
    const { at, f } = this;
    f.set(x.subarray(0, n * D), at.X / 4); // float32, as torch holds x
    f.fill(0, at.X / 4 + n * D, at.X / 4 + rows * D);
    for (let i = 0; i < this.depth; i++) {
      const cb = at[`cb_${i}`] / 4;
      const b1 = this.b1[i];
      for (let j = 0; j < W; j++) f[cb + j] = b1[j] + c[j];
    }
    const { dense4 } = this.k;
    const dense = this.k[this.dense];
    const silu = this.k[this.silu];
    for (let r0 = 0; r0 < rows; r0 += TILE) {
      const m = Math.min(TILE, rows - r0); // even: TILE and rows are
      dense4(at.X + 4 * r0 * D, D, at.inp, at.inpB, at.H, W, m, 0);
      for (let i = 0; i < this.depth; i++) {
        silu(at.H, at.A, m * W);
        dense(at.A, W, at[`W1_${i}`], at[`cb_${i}`], at.U, W, m, 0);
        silu(at.U, at.U, m * W);
        dense(at.U, W, at[`W2_${i}`], at[`b2_${i}`], at.H, W, m, 1); // h += fc2(...)
      }
      silu(at.H, at.A, m * W);
      dense4(at.A, W, at.out, at.outB, at.O + 4 * r0 * outCols, outCols, m, 0);
    }
    const O = at.O / 4;
    for (let i = 0; i < n; i++) for (let d = 0; d < D; d++) out[i * D + d] = f[O + i * outCols + d];
    return out;
  }
}
