// Mount every widget on the page: <div class="widget" data-widget="NAME"> loads widgets/NAME.js
// and calls its mount(root). A widget that fails says so in place (and in the console).
// Each mounted widget gets an "enlarge" button: the widget fills the window (Esc or the button
// again puts it back); its canvases follow their new width through the window's resize event.
function enlargeButton(root) {
  const b = Object.assign(document.createElement("button"), { type: "button", className: "enlarge", textContent: "⤢ enlarge" });
  b.dataset.action = "enlarge";
  b.setAttribute("aria-pressed", "false");
  const toggle = (on) => {
    root.classList.toggle("enlarged", on);
    document.body.classList.toggle("has-enlarged", on);
    b.textContent = on ? "✕ close" : "⤢ enlarge";
    b.setAttribute("aria-pressed", String(on));
    window.dispatchEvent(new Event("resize"));
  };
  b.addEventListener("click", () => toggle(!root.classList.contains("enlarged")));
  document.addEventListener("keydown", (e) => e.key === "Escape" && root.classList.contains("enlarged") && toggle(false));
  root.prepend(b);
}

for (const root of document.querySelectorAll(".widget[data-widget]")) {
  const name = root.dataset.widget;
  import(`../widgets/${name}.js`)
    .then((mod) => mod.mount(root))
    .then(() => {
      enlargeButton(root);
      root.dataset.mounted = "true";
    })
    .catch((err) => {
      root.dataset.mounted = "error";
      root.textContent = `The widget '${name}' failed to load: ${err.message}`;
      console.error(`widget ${name}:`, err);
    });
}
