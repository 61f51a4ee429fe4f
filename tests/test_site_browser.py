"""The built course site in a real browser (Debian's Chromium through Playwright).

Every page: loads with no console error, requests nothing outside 127.0.0.1, shows no KaTeX error,
has no horizontal scroll at 375 px; screenshots (desktop and phone, JPEG) go to site/_artifacts/.
Every widget: each knob driven over its range, data-state follows, the failure button changes it.
The JS math (schedules, paths, the exact field) agrees with the package's torch code to 1e-5.
"""

from __future__ import annotations

import math
import re

import pytest
import torch
from browser_harness import (
    ARTIFACTS,
    DESKTOP,
    PHONE,
    SITE,
    lesson_sources,
    load_site_module,
)

from generative.continuous.diffusion import DDPM
from generative.continuous.flow_matching import LinearPath, VPPath, exact_marginal_velocity

_files = load_site_module("build").lesson_files(lesson_sources())
PAGES = ["index.html"] + [f"{f.stem}.html" for f in _files]
LIGHT_PAGE = "index.html"  # no widgets: the parity tests only need the page's origin


@pytest.mark.parametrize("page_name", PAGES)
def test_page_loads_clean_offline_and_fits_a_phone(open_page, page_name):
    ARTIFACTS.mkdir(exist_ok=True)
    stem = page_name.removesuffix(".html")
    for label, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        probe = open_page(page_name, viewport)
        page = probe.page
        assert probe.errors == [], f"{page_name} ({label}): {probe.errors}"
        assert probe.offsite() == [], f"{page_name} requested off-site: {probe.offsite()}"
        assert page.locator(".katex-error").count() == 0
        assert page.title()
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{page_name} scrolls sideways by {overflow}px at {viewport['width']}"
        # JPEG: a full 16000 px page encodes in half the time of a PNG
        shot = ARTIFACTS / f"{stem}-{label}.jpg"
        page.screenshot(path=str(shot), full_page=True, type="jpeg", quality=75)


def test_the_harness_sees_an_offsite_request(open_page):
    """The offline check can fail: a request elsewhere is recorded (and aborted, not sent)."""
    probe = open_page("index.html")
    probe.page.evaluate("() => fetch('http://example.com/x.png').catch(() => null)")
    assert probe.offsite() == ["http://example.com/x.png"]


def test_index_lists_every_lesson_with_reading_time(open_page, built_site):
    page = open_page("index.html").page
    items = page.locator(".lesson-list li")
    assert items.count() == len(built_site.lessons)
    for i, lesson in enumerate(built_site.lessons):
        assert items.nth(i).locator("a").get_attribute("href") == lesson.href
        assert f"{lesson.minutes} min" in items.nth(i).inner_text()


def test_prev_next_walk_the_lessons_in_order(built_site):
    """Read from the built HTML: no browser needed to follow two links per page."""
    hrefs = [x.href for x in built_site.lessons]
    for i, href in enumerate(hrefs):
        html = (built_site.out / href).read_text()
        prev = re.search(r'<a class="prev"[^>]*href="([^"]+)"', html).group(1)
        nxt = re.search(r'<a class="next"[^>]*href="([^"]+)"', html).group(1)
        assert nxt == (hrefs[i + 1] if i + 1 < len(hrefs) else "index.html")
        assert prev == (hrefs[i - 1] if i > 0 else "index.html")


INPUT_MS = 50  # the longest a knob's input handler may hold the page (issue 19)
WIDGET_PAGES = [f"{f.stem}.html" for f in _files if "widget(" in f.read_text()]


@pytest.mark.parametrize("page_name", WIDGET_PAGES)
def test_every_widget_follows_every_knob_and_has_a_failure_button(open_page, page_name):
    probe = open_page(page_name)
    assert probe.widgets().count() > 0
    for i in range(probe.widgets().count()):
        w = probe.widgets().nth(i)
        name = w.get_attribute("data-widget")
        knobs = probe.knobs(w)
        assert knobs, f"{name} on {page_name} has no data-knob inputs"
        for k in knobs:
            if k["kind"] == "range":
                for v in (k["min"], k["max"]):
                    state = probe.set_knob(w, k["name"], v)
                    assert math.isclose(float(state[k["name"]]), float(v), rel_tol=1e-6), (
                        f"{name}.{k['name']}={v}: state says {state[k['name']]}"
                    )
            elif k["kind"] == "select":
                for v in k["options"]:
                    assert str(probe.set_knob(w, k["name"], v)[k["name"]]) == v
            elif k["kind"] == "checkbox":
                for v in (True, False):
                    assert probe.set_knob(w, k["name"], v)[k["name"]] is v
        # back to the defaults (the extremes may be the failure itself), then the failure button
        for k in knobs:
            probe.set_knob(w, k["name"], k["checked"] if k["kind"] == "checkbox" else k["value"])
        before = probe.state(w)
        after = probe.failure(w)
        assert after != before, f"{name}: the failure button changed nothing from the defaults"
    assert probe.errors == [], f"{page_name}: {probe.errors}"
    # no knob may freeze the page: every input handler returns within INPUT_MS (heavy work runs
    # in a worker or is cached); the slowest change is printed for the record
    slow = max(probe.timings, key=lambda t: t[3])
    work = max((t for t in probe.timings if t[4] == t[4]), key=lambda t: t[4], default=None)
    print(f"{page_name}: slowest input handler {slow[3]:.1f} ms ({slow[0]}.{slow[1]}={slow[2]})")
    if work:  # the redraw after the handler returned: the page is free between redraws
        where = f"{work[0]}.{work[1]}={work[2]}"
        print(f"{page_name}: slowest deferred redraw {work[4]:.0f} ms ({where})")
    over = [t for t in probe.timings if t[3] > INPUT_MS]
    assert not over, f"{page_name}: input handlers over {INPUT_MS} ms: {over}"


SHOTS = SITE / "_build" / "shots"  # git-ignored: a reviewer's look without a browser


@pytest.mark.parametrize("page_name", WIDGET_PAGES)
def test_widget_screenshots_at_default_and_failure(open_page, page_name):
    """Each widget as a reader first sees it and after its failure button, as PNGs in
    site/_build/shots/<widget>-default.png and -failure.png; the failure must change the picture."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    probe = open_page(page_name)
    for i in range(probe.widgets().count()):
        w = probe.widgets().nth(i)
        name = w.get_attribute("data-widget")
        probe.settled(w)
        w.scroll_into_view_if_needed()
        default = w.screenshot(path=str(SHOTS / f"{name}-default.png"))
        probe.failure(w)
        failure = w.screenshot(path=str(SHOTS / f"{name}-failure.png"))
        assert default != failure, f"{name}: the failure button left the picture unchanged"
    assert probe.errors == [], f"{page_name}: {probe.errors}"


def test_dit_runaways_are_on_screen(open_page):
    """DDIM's runaways: the frame follows them, so every sample is inside the drawn box."""
    probe = open_page("08-diffusion-transformer.html")
    w = probe.widgets().first
    calm = probe.set_knob(w, "sampler", "ancestral")
    bad = probe.failure(w)
    assert bad["outside"] > 0 and bad["zoom"] > 3  # zoomed out to hold the far points
    assert calm["zoom"] < bad["zoom"] / 3
    # every sample's radius fits the zoomed frame: none is drawn off the canvas
    assert bad["max_norm"] <= 3 * bad["zoom"] * 1.5


def test_enlarge_fills_the_window_and_redraws(open_page):
    probe = open_page("02-ddpm-the-forward-chain.html")
    w = probe.widgets().first
    before = w.locator("canvas").first.bounding_box()["width"]
    w.locator('[data-action="enlarge"]').click()
    probe.page.wait_for_timeout(300)
    after = w.locator("canvas").first.bounding_box()["width"]
    assert after > before + 100  # the canvas follows the widget's new width
    probe.page.keyboard.press("Escape")
    probe.page.wait_for_timeout(300)
    assert w.locator("canvas").first.bounding_box()["width"] == pytest.approx(before, abs=2)


def test_lessons_have_contents_takeaway_notation_and_references(built_site):
    for lesson in built_site.lessons:
        if not lesson.slug[:2].isdigit() or int(lesson.slug[:2]) > 15:
            continue  # the fixture lessons
        html = (built_site.out / lesson.href).read_text()
        assert 'class="takeaway"' in html, lesson.slug
        assert 'class="toc"' in html and 'class="header-anchor"' in html, lesson.slug
        assert 'class="notation"' in html, lesson.slug
        assert 'id="references"' in html and "arxiv.org/abs/" in html, lesson.slug
        # every section link in the contents points at a heading of the page
        for target in re.findall(r'<li class="toc-h[23]"><a href="#([^"]+)"', html):
            assert f'id="{target}"' in html, (lesson.slug, target)


def close(js_values, want):
    """JS numbers (nested lists) against a float64 tensor, to 1e-5."""
    got = torch.tensor(js_values, dtype=torch.float64)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


# -- parity: the JS libraries against the package, on fixed inputs ---------------------------

IMPORT = "const m = await import('/widgets/lib/{}.js');"


def _eval(probe, module: str, body: str):
    return probe.page.evaluate(f"async () => {{ {IMPORT.format(module)} {body} }}")


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
@pytest.mark.parametrize("T", [1000, 50])
def test_js_schedules_match_torch(open_page, schedule, T):
    probe = open_page(LIGHT_PAGE)
    names = ["betas", "alphas_cumprod", "alphas_cumprod_prev", "posterior_variance",
             "posterior_mean_coef1", "posterior_mean_coef2"]  # fmt: skip
    js = _eval(
        probe,
        "schedules",
        f"""const c = m.ddpmCoefficients("{schedule}", {T});
        return Object.fromEntries({names}.map(n => [n, Array.from(c[n])]));""",
    )
    ddpm = DDPM(schedule, T)
    for n in names:
        torch.testing.assert_close(torch.tensor(js[n], dtype=torch.float64), getattr(ddpm, n),
                                   atol=1e-5, rtol=1e-5, msg=n)  # fmt: skip
    for steps in (1, 7, 20, T):
        got = _eval(probe, "schedules", f"return m.respaced({T}, {steps});")
        assert got == ddpm.respaced(steps).tolist()


def test_js_paths_and_conversions_match_torch(open_page):
    probe = open_page(LIGHT_PAGE)
    gen = torch.Generator().manual_seed(0)
    x0, x1 = (
        torch.randn(6, 2, generator=gen, dtype=torch.float64),
        torch.randn(6, 2, generator=gen, dtype=torch.float64),
    )
    t = torch.tensor([0.05, 0.2, 0.4, 0.6, 0.8, 0.95], dtype=torch.float64)
    abar = DDPM("cosine", 1000).alphas_cumprod
    paths = {
        "linearPath": LinearPath(),
        "vpPath": VPPath(),
        "ddpm": VPPath.from_alphas_cumprod(abar),
    }
    for js_name, path in paths.items():
        make = "m.vpPathFromAlphasCumprod(abar)" if js_name == "ddpm" else f"m.{js_name}"
        got = probe.page.evaluate(
            """async ([make, x0, x1, t, abar]) => {
                const m = await import('/widgets/lib/paths.js');
                const p = eval(make);
                return t.map((ti, i) => {
                    const {xt, ut} = m.samplePath(p, x0[i], x1[i], ti);
                    return {xt, ut, c: p.coefficients(ti),
                            fromEps: m.velocityFromEps(p, xt, x0[i], ti),
                            fromX1: m.velocityFromX1(p, xt, x1[i], ti),
                            back: m.epsX1FromVelocity(p, xt, ut, ti)};
                });
            }""",
            [make, x0.tolist(), x1.tolist(), t.tolist(), abar.tolist()],
        )
        xt, ut = path.sample(x0, x1, t)
        close([g["xt"] for g in got], xt)
        close([g["ut"] for g in got], ut)
        a, s, da, ds = path.coefficients(t)
        close(
            [[g["c"][k] for k in "a s da ds".split()] for g in got], torch.stack([a, s, da, ds], 1)
        )
        close([g["fromEps"] for g in got], path.velocity_from_eps(xt, x0, t))
        close([g["fromX1"] for g in got], path.velocity_from_x1(xt, x1, t))
        x1_hat, eps_hat = path.eps_x1_from_velocity(xt, ut, t)
        close([g["back"]["x1"] for g in got], x1_hat)
        close([g["back"]["eps"] for g in got], eps_hat)


def test_js_exact_field_matches_torch(open_page):
    probe = open_page(LIGHT_PAGE)
    gen = torch.Generator().manual_seed(1)
    data = torch.randn(50, 2, generator=gen, dtype=torch.float64)
    x = torch.randn(8, 2, generator=gen, dtype=torch.float64)
    for t in (0.0, 0.5, 0.9, 0.99):
        got = probe.page.evaluate(
            """async ([x, t, data]) => {
                const m = await import('/widgets/lib/paths.js');
                return x.map(p => m.exactMarginalVelocity(p, t, data));
            }""",
            [x.tolist(), t, data.tolist()],
        )
        want = exact_marginal_velocity(x, torch.full((8,), t, dtype=torch.float64), data)
        torch.testing.assert_close(
            torch.tensor(got, dtype=torch.float64), want, atol=1e-5, rtol=1e-5
        )
