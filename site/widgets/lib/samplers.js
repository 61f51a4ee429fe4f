// The package's samplers on flat point arrays (n points of `dim` numbers, row-major, float64):
//   flow matching: fixed-step Euler, midpoint, Heun, RK4 (flow_matching.solve_ode),
//   DDPM: the ancestral chain with sigma^2 = beta or beta-tilde, and DDIM, both on the same
//   respaced step subset as diffusion.py; classifier-free guidance (sampling.guided).
// A "net" here is net(x, n, t, out): it writes the network's output for all n points at one time
// t into out. Noise comes from normal(buf), which fills buf with standard normals, so the tests
// can hand in torch's own draws. Scratch buffers are allocated once per call, never per point.
import { respaced } from "./schedules.js";

export const ODE_SOLVERS = { euler: 1, midpoint: 2, heun: 2, rk4: 4 }; // network evaluations per step

/** The network as a field f(x, n, t, out) for a loaded MLP, with classifier-free guidance:
 * uncond + scale * (cond - uncond); scale 1 (or no label) is the plain model. */
export function guided(mlp, y = null, scale = 1) {
  if (y === null || scale === 1) return (x, n, t, out) => mlp.forward(x, n, t, y, out);
  let uncond = new Float64Array(0);
  return (x, n, t, out) => {
    if (uncond.length < out.length) uncond = new Float64Array(out.length);
    mlp.forward(x, n, t, y, out);
    mlp.forward(x, n, t, null, uncond);
    for (let i = 0; i < out.length; i++) out[i] = uncond[i] + scale * (out[i] - uncond[i]);
    return out;
  };
}

// region: ode
/** Integrate dx/dt = f(x, t) from t0 to t1 in `steps` fixed steps of `method`, in place on x.
 * Returns the number of network evaluations; traj (an array) receives a copy of x per step. */
export function solveODE(f, x, n, steps, method = "euler", { t0 = 0, t1 = 1, traj = null, dim = 2 } = {}) {
  if (!(method in ODE_SOLVERS)) {
    throw new Error(`unknown ODE solver '${method}'; valid: ${Object.keys(ODE_SOLVERS).join(", ")}`);
  }
  const m = n * dim;
  const [k1, k2, k3, k4, tmp] = Array.from({ length: 5 }, () => new Float64Array(m));
  const h = (t1 - t0) / steps;
  for (let i = 0; i < steps; i++) {
    const t = t0 + i * h;
    f(x, n, t, k1);
    if (method === "euler") {
      for (let j = 0; j < m; j++) x[j] += h * k1[j];
    } else if (method === "midpoint") {
      for (let j = 0; j < m; j++) tmp[j] = x[j] + 0.5 * h * k1[j];
      f(tmp, n, t + 0.5 * h, k2);
      for (let j = 0; j < m; j++) x[j] += h * k2[j];
    } else if (method === "heun") {
      for (let j = 0; j < m; j++) tmp[j] = x[j] + h * k1[j];
      f(tmp, n, t + h, k2);
      for (let j = 0; j < m; j++) x[j] += 0.5 * h * (k1[j] + k2[j]);
    } else {
      for (let j = 0; j < m; j++) tmp[j] = x[j] + 0.5 * h * k1[j];
      f(tmp, n, t + 0.5 * h, k2);
      for (let j = 0; j < m; j++) tmp[j] = x[j] + 0.5 * h * k2[j];
      f(tmp, n, t + 0.5 * h, k3);
      for (let j = 0; j < m; j++) tmp[j] = x[j] + h * k3[j];
      f(tmp, n, t + h, k4);
      for (let j = 0; j < m; j++) x[j] += (h / 6) * (k1[j] + 2 * k2[j] + 2 * k3[j] + k4[j]);
    }
    if (traj) traj.push(x.slice());
  }
  return steps * ODE_SOLVERS[method];
}
// endregion

// region: ddpm
const f32 = Math.fround;

/** (eps-hat, x0-hat) from a DDPM net's output, whatever its target, at alpha-bar abar; into eps
 * and x0 (either may be null). sqrt(abar) and sqrt(1 - abar) are rounded to float32 as torch
 * does: near abar = 1 that rounding moves sqrt(1 - abar) by ~3e-4 relative. */
export function epsAndX0(target, pred, x, abar, eps, x0) {
  const ab = f32(abar);
  const a = f32(Math.sqrt(ab));
  const s = f32(Math.sqrt(f32(1 - ab)));
  const m = pred.length;
  if (!["eps", "x0", "v"].includes(target)) throw new Error(`unknown DDPM target '${target}'; valid: eps, x0, v`);
  for (let j = 0; j < m; j++) {
    const p = pred[j];
    const xj = x[j];
    // eps target: x0 = (x - s eps) / a;  x0 target: eps = (x - a x0) / s;  v = a eps - s x0
    const e = target === "eps" ? p : target === "x0" ? (xj - a * p) / s : a * p + s * xj;
    const z = target === "eps" ? (xj - s * p) / a : target === "x0" ? p : a * xj - s * p;
    if (eps) eps[j] = e;
    if (x0) x0[j] = z;
  }
}

/** The network time of DDPM step k: float32(k) / T, as DDPM.net_time. */
export const netTime = (k, T) => f32(k / T);

/** Reverse chain x_{k-1} ~ N(posterior mean from x0-hat, sigma^2), sigma^2 = beta ("beta") or
 * beta-tilde ("beta_tilde"), on the respaced subset of `steps` indices with betas recomputed
 * between kept steps. In place on x; returns the network evaluations. */
export function ancestral(f, x, n, { alphasCumprod, target = "eps", steps, variance = "beta", normal, traj = null, dim = 2 }) {
  if (variance !== "beta" && variance !== "beta_tilde") {
    throw new Error(`unknown ancestral variance '${variance}'; valid: beta, beta_tilde`);
  }
  const T = alphasCumprod.length;
  const ks = respaced(T, steps || T);
  const m = n * dim;
  const pred = new Float64Array(m);
  const x0 = new Float64Array(m);
  const z = new Float64Array(m);
  for (let i = ks.length - 1; i >= 0; i--) {
    const abar = alphasCumprod[ks[i]];
    const abarPrev = i > 0 ? alphasCumprod[ks[i - 1]] : 1;
    const beta = 1 - abar / abarPrev; // the effective beta between the two kept steps
    f(x, n, netTime(ks[i], T), pred);
    epsAndX0(target, pred, x, abar, null, x0);
    const coef1 = f32((Math.sqrt(abarPrev) * beta) / (1 - abar));
    const coef2 = f32((Math.sqrt(1 - beta) * (1 - abarPrev)) / (1 - abar));
    for (let j = 0; j < m; j++) x[j] = coef1 * x0[j] + coef2 * x[j];
    if (i > 0) {
      const v = variance === "beta" ? beta : (beta * (1 - abarPrev)) / (1 - abar);
      const sd = f32(Math.sqrt(v));
      normal(z);
      for (let j = 0; j < m; j++) x[j] += sd * z[j];
    }
    if (traj) traj.push(x.slice());
  }
  return ks.length;
}

/** DDIM: jump along the respaced subset; eta = 0 deterministic, eta = 1 like ancestral with
 * beta-tilde. In place on x; returns the network evaluations. */
export function ddim(f, x, n, { alphasCumprod, target = "eps", steps, eta = 0, normal = null, traj = null, dim = 2 }) {
  const T = alphasCumprod.length;
  const ks = respaced(T, steps);
  const m = n * dim;
  const pred = new Float64Array(m);
  const eps = new Float64Array(m);
  const x0 = new Float64Array(m);
  const z = new Float64Array(m);
  for (let i = ks.length - 1; i >= 0; i--) {
    const abar = alphasCumprod[ks[i]];
    const abarPrev = i > 0 ? alphasCumprod[ks[i - 1]] : 1;
    f(x, n, netTime(ks[i], T), pred);
    epsAndX0(target, pred, x, abar, eps, x0);
    const sigma = eta * Math.sqrt(((1 - abarPrev) / (1 - abar)) * (1 - abar / abarPrev));
    const a = f32(Math.sqrt(abarPrev));
    const s = f32(Math.sqrt(Math.max(1 - abarPrev - sigma * sigma, 0)));
    for (let j = 0; j < m; j++) x[j] = a * x0[j] + s * eps[j];
    if (i > 0 && eta > 0) {
      normal(z);
      for (let j = 0; j < m; j++) x[j] += f32(sigma) * z[j];
    }
    if (traj) traj.push(x.slice());
  }
  return ks.length;
}
// endregion

/** A normal(buf) filler from rng.js's generator. */
export function normalFiller(rng) {
  return (buf) => {
    for (let i = 0; i < buf.length; i++) buf[i] = rng.normal();
  };
}
