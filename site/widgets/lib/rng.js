// Seeded randomness for widgets: the same seed draws the same cloud on every reload and in tests.
// mulberry32 (a 32-bit state, good enough for pictures) and Box-Muller for Gaussians.

/** A generator with uniform(), normal() and normals(n, d) (an array of n points of d numbers). */
export function makeRng(seed = 0) {
  let state = seed >>> 0;
  let spare = null; // Box-Muller draws two normals at a time; keep the second one
  function uniform() {
    state = (state + 0x6d2b79f5) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 15), z | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    return ((z ^ (z >>> 14)) >>> 0) / 4294967296; // in [0, 1)
  }
  function normal() {
    if (spare !== null) {
      const z = spare;
      spare = null;
      return z;
    }
    const u1 = 1 - uniform(); // in (0, 1]: log(u1) stays finite
    const u2 = uniform();
    const r = Math.sqrt(-2 * Math.log(u1));
    spare = r * Math.sin(2 * Math.PI * u2);
    return r * Math.cos(2 * Math.PI * u2);
  }
  function normals(n, d = 2) {
    return Array.from({ length: n }, () => Array.from({ length: d }, normal));
  }
  return { uniform, normal, normals };
}

/** Two interleaving half-circles with Gaussian noise (sklearn's make_moons, raw coordinates). */
export function rawMoons(n, noise = 0.05, seed = 0) {
  const rng = makeRng(seed);
  const nUpper = Math.floor(n / 2);
  const pts = [];
  for (let i = 0; i < n; i++) {
    const upper = i < nUpper;
    const m = upper ? nUpper : n - nUpper;
    const j = upper ? i : i - nUpper;
    const a = (Math.PI * j) / Math.max(m - 1, 1);
    const p = upper ? [Math.cos(a), Math.sin(a)] : [1 - Math.cos(a), 0.5 - Math.sin(a)];
    pts.push([p[0] + noise * rng.normal(), p[1] + noise * rng.normal()]);
  }
  return pts;
}

/** The moons standardized per axis, the coordinates every model of the course trains in. */
export function moons(n, noise = 0.05, seed = 0) {
  return standardize(rawMoons(n, noise, seed));
}

/** Per-axis zero mean and unit standard deviation (the package's coordinates). */
export function standardize(pts) {
  const d = pts[0].length;
  const mean = new Array(d).fill(0);
  const sq = new Array(d).fill(0);
  for (const p of pts) for (let k = 0; k < d; k++) mean[k] += p[k] / pts.length;
  for (const p of pts) for (let k = 0; k < d; k++) sq[k] += (p[k] - mean[k]) ** 2 / pts.length;
  return pts.map((p) => p.map((v, k) => (v - mean[k]) / Math.sqrt(sq[k])));
}
