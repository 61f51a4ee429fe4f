// Lesson 11: a 2D codebook trained live. VQ directly on the points (no encoder), as
// generative/discrete/tokenizers/codebook2d.py with encoder="none": each step draws a batch of
// 256 training points, assigns each to its nearest code, and updates the codes by the codebook
// loss (Adam, lr 3e-3) or as running means (EMA); codes whose running count falls under the
// dead-code threshold restart at batch points. FSQ has no codes to learn: its grid is fixed.
// The cells are the plane coloured by assigned code; usage and perplexity come from a held-out
// pass. Presets: far init with gradient VQ (collapse), EMA without restart (dead codes).
import { FSQ2D, VQ2D, codeStats, initCodebook, points, rngDraw } from "./lib/codebook.js";
import { LIM, drawCells, drawCodes, drawCounts, palette, viewLimit } from "./lib/codebook-draw.js";
import { COLORS, Plot, makeCanvas } from "./lib/plot.js";
import { makeRng } from "./lib/rng.js";
import { button, deferred, frame, onResize, publish, select, setKnobs, slider } from "./lib/ui.js";

const STEPS = 1500; // codebook2d.py's default, and exp20's
const PER_FRAME = 10; // training steps between two pictures
const BATCH = 256;
const N_TRAIN = 4000;
const N_EVAL = 4000;
const LR = 3e-3;
const HEALTHY = { quantizer: "vq", init: "random", update: "ema", decay: 0.99, dead: 1 };

export function mount(root) {
  const { knobs, stage, readout } = frame(root, "A codebook trained live: codes, their cells, and who uses them");
  const data = select(knobs, { name: "data", label: "data", options: ["8gaussians", "moons"], value: "8gaussians", labels: { "8gaussians": "8 Gaussians" } });
  const quantizer = select(knobs, { name: "quantizer", label: "quantizer", options: ["vq", "fsq"], value: "vq", labels: { vq: "VQ", fsq: "FSQ" } });
  const K = select(knobs, { name: "K", label: "K", options: ["8", "16", "32", "64", "128", "256"], value: "64" });
  const init = select(knobs, { name: "init", label: "init", options: ["random", "far", "kmeans"], value: "random", labels: { far: "far corner", kmeans: "k-means" } });
  const update = select(knobs, { name: "update", label: "update", options: ["loss", "ema"], value: "ema", labels: { loss: "codebook loss (Adam)", ema: "EMA" } });
  const decay = slider(knobs, { name: "decay", label: "EMA decay γ", min: 0.9, max: 0.999, step: 0.001, value: 0.99, format: (v) => v.toFixed(3) });
  const beta = slider(knobs, { name: "beta", label: "β", min: 0, max: 1, step: 0.05, value: 0.25, format: (v) => v.toFixed(2) });
  const dead = slider(knobs, { name: "dead", label: "dead-code threshold", min: 0, max: 4, step: 0.25, value: 1, format: (v) => (v ? v.toFixed(2) : "off") });
  const levels = select(knobs, { name: "levels", label: "FSQ levels", options: ["3,3", "5,5", "8,5", "8,8", "16,16"], value: "8,8" });
  const play = button(knobs, { action: "play", label: "❚❚ pause" });
  const again = button(knobs, { action: "reset", label: "↺ retrain" });
  button(knobs, { action: "failure", label: "failure: far init + gradient (collapse)" }).addEventListener("click", () =>
    setKnobs(root, { quantizer: "vq", init: "far", update: "loss", dead: 0 }),
  );
  button(knobs, { action: "dead-codes", label: "EMA, no restart (dead codes)" }).addEventListener("click", () =>
    setKnobs(root, { quantizer: "vq", init: "random", update: "ema", dead: 0 }),
  );
  button(knobs, { action: "healthy", label: "EMA + restart" }).addEventListener("click", () => setKnobs(root, HEALTHY));

  const box = document.createElement("div"); // a square picture, no taller than a screen
  box.style.maxWidth = "560px";
  box.style.margin = "0 auto";
  stage.appendChild(box);
  const plot = new Plot(makeCanvas(box, { aspect: 1, label: "codes, their cells and the held-out points" }), { xlim: [-LIM, LIM], ylim: [-LIM, LIM] });
  const bars = document.createElement("canvas");
  bars.setAttribute("role", "img");
  bars.setAttribute("aria-label", "held-out hits per code");
  stage.appendChild(bars);

  const sets = {}; // data name -> standardized {train, held}
  let run = null; // the current training: quantizer, rng, step, last stats
  let frameId = 0;
  let paused = false;

  function reset() {
    const name = data.value;
    sets[name] ??= points(name, N_TRAIN, N_EVAL, 0);
    const rng = makeRng(1);
    let q;
    if (quantizer.value === "fsq") q = new FSQ2D(levels.value.split(","));
    else {
      const k = Number(K.value);
      q = new VQ2D({
        K: k, codebook: initCodebook(k, init.value, rng), update: update.value, decay: Number(decay.value),
        beta: Number(beta.value), deadThreshold: Number(dead.value), lr: LR, kmeansInit: init.value === "kmeans",
      }); // prettier-ignore
    }
    const lim = viewLimit(q.positions()); // fixed for the run: the picture does not jump
    plot.xlim = plot.ylim = [-lim, lim];
    run = { q, rng, step: 0, loss: null, colours: palette(q.K), lim, ...sets[name] };
    run.stats = codeStats(q, run.held, N_EVAL);
    draw();
    if (!paused) start();
  }

  // one training step: a batch drawn with replacement, then the quantizer's own update
  function trainStep() {
    const { q, rng, train } = run;
    if (q instanceof VQ2D) {
      const batch = new Float64Array(2 * BATCH);
      for (let i = 0; i < BATCH; i++) {
        const r = Math.floor(rng.uniform() * N_TRAIN);
        batch[2 * i] = train[2 * r];
        batch[2 * i + 1] = train[2 * r + 1];
      }
      run.loss = q.step(batch, BATCH, (n, c) => Array.from({ length: c }, () => Math.floor(rng.uniform() * n)), rngDraw(rng));
    }
    run.step += 1;
  }

  function tick() {
    frameId = 0;
    for (let i = 0; i < PER_FRAME && run.step < STEPS; i++) trainStep();
    run.stats = codeStats(run.q, run.held, N_EVAL);
    draw();
    if (run.step < STEPS && !paused) frameId = requestAnimationFrame(tick);
  }

  function start() {
    if (!frameId && run.step < STEPS) frameId = requestAnimationFrame(tick);
  }

  function draw() {
    const { q, stats, held, colours } = run;
    plot.fit();
    drawCells(plot, q, colours, run.lim);
    plot.axes();
    plot.clipped(() => {
      plot.ctx.fillStyle = "rgba(52, 58, 64, 0.45)";
      for (let i = 0; i < 1500; i++) plot.ctx.fillRect(plot.px(held[2 * i]) - 0.75, plot.py(held[2 * i + 1]) - 0.75, 1.5, 1.5);
    });
    drawCodes(plot, q.positions(), stats.counts);
    plot.text(`step ${run.step} / ${STEPS}`, [-run.lim, run.lim], { dx: 6, dy: 14, align: "left", color: COLORS.ink });
    drawCounts(bars, stats.counts, colours);
    const isVq = q instanceof VQ2D;
    const deadCodes = q.K - stats.used;
    readout.textContent =
      `${isVq ? "VQ" : `FSQ [${levels.value}]`}, K = ${q.K}: usage ${(100 * stats.usage).toFixed(0)}% ` +
      `(${stats.used} hit, ${deadCodes} dead), perplexity ${stats.perplexity.toFixed(1)} of ${q.K}, ` +
      `reconstruction MSE ${stats.reconMse.toFixed(4)}` +
      (isVq ? `; restarts so far ${q.restarts}` : "; FSQ with no encoder learns nothing: the grid and its cells are fixed") +
      (isVq && run.loss ? `; loss ${run.loss.loss.toFixed(4)} (β only weighs the commitment term, which has no encoder to train here)` : "");
    publish(root, {
      data: data.value, quantizer: quantizer.value, K: Number(K.value), init: init.value, update: update.value,
      decay: Number(decay.value), beta: Number(beta.value), dead: Number(dead.value), levels: levels.value,
      num_codes: q.K, step: run.step, steps: STEPS, done: run.step >= STEPS, paused,
      usage: stats.usage, used: stats.used, dead_codes: deadCodes, perplexity: stats.perplexity,
      recon_mse: stats.reconMse, restarts: isVq ? q.restarts : 0, loss: run.loss ? run.loss.loss : null,
    }); // prettier-ignore
  }

  play.addEventListener("click", () => {
    paused = !paused;
    play.textContent = paused ? "▶ train" : "❚❚ pause";
    if (paused) {
      cancelAnimationFrame(frameId);
      frameId = 0;
    } else start();
    draw();
  });
  again.addEventListener("click", () => {
    cancelAnimationFrame(frameId);
    frameId = 0;
    reset();
  });
  root.addEventListener(
    "input",
    deferred(root, () => {
      cancelAnimationFrame(frameId);
      frameId = 0;
      reset();
    }),
  );
  onResize(draw);
  reset();
}
