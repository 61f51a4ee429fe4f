// DDPM noise schedules and the coefficients derived from them, in float64 (JS numbers), exactly
// as generative/continuous/diffusion.py computes them. Index k = 0..T-1, k = 0 nearest the data.

export const SCHEDULES = ["linear", "cosine"];

/** torch.linspace(start, end, n) in float64, including its symmetric evaluation from both ends. */
export function linspace(start, end, n) {
  if (n === 1) return Float64Array.of(start);
  const step = (end - start) / (n - 1);
  const half = Math.floor(n / 2);
  return Float64Array.from({ length: n }, (_, i) =>
    i < half ? start + step * i : end - step * (n - 1 - i),
  );
}

/** Ho et al.: betas evenly spaced from 1e-4 to 0.02, whatever T. */
export function linearBetas(T) {
  return linspace(1e-4, 0.02, T);
}

/** Nichol & Dhariwal: alpha-bar follows cos^2 with offset s; betas clipped at 0.999. */
export function cosineBetas(T, s = 0.008) {
  const f = Float64Array.from({ length: T + 1 }, (_, k) => Math.cos(((k / T + s) / (1 + s)) * (Math.PI / 2)) ** 2);
  const abar = f.map((v) => v / f[0]);
  return Float64Array.from({ length: T }, (_, k) => Math.min(1 - abar[k + 1] / abar[k], 0.999));
}

/** Every per-step coefficient of the chain, under the names the package (and the papers) use. */
export function ddpmCoefficients(schedule = "linear", T = 1000) {
  if (!SCHEDULES.includes(schedule)) {
    throw new Error(`unknown schedule '${schedule}'; valid: ${SCHEDULES.join(", ")}`);
  }
  const betas = schedule === "linear" ? linearBetas(T) : cosineBetas(T);
  const alphas = betas.map((b) => 1 - b);
  const alphas_cumprod = new Float64Array(T);
  let prod = 1;
  for (let k = 0; k < T; k++) alphas_cumprod[k] = prod *= alphas[k];
  const alphas_cumprod_prev = Float64Array.from({ length: T }, (_, k) => (k ? alphas_cumprod[k - 1] : 1));
  // Bayes' rule on two Gaussians: q(x_{k-1} | x_k, x_0) = N(coef1 x_0 + coef2 x_k, beta-tilde)
  const om = alphas_cumprod.map((a) => 1 - a);
  const posterior_variance = betas.map((b, k) => (b * (1 - alphas_cumprod_prev[k])) / om[k]);
  const posterior_mean_coef1 = betas.map((b, k) => (b * Math.sqrt(alphas_cumprod_prev[k])) / om[k]);
  const posterior_mean_coef2 = alphas.map((a, k) => ((1 - alphas_cumprod_prev[k]) * Math.sqrt(a)) / om[k]);
  return {
    schedule, T, betas, alphas, alphas_cumprod, alphas_cumprod_prev,
    posterior_variance, posterior_mean_coef1, posterior_mean_coef2,
  };
}

/** DDPM.respaced: `steps` indices evenly spaced over 0..T-1 (numpy linspace, round half to even). */
export function respaced(T, steps) {
  if (steps === 1) return [T - 1];
  const n = Math.min(steps, T);
  const step = (T - 1) / (n - 1);
  const ks = Array.from({ length: n }, (_, i) => (i === n - 1 ? T - 1 : roundHalfEven(i * step)));
  return [...new Set(ks)].sort((a, b) => a - b);
}

function roundHalfEven(v) {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** q_sample for one point: x_k = sqrt(abar_k) x0 + sqrt(1 - abar_k) eps (x0 is the data here). */
export function qSample(coefs, x0, k, eps) {
  const a = coefs.alphas_cumprod[k];
  return x0.map((v, i) => Math.sqrt(a) * v + Math.sqrt(1 - a) * eps[i]);
}
