// Runs a baked network's sampler off the page's thread (lessons 06 and 09): an RK4 solve of 32
// steps over 2000 points, or a 100-step DDPM chain, is a third of a second of work that would
// freeze the page if it ran in an input handler. Message in: {id, model, n, seedX, sampler,
// steps, seedZ, label, guidance, keep}, sampler one of euler, midpoint, heun, rk4 (the flow
// ODE), ancestral or ddim (DDPM); out: {id, x, nfe, traj, off_data, mode_mass, rms} or {id, error}.
// traj holds the first `keep` points of every state, noise first (Float64Array, states x keep x 2).
import { gaussian, reference, score } from "./cloud.js";
import { loadBaked, MLP } from "./mlp.js";
import { makeRng } from "./rng.js";
import { ODE_SOLVERS, ancestral, ddim, guided, normalFiller, solveODE } from "./samplers.js";
import { ddpmCoefficients } from "./schedules.js";

const loaded = new Map(); // baked name -> Promise (each file fetched and built once per worker)

function once(name, make) {
  if (!loaded.has(name)) loaded.set(name, loadBaked(name).then(make));
  return loaded.get(name);
}

const network = (name) => once(name, (baked) => {
  const net = new MLP(baked);
  const coefs = net.method.kind === "ddpm" ? ddpmCoefficients(net.method.schedule, net.method.T) : null;
  return { net, coefs };
});

/** The sampler's end points and, when asked, the first `keep` points of every state. */
function run({ net, coefs }, job) {
  const { n, seedX, sampler, steps, seedZ = 0, label = null, guidance = 1, keep = 0 } = job;
  const x = gaussian(makeRng(seedX), n);
  const states = keep ? [x.slice(0, 2 * keep)] : null;
  const traj = keep ? { push: (s) => states.push(s.slice(0, 2 * keep)) } : null; // the kept points only
  const f = guided(net, label, guidance);
  let nfe;
  if (sampler in ODE_SOLVERS) {
    nfe = solveODE(f, x, n, steps, sampler, { traj });
  } else if (sampler === "ancestral" || sampler === "ddim") {
    if (!coefs) throw new Error(`${job.model} is not a DDPM model; '${sampler}' needs one`);
    const opts = { alphasCumprod: coefs.alphas_cumprod, target: net.method.target, steps, traj };
    nfe = sampler === "ancestral" ? ancestral(f, x, n, { ...opts, normal: normalFiller(makeRng(seedZ)) }) : ddim(f, x, n, opts);
  } else {
    throw new Error(`unknown sampler '${sampler}'; valid: ${Object.keys(ODE_SOLVERS).join(", ")}, ancestral, ddim`);
  }
  const flat = new Float64Array(keep ? states.length * 2 * keep : 0);
  if (keep) states.forEach((s, i) => flat.set(s, i * 2 * keep));
  return { x, nfe, traj: flat };
}

self.onmessage = async ({ data }) => {
  try {
    const [model, moons] = await Promise.all([network(data.model), once("moons", reference)]);
    const { x, nfe, traj } = run(model, data);
    self.postMessage({ id: data.id, x, nfe, traj, ...score(x, data.n, moons) }, [x.buffer, traj.buffer]);
  } catch (err) {
    self.postMessage({ id: data.id, error: String(err && err.message ? err.message : err) });
  }
};
