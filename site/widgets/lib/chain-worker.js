// Runs a DDPM reverse chain off the page's thread (lesson 04's widget): a 1000-step chain is
// 1000 network passes over 1000 points, seconds of work that would freeze every knob if it ran
// in the input handler. Message in: {id, model, steps, variance, seedX, seedZ, n}; out: {id, nfe,
// states (a Float64Array of (steps + 1) x n x 2, noise first)} or {id, error}.
import { gaussian } from "./cloud.js";
import { loadBaked, MLP } from "./mlp.js";
import { makeRng } from "./rng.js";
import { ancestral, guided, normalFiller } from "./samplers.js";
import { ddpmCoefficients } from "./schedules.js";

const nets = new Map(); // baked name -> Promise of {net, coefs}

function load(name) {
  if (!nets.has(name)) {
    nets.set(name, loadBaked(name).then((baked) => {
      const net = new MLP(baked);
      return { net, coefs: ddpmCoefficients(net.method.schedule, net.method.T) };
    }));
  }
  return nets.get(name);
}

self.onmessage = async ({ data }) => {
  const { id, model, steps, variance, seedX, seedZ, n } = data;
  try {
    const { net, coefs } = await load(model);
    const x = gaussian(makeRng(seedX), n);
    const traj = [x.slice()];
    const nfe = ancestral(guided(net), x, n, {
      alphasCumprod: coefs.alphas_cumprod, target: net.method.target, steps, variance,
      normal: normalFiller(makeRng(seedZ)), traj,
    });
    const states = new Float64Array(traj.length * 2 * n);
    traj.forEach((s, i) => states.set(s, i * 2 * n));
    self.postMessage({ id, nfe, states }, [states.buffer]);
  } catch (err) {
    self.postMessage({ id, error: String(err && err.message ? err.message : err) });
  }
};
