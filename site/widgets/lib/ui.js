// Knobs and state for widgets: every knob is an input with data-knob="<name>", every widget
// publishes root.dataset.state (JSON) after each redraw, which is what the browser tests read.

/** A labelled range slider; `format` renders the value shown beside it. */
export function slider(parent, { name, label, min, max, step, value, format = (v) => String(v) }) {
  const wrap = document.createElement("label");
  wrap.className = "knob";
  const input = Object.assign(document.createElement("input"), { type: "range", min, max, step, value });
  input.dataset.knob = name;
  const out = document.createElement("output");
  const sync = () => (out.textContent = format(Number(input.value)));
  input.addEventListener("input", sync);
  input.addEventListener("sync", sync); // a widget changed the value or range itself
  sync();
  wrap.append(`${label} `, input, out);
  parent.appendChild(wrap);
  return input;
}

/** A labelled <select> over `options` (values shown as is unless `labels` maps them). */
export function select(parent, { name, label, options, value, labels = {} }) {
  const wrap = document.createElement("label");
  wrap.className = "knob";
  const input = document.createElement("select");
  input.dataset.knob = name;
  for (const o of options) input.append(new Option(labels[o] ?? o, o, false, o === value));
  wrap.append(`${label} `, input);
  parent.appendChild(wrap);
  return input;
}

/** A labelled checkbox. */
export function checkbox(parent, { name, label, checked = false }) {
  const wrap = document.createElement("label");
  wrap.className = "knob";
  const input = Object.assign(document.createElement("input"), { type: "checkbox", checked });
  input.dataset.knob = name;
  wrap.append(input, ` ${label}`);
  parent.appendChild(wrap);
  return input;
}

/** A button with data-action="<action>". */
export function button(parent, { action, label }) {
  const b = Object.assign(document.createElement("button"), { type: "button", textContent: label });
  b.dataset.action = action;
  parent.appendChild(b);
  return b;
}

/** The standard widget frame: a knob row, the canvas area and a caption line for readouts. */
export function frame(root, title) {
  root.replaceChildren();
  const head = document.createElement("div");
  head.className = "widget-title";
  head.textContent = title;
  const knobs = document.createElement("div");
  knobs.className = "knobs";
  const stage = document.createElement("div");
  stage.className = "stage";
  const readout = document.createElement("p");
  readout.className = "readout";
  readout.setAttribute("aria-live", "polite");
  root.append(head, knobs, stage, readout);
  return { knobs, stage, readout };
}

/** Set knob values programmatically (the failure button) and fire one redraw. */
export function setKnobs(root, values) {
  for (const [name, v] of Object.entries(values)) {
    const input = root.querySelector(`[data-knob="${name}"]`);
    if (input.type === "checkbox") input.checked = Boolean(v);
    else input.value = String(v);
    input.dispatchEvent(new Event("input", { bubbles: true }));
  }
}

/** Publish the widget's state: knob values plus computed numbers, rounded for readability. */
export function publish(root, state) {
  const round = (v) => (typeof v === "number" && Number.isFinite(v) ? Number(v.toPrecision(6)) : v);
  root.dataset.state = JSON.stringify(state, (_, v) => round(v));
}

/** Redraw on window resize (the canvas follows its container's width). */
export function onResize(draw) {
  let pending = 0;
  window.addEventListener("resize", () => {
    cancelAnimationFrame(pending);
    pending = requestAnimationFrame(draw);
  });
}

/** A play button that sweeps `input` (a slider) from its min to its max in about `ms`, firing
 * the widget's input event each frame; a second click stops it. */
export function player(parent, root, input, { ms = 2500, label = "▶ play" } = {}) {
  const b = button(parent, { action: "play", label });
  let frameId = 0;
  const stop = () => {
    cancelAnimationFrame(frameId);
    frameId = 0;
    b.textContent = label;
  };
  b.addEventListener("click", () => {
    if (frameId) return stop();
    const [lo, hi] = [Number(input.min), Number(input.max)];
    const start = performance.now();
    b.textContent = "■ stop";
    const tick = (now) => {
      const f = Math.min(1, (now - start) / ms);
      input.value = String(lo + f * (hi - lo));
      input.dispatchEvent(new Event("input", { bubbles: true }));
      if (f < 1) frameId = requestAnimationFrame(tick);
      else stop();
    };
    frameId = requestAnimationFrame(tick);
  });
  return b;
}

/** An input handler that never holds the page: it marks the widget busy (data-busy, which the
 * tests wait on) and runs `work` once, after the events queued so far, with the knobs' newest
 * values; a slider dragged through 30 values costs one or two redraws, not 30. The last redraw's
 * duration is kept in data-work-ms. */
export function deferred(root, work) {
  let pending = 0;
  return () => {
    root.dataset.busy = "true";
    if (pending) return;
    pending = setTimeout(() => {
      pending = 0;
      const t0 = performance.now();
      try {
        work();
      } finally {
        root.dataset.workMs = String(Math.round(performance.now() - t0));
        if (!pending) delete root.dataset.busy;
      }
    }, 0);
  };
}
