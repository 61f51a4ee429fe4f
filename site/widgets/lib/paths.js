// Flow-matching probability paths and the eps <-> v <-> x1 conversions, in float64, exactly as
// generative/continuous/flow_matching.py computes them. Time t in [0, 1]: t = 0 is the noise x0,
// t = 1 the data x1. Every path is affine: x_t = alpha(t) x1 + sigma(t) x0. Points are arrays of
// numbers ([x, y] in 2D); a cloud is an array of points.

/** The straight line: alpha = t, sigma = 1 - t. Returns {a, s, da, ds} at time t. */
export const linearPath = {
  name: "linear",
  coefficients: (t) => ({ a: t, s: 1 - t, da: 1, ds: -1 }),
};

/** Variance preserving, trigonometric: alpha = sin(pi t / 2), sigma = cos(pi t / 2). */
export const vpPath = {
  name: "vp",
  coefficients(t) {
    const h = Math.PI / 2;
    return { a: Math.sin(h * t), s: Math.cos(h * t), da: h * Math.cos(h * t), ds: -h * Math.sin(h * t) };
  },
};

export const PATHS = { linear: linearPath, vp: vpPath };

/** DDPM's chain read as a continuous VP path (VPPath.from_alphas_cumprod): step c = (T-1)(1-t),
 * log alpha-bar interpolated linearly between integer steps. */
export function vpPathFromAlphasCumprod(alphasCumprod) {
  const logAbar = Float64Array.from(alphasCumprod, Math.log);
  const T = logAbar.length;
  return {
    name: "vp-ddpm",
    ddpmStep: (t) => (T - 1) * (1 - t),
    coefficients(t) {
      const c = (T - 1) * (1 - t);
      const i = Math.min(Math.max(Math.floor(c), 0), T - 2);
      const slope = logAbar[i + 1] - logAbar[i]; // d log abar / dc on this piece
      const la = logAbar[i] + (c - i) * slope;
      const dla = -(T - 1) * slope; // chain rule: dc/dt = -(T - 1)
      const abar = Math.exp(la);
      const a = Math.sqrt(abar);
      const s = Math.sqrt(1 - abar);
      return { a, s, da: 0.5 * a * dla, ds: (-0.5 * abar * dla) / s };
    },
  };
}

/** A point on the conditional path between noise x0 and data x1 at time t, and its velocity. */
export function samplePath(path, x0, x1, t) {
  const { a, s, da, ds } = path.coefficients(t);
  return { xt: x1.map((v, i) => a * v + s * x0[i]), ut: x1.map((v, i) => da * v + ds * x0[i]) };
}

/** Velocity from the noise: x1 = (x_t - sigma eps) / alpha, then u = alpha' x1 + sigma' eps. */
export function velocityFromEps(path, xt, eps, t) {
  const { a, s, da, ds } = path.coefficients(t);
  return xt.map((v, i) => (da * (v - s * eps[i])) / a + ds * eps[i]);
}

/** Velocity from the data: eps = (x_t - alpha x1) / sigma, then u = alpha' x1 + sigma' eps. */
export function velocityFromX1(path, xt, x1, t) {
  const { a, s, da, ds } = path.coefficients(t);
  return xt.map((v, i) => da * x1[i] + (ds * (v - a * x1[i])) / s);
}

/** Solve [x_t; v] = [[a, s], [a', s']] [x1; eps]: returns {x1, eps}. */
export function epsX1FromVelocity(path, xt, v, t) {
  const { a, s, da, ds } = path.coefficients(t);
  const det = a * ds - s * da;
  return {
    x1: xt.map((x, i) => (a * v[i] - da * x) / det),
    eps: xt.map((x, i) => (ds * x - s * v[i]) / det),
  };
}

/** The exact marginal velocity of the linear path for a finite data set (the CFM minimiser):
 * u(x, t) = sum_i w_i (x1_i - x) / (1 - t), w = softmax_i(-|x - t x1_i|^2 / (2 (1 - t)^2)).
 * Undefined at t = 1. */
export function exactMarginalVelocity(x, t, data) {
  const logits = data.map((d) => {
    let dot = 0;
    let sq = 0;
    for (let k = 0; k < d.length; k++) {
      dot += x[k] * d[k];
      sq += d[k] * d[k];
    }
    return (t * dot - 0.5 * t * t * sq) / (1 - t) ** 2; // |x|^2 cancels in the softmax
  });
  const m = Math.max(...logits);
  const w = logits.map((l) => Math.exp(l - m));
  const z = w.reduce((p, q) => p + q, 0);
  const mean = x.map((_, k) => data.reduce((acc, d, i) => acc + w[i] * d[k], 0) / z);
  return mean.map((v, k) => (v - x[k]) / (1 - t));
}
