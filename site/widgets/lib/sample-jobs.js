// The page's side of lib/sample-worker.js: widgets ask for a sampler run by its settings and get
// the result if it was computed, or undefined while the worker computes it. One run at a time:
// when it ends the widget redraws and asks for its newest setting, so a dragged slider costs at
// most one stale run, never one per value. Recent results are kept: a revisit redraws at once.

export class SampleJobs {
  /** onResult(): a run ended (redraw); onError(message): a run failed. */
  constructor({ onResult, onError, keep = 64 }) {
    this.worker = new Worker(new URL("./sample-worker.js", import.meta.url), { type: "module" });
    this.done = new Map(); // job key -> result, most recently used last
    this.running = null; // the key being computed
    this.keep = keep;
    this.worker.onmessage = ({ data }) => {
      this.running = null;
      if (data.error) return onError(data.error);
      this.done.set(data.id, data);
      while (this.done.size > this.keep) this.done.delete(this.done.keys().next().value);
      onResult();
    };
  }

  /** The result for `job` ({model, n, seedX, sampler, steps, ...}), or undefined after asking
   * the worker for it (unless the worker is busy: then it is asked for when the run ends). */
  get(job) {
    const key = JSON.stringify(job);
    const hit = this.done.get(key);
    if (hit) {
      this.done.delete(key);
      this.done.set(key, hit);
      return hit;
    }
    if (this.running === null) {
      this.running = key;
      this.worker.postMessage({ id: key, ...job });
    }
    return undefined;
  }
}

/** Redraw on the widget's input events, once per burst: a failure button sets several knobs in
 * one go, and only the last setting is drawn (and asked of the worker). The widget is marked busy
 * at once, so a test waiting on data-busy never reads the state before that redraw. */
export function redrawOnInput(root, redraw) {
  let queued = false;
  root.addEventListener("input", () => {
    root.dataset.busy = "true";
    if (queued) return;
    queued = true;
    queueMicrotask(() => {
      queued = false;
      redraw();
    });
  });
}
