// WebAssembly SIMD kernels for the browser MLP (mlp.js): dense layers (one or two rows per pass)
// and an elementwise SiLU, in float32 like torch. Plain JS (mlp.js's reference path) is about 20x
// too slow for a 2000-point, 32-evaluation redraw in 50 ms; 128-bit SIMD (four float32 lanes),
// with a fused multiply-add where the browser has relaxed SIMD, closes the gap. The module is
// assembled here, byte by byte, so the site needs no compiler toolchain: each instruction below
// is named after its WebAssembly text-format mnemonic.

// ---- encoding ------------------------------------------------------------------------------
const uleb = (n) => {
  const out = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
};
const sleb = (n) => {
  const out = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && !(b & 0x40)) || (n === -1 && b & 0x40)) return [...out, b];
    out.push(b | 0x80);
  }
};
const simd = (op) => [0xfd, ...uleb(op)];
const v128const = (typed) => [...simd(12), ...new Uint8Array(typed.buffer)];
const I32 = 0x7f;
const V128 = 0x7b;

const op = {
  "local.get": (i) => [0x20, ...uleb(i)],
  "local.set": (i) => [0x21, ...uleb(i)],
  "i32.const": (v) => [0x41, ...sleb(v)],
  "i32.add": [0x6a],
  "i32.mul": [0x6c],
  "i32.lt_s": [0x48],
  "i32.eqz": [0x45],
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  if: [0x04, 0x40],
  end: [0x0b],
  br: (depth) => [0x0c, depth],
  br_if: (depth) => [0x0d, depth],
  "f32.load": [0x2a, 2, 0], // align 2^2, offset 0
  "v128.load": (offset = 0) => [...simd(0), 4, ...uleb(offset)],
  "v128.store": (offset = 0) => [...simd(11), 4, ...uleb(offset)],
  "f32x4.splat": simd(19),
  "f32x4.const": (v) => v128const(new Float32Array([v, v, v, v])),
  "i32x4.const": (v) => v128const(new Int32Array([v, v, v, v])),
  "f32x4.add": simd(228),
  "f32x4.sub": simd(229),
  "f32x4.mul": simd(230),
  "f32x4.div": simd(231),
  "f32x4.min": simd(232),
  "f32x4.max": simd(233),
  "f32x4.nearest": simd(106),
  "f32x4.relaxed_madd": simd(261), // a * b + c, fused where the CPU has FMA (relaxed SIMD)
  "i32x4.trunc_sat_f32x4_s": simd(248),
  "i32x4.add": simd(174),
  "i32x4.shl": simd(171),
};
const get = op["local.get"];
const set = op["local.set"];
const i32 = op["i32.const"];

/** for (i = 0; i < n; i += step) body, with i and n local indices. */
function forLoop(i, n, step, body) {
  return [
    i32(0), set(i), op.block, op.loop,
    get(i), get(n), op["i32.lt_s"], op["i32.eqz"], op.br_if(1),
    ...body,
    get(i), i32(step), op["i32.add"], set(i), op.br(0), op.end, op.end,
  ].flat();
}

/** acc = acc + a * b on f32x4 (a, b: instruction lists): one relaxed fused multiply-add where
 * the browser has relaxed SIMD, else a multiply then an add. */
function accumulate(fma, acc, a, b) {
  const sum = fma ? [a, b, get(acc), op["f32x4.relaxed_madd"]] : [get(acc), a, b, op["f32x4.mul"], op["f32x4.add"]];
  return [...sum, set(acc)].flat();
}

/** The byte address base + 4 * index (both locals). */
const addr = (base, index) => [get(base), get(index), i32(4), op["i32.mul"], op["i32.add"]].flat();

// ---- kernels -------------------------------------------------------------------------------

/** dense(inp, K, wt, b, out, J, N, accumulate): for each of N rows,
 * out[p, :] (+)= b + inp[p, :] @ wt, with wt stored (K, J) row-major; J a multiple of 4 * G.
 * G vector accumulators per pass (16 outputs for G = 4) share one broadcast of inp[p, k]. */
function dense(G, fma) {
  // params 0 inp, 1 K, 2 wt, 3 b, 4 out, 5 J, 6 N, 7 accumulate (byte addresses, counts)
  // locals 8 p, 9 j, 10 k, 11 inpRow, 12 outRow, 13 wtPtr, 14..14+G-1 acc, 14+G broadcast
  const acc = (g) => 14 + g;
  const x = 14 + G;
  const kBody = [
    addr(11, 10), op["f32.load"], op["f32x4.splat"], set(x),
    ...Array.from({ length: G }, (_, g) => [
      accumulate(fma, acc(g), get(x), [get(13), op["v128.load"](16 * g)].flat()),
    ]),
    addr(13, 5), set(13), // next row of wt
  ].flat(2);
  const jBody = [
    ...Array.from({ length: G }, (_, g) => [addr(3, 9), op["v128.load"](16 * g), set(acc(g))]),
    addr(2, 9), set(13),
    forLoop(10, 1, 1, kBody),
    ...Array.from({ length: G }, (_, g) => [
      get(7), op.if, get(acc(g)), addr(12, 9), op["v128.load"](16 * g), op["f32x4.add"], set(acc(g)), op.end,
      addr(12, 9), get(acc(g)), op["v128.store"](16 * g),
    ]),
  ].flat(2);
  const pBody = [
    get(0), get(8), get(1), op["i32.mul"], i32(4), op["i32.mul"], op["i32.add"], set(11),
    get(4), get(8), get(5), op["i32.mul"], i32(4), op["i32.mul"], op["i32.add"], set(12),
    forLoop(9, 5, 4 * G, jBody),
  ].flat();
  return { params: 8, locals: [[6, I32], [G + 1, V128]], body: [...forLoop(8, 6, 1, pBody), ...op.end] };
}

/** dense2(inp, K, wt, b, out, J, N, accumulate): as dense(G), two rows per pass so each weight
 * vector loaded serves both (N even). */
function dense2(G, fma) {
  // locals 8 p, 9 j, 10 k, 11 inpRow0, 12 outRow0, 13 wtPtr, 14 inpRow1, 15 outRow1,
  // v128: 16..16+2G-1 acc (row 0 then row 1), then x0, x1, w
  const acc = (r, g) => 16 + r * G + g;
  const [x0, x1, w] = [16 + 2 * G, 17 + 2 * G, 18 + 2 * G];
  const kBody = [
    addr(11, 10), op["f32.load"], op["f32x4.splat"], set(x0),
    addr(14, 10), op["f32.load"], op["f32x4.splat"], set(x1),
    ...Array.from({ length: G }, (_, g) => [
      get(13), op["v128.load"](16 * g), set(w),
      accumulate(fma, acc(0, g), get(x0), get(w)),
      accumulate(fma, acc(1, g), get(x1), get(w)),
    ]),
    addr(13, 5), set(13),
  ].flat(2);
  const rows = [[0, 12], [1, 15]];
  const jBody = [
    ...rows.flatMap(([r]) => Array.from({ length: G }, (_, g) => [addr(3, 9), op["v128.load"](16 * g), set(acc(r, g))])),
    addr(2, 9), set(13),
    forLoop(10, 1, 1, kBody),
    ...rows.flatMap(([r, row]) => Array.from({ length: G }, (_, g) => [
      get(7), op.if, get(acc(r, g)), addr(row, 9), op["v128.load"](16 * g), op["f32x4.add"], set(acc(r, g)), op.end,
      addr(row, 9), get(acc(r, g)), op["v128.store"](16 * g),
    ])),
  ].flat(2);
  const pBody = [
    get(0), get(8), get(1), op["i32.mul"], i32(4), op["i32.mul"], op["i32.add"], set(11),
    get(11), get(1), i32(4), op["i32.mul"], op["i32.add"], set(14),
    get(4), get(8), get(5), op["i32.mul"], i32(4), op["i32.mul"], op["i32.add"], set(12),
    get(12), get(5), i32(4), op["i32.mul"], op["i32.add"], set(15),
    forLoop(9, 5, 4 * G, jBody),
  ].flat();
  return { params: 8, locals: [[8, I32], [2 * G + 3, V128]], body: [...forLoop(8, 6, 2, pBody), ...op.end] };
}

/** silu(U)(src, dst, n): dst = src * sigmoid(src) for n a multiple of 4U, U vectors per loop
 * iteration (independent work for the CPU to overlap). exp(-x) = 2^y with y = -x log2(e) clamped
 * to +-126: adding 1.5 * 2^23 rounds y to an integer n and leaves n in the low mantissa bits, from
 * which 2^n is built in the exponent bits; 2^(y - n) comes from a degree-6 Taylor polynomial
 * (relative error 1e-7, about float32's own). */
function silu(U) {
  // params 0 src, 1 dst, 2 n; locals 3 i; per vector u four v128 locals: x, y, t, r
  const MAGIC = 12582912; // 1.5 * 2^23, bit pattern 0x4b400000
  const f = (v) => op["f32x4.const"](v);
  const body = [];
  for (let u = 0; u < U; u++) {
    const [x, y, t, r] = [4, 5, 6, 7].map((k) => k + 4 * u);
    let poly = [f(Math.LN2 ** 6 / 720)];
    for (let d = 5; d >= 0; d--) poly = [...poly, get(r), op["f32x4.mul"], f(Math.LN2 ** d / factorial(d)), op["f32x4.add"]];
    body.push(
      addr(0, 3), op["v128.load"](16 * u), set(x),
      get(x), f(-Math.LOG2E), op["f32x4.mul"], f(-126), op["f32x4.max"], f(126), op["f32x4.min"], set(y),
      get(y), f(MAGIC), op["f32x4.add"], set(t), // t = MAGIC + round(y)
      get(y), get(t), f(MAGIC), op["f32x4.sub"], op["f32x4.sub"], set(r), // r = y - round(y)
      ...poly, // 2^r
      get(t), op["i32x4.const"](127 - 0x4b400000), op["i32x4.add"], i32(23), op["i32x4.shl"], // 2^round(y)
      op["f32x4.mul"], set(y), // exp(-x)
      addr(1, 3), get(x), f(1), get(y), op["f32x4.add"], op["f32x4.div"], op["v128.store"](16 * u),
    );
  }
  return { params: 3, locals: [[1, I32], [4 * U, V128]], body: [...forLoop(3, 2, 4 * U, body.flat()), ...op.end] };
}

function factorial(d) {
  return d <= 1 ? 1 : d * factorial(d - 1);
}

// ---- module --------------------------------------------------------------------------------
const vec = (items) => [...uleb(items.length), ...items.flat()];
const name = (s) => vec([...s].map((ch) => [ch.charCodeAt(0)]));
const section = (id, bytes) => [id, ...uleb(bytes.length), ...bytes];

function assemble(fns) {
  const types = vec(fns.map((f) => [0x60, ...vec(Array(f.params).fill([I32])), 0x00]));
  const imports = vec([[...name("env"), ...name("memory"), 0x02, 0x00, 1]]); // memory, min 1 page
  const code = vec(
    fns.map((f) => {
      const body = [...vec(f.locals.map(([n, t]) => [...uleb(n), t])), ...f.body];
      return [...uleb(body.length), ...body];
    }),
  );
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0, // "\0asm", version 1
    ...section(1, types),
    ...section(2, imports),
    ...section(3, vec(fns.map((_, i) => [i]))),
    ...section(7, vec(fns.map((f, i) => [...name(f.name), 0x00, i]))),
    ...section(10, code),
  ]);
}

const kernels = (fma) => [
  { name: "dense4", ...dense(1, fma) },
  { name: "dense16x2", ...dense2(4, fma) },
  { name: "silu", ...silu(1) },
  { name: "silu16", ...silu(4) },
];

const compiled = {}; // flavour -> WebAssembly.Module, or null where the browser lacks it
const FLAVOURS = { "relaxed-simd": true, simd: false }; // flavour -> uses relaxed_madd

/** The kernel module of one flavour ("relaxed-simd": fused multiply-add; "simd": plain 128-bit
 * SIMD), or with no flavour the best this browser validates; null where there is none. */
export function kernelModule(flavour = null) {
  if (flavour === null) {
    const best = Object.keys(FLAVOURS).find((f) => kernelModule(f));
    return best ? kernelModule(best) : null;
  }
  if (!(flavour in compiled)) {
    const bytes = assemble(kernels(FLAVOURS[flavour]));
    const ok = typeof WebAssembly === "object" && WebAssembly.validate(bytes);
    compiled[flavour] = ok ? Object.assign(new WebAssembly.Module(bytes), { flavour }) : null;
  }
  return compiled[flavour];
}

/** A kernel instance of `module` over its own memory of `bytes` (rounded up to 64 KiB pages). */
export function instantiate(module, bytes) {
  const memory = new WebAssembly.Memory({ initial: Math.ceil(bytes / 65536) + 1 });
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  return { memory, ...instance.exports };
}
