// Mount every widget on the page: <div class="widget" data-widget="NAME"> loads widgets/NAME.js
// and calls its mount(root). A widget that fails says so in place (and in the console).
for (const root of document.querySelectorAll(".widget[data-widget]")) {
  const name = root.dataset.widget;
  import(`../widgets/${name}.js`)
    .then((mod) => mod.mount(root))
    .then(() => (root.dataset.mounted = "true"))
    .catch((err) => {
      root.dataset.mounted = "error";
      root.textContent = `The widget '${name}' failed to load: ${err.message}`;
      console.error(`widget ${name}:`, err);
    });
}
