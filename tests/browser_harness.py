"""Shared pieces for browser tests of the course site (imported by tests/test_site_*.py).

One build per session (lessons/ plus the fixture lesson in tests/site_fixture/) into a temporary
folder, served on a free 127.0.0.1 port from a thread; Debian's Chromium driven by Python
Playwright with the flags of DESIGN.md. Every page opened through `open_page` records console
errors, uncaught exceptions and the URL of every request, so a test can assert that nothing
failed and nothing left the server's origin. Widget helpers drive knobs and read data-state.

Without /usr/bin/chromium (or the playwright package) the browser tests skip, unless CI is set:
then they fail, so CI can never pass by skipping.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "site"
FIXTURE_LESSONS = Path(__file__).resolve().parent / "site_fixture"
ARTIFACTS = SITE / "_artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"width": 1100, "height": 900}
PHONE = {"width": 375, "height": 740}


def load_site_module(name: str):
    """site/<name>.py as a module (site/ is not a package: `import site` is the stdlib's)."""
    key = f"course_site_{name}"
    if key not in sys.modules:  # dataclasses look their module up in sys.modules
        spec = importlib.util.spec_from_file_location(key, SITE / f"{name}.py")
        sys.modules[key] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[key])
    return sys.modules[key]


def lesson_sources() -> list[Path]:
    """lessons/ plus the fixture lesson; SITE_LESSONS="a b" replaces lessons/ (while developing)."""
    chosen = os.environ.get("SITE_LESSONS", "lessons").split()
    return [ROOT / p for p in chosen] + [FIXTURE_LESSONS]


def need_browser() -> None:
    """Skip (locally) or fail (CI=true) when Chromium or Playwright is missing."""
    missing = []
    if not Path(CHROMIUM).exists():
        missing.append(f"{CHROMIUM} (apt-get install chromium)")
    if importlib.util.find_spec("playwright") is None:
        missing.append("the playwright package (pip install -e '.[dev]')")
    if shutil.which("node") is None:
        missing.append("node (apt-get install nodejs npm)")
    if missing:
        msg = "browser tests need " + " and ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(msg + " (CI is set: not skipping)")
        pytest.skip(msg)


@dataclass
class Built:
    out: Path
    lessons: list  # build.Lesson objects, in page order
    pages: list[str]  # index.html then every lesson page


@pytest.fixture(scope="session")
def built_site(tmp_path_factory) -> Built:
    need_browser()
    build = load_site_module("build")
    out = tmp_path_factory.mktemp("site")
    try:
        lessons = build.build(lesson_sources(), out)
    except build.BuildError as e:
        pytest.fail(f"site build failed: {e}")
    return Built(out, lessons, ["index.html"] + [x.href for x in lessons])


@pytest.fixture(scope="session")
def site_url(built_site) -> str:
    server = load_site_module("serve").start(built_site.out, 0)
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


@pytest.fixture(scope="session")
def browser():
    need_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield b
        b.close()


@dataclass
class Probe:
    """A page plus what it did: console errors, uncaught exceptions, requested URLs."""

    page: object
    base: str
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    # (widget, knob, value, handler ms, deferred redraw ms) per set_knob
    timings: list[tuple] = field(default_factory=list)

    def offsite(self) -> list[str]:
        """Requests to anything but the server's own origin (data: URLs stay in the page)."""
        return [u for u in self.requests if not (u.startswith(self.base) or u.startswith("data:"))]

    def widgets(self):
        return self.page.locator(".widget[data-widget]")

    def state(self, widget) -> dict:
        return json.loads(widget.get_attribute("data-state"))

    def set_knob(self, widget, name: str, value) -> dict:
        """Set one knob as a user would (its input event) and return the state once settled.
        The milliseconds the page's thread spent in the handlers go to self.timings."""
        ms = widget.locator(f'[data-knob="{name}"]').evaluate(
            """(el, v) => {
                const t0 = performance.now();
                if (el.type === 'checkbox') el.checked = v === 'true'; else el.value = v;
                el.dispatchEvent(new Event('input', {bubbles: true}));
                el.dispatchEvent(new Event('change', {bubbles: true}));
                return performance.now() - t0;
            }""",
            str(value).lower() if isinstance(value, bool) else str(value),
        )
        state = self.settled(widget)
        work = float(widget.get_attribute("data-work-ms") or "nan")  # the deferred redraw's time
        self.timings.append((widget.get_attribute("data-widget"), name, value, ms, work))
        return state

    def settled(self, widget, timeout: float = 60000) -> dict:
        """The state once the widget has no background work (data-busy) left."""
        self.page.wait_for_function(
            "el => !el.dataset.busy", arg=widget.element_handle(), timeout=timeout
        )
        return self.state(widget)

    def knobs(self, widget) -> list[dict]:
        """Every knob: name, kind, and its range or options."""
        return widget.locator("[data-knob]").evaluate_all(
            """els => els.map(el => ({
                name: el.dataset.knob,
                kind: el.tagName === 'SELECT' ? 'select' : el.type,
                min: el.min, max: el.max, step: el.step, value: el.value, checked: el.checked,
                options: el.tagName === 'SELECT' ? [...el.options].map(o => o.value) : [],
            }))"""
        )

    def failure(self, widget) -> dict:
        widget.locator('[data-action="failure"]').click()
        return self.settled(widget)


@pytest.fixture
def open_page(browser, site_url):
    """open_page(path, viewport=DESKTOP) -> Probe with every widget mounted."""
    contexts = []

    def _open(path: str, viewport=DESKTOP) -> Probe:
        ctx = browser.new_context(viewport=viewport)
        contexts.append(ctx)
        # the network is cut: anything but the server's origin is aborted (and recorded below)
        local = lambda r: r.continue_() if r.request.url.startswith(site_url) else r.abort()  # noqa: E731
        ctx.route("**/*", local)
        page = ctx.new_page()
        probe = Probe(page, site_url)
        page.on("console", lambda m: m.type == "error" and probe.errors.append(m.text))
        page.on("pageerror", lambda e: probe.errors.append(f"uncaught: {e}"))
        page.on("request", lambda r: probe.requests.append(r.url))
        page.on("requestfailed", lambda r: probe.errors.append(f"request failed: {r.url}"))
        page.goto(site_url + path, wait_until="load")
        page.wait_for_function(
            "[...document.querySelectorAll('.widget[data-widget]')].every(w => w.dataset.mounted)",
            timeout=15000,
        )
        return probe

    yield _open
    for ctx in contexts:
        ctx.close()
