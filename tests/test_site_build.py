"""The site builder without a browser: references resolve to the right numbers and lines, and
every broken reference (missing key, region, widget, bad math) fails the build naming the lesson
file and line. Runs the real builder on small lessons written into a temporary folder."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from browser_harness import ROOT, SITE, load_site_module

build = load_site_module("build")
refs = load_site_module("refs")
HAS_KATEX = (SITE / "node_modules" / "katex").is_dir() and shutil.which("node")
# without KaTeX these skip locally; under CI they run (and fail), so CI cannot pass by skipping
needs_katex = pytest.mark.skipif(
    not HAS_KATEX and not os.environ.get("CI"), reason="KaTeX not installed (make site)"
)

FRONT = "---\ntitle: A test\nsummary: One line.\n---\n"


def _lesson(tmp_path: Path, body: str, name: str = "01-test.md") -> Path:
    folder = tmp_path / "lessons"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(FRONT + body)
    return folder


def _fails(tmp_path, body, *fragments):
    """Build a one-lesson site and return the error, which must name the lesson file."""
    with pytest.raises(build.BuildError) as err:
        build.build([_lesson(tmp_path, body)], tmp_path / "out")
    msg = str(err.value)
    assert "01-test.md:" in msg
    for f in fragments:
        assert f in msg, msg
    return msg


def test_num_reads_the_json_with_format_spec(tmp_path):
    data = json.loads((ROOT / "benchmarks/results/exp02_steps_vs_quality.json").read_text())
    r = refs.LessonRefs(ROOT, tmp_path, [])
    assert r.num("exp02_steps_vs_quality", "wall_s", ".1f") == format(data["wall_s"], ".1f")
    label = data["numbers"]["curves"][0]["label"]
    assert r.num("exp02_steps_vs_quality", "numbers/curves/0/label") == label
    assert (
        r.num("exp02_steps_vs_quality", "numbers/curves/-1/label")
        == (data["numbers"]["curves"][-1]["label"])
    )
    assert r.text("exp02_steps_vs_quality", "verdict") == data["verdict"]


def test_missing_key_lists_the_keys_there(tmp_path):
    r = refs.LessonRefs(ROOT, tmp_path, [])
    with pytest.raises(refs.RefError, match=r"no key 'nope' at numbers; keys there: curves"):
        r.num("exp02_steps_vs_quality", "numbers/nope")
    with pytest.raises(refs.RefError, match=r"indices 0\.\."):
        r.num("exp02_steps_vs_quality", "numbers/curves/999")
    with pytest.raises(refs.RefError, match="exp01_standardization"):
        r.num("exp99_missing", "x")


def test_null_number_fails_instead_of_printing_none(tmp_path):
    """A threshold a measurement never reached is null in the JSON: the lesson must not print
    'None' but be rewritten, so num() refuses it."""
    r = refs.LessonRefs(ROOT, tmp_path, [])
    r._json["exp_fake"] = {"numbers": {"nfe_to_1.25x": None}}
    with pytest.raises(refs.RefError, match="is null"):
        r.num("exp_fake", "numbers/nfe_to_1.25x")


def test_code_region_has_the_real_line_numbers(tmp_path):
    src = (ROOT / "generative/continuous/diffusion.py").read_text().splitlines()
    start = src.index("    # region: q_sample") + 2  # 1-based number of the region's first line
    r = refs.LessonRefs(ROOT, tmp_path, [])
    r.code("generative/continuous/diffusion.py", "q_sample")
    html = r.blocks[0]
    assert f"lines {start}-" in html
    first_shown = re.search(r'<span class="normal">(\d+)</span>', html) or re.search(
        r"<pre><span></span>(\d+)", html
    )
    assert first_shown and int(first_shown.group(1)) == start
    shown = re.sub(r"<[^>]+>", "", html)
    assert src[start - 1].strip() in shown  # the line numbered `start` is the region's first line
    assert "# region" not in html and "# endregion" not in html


def test_broken_references_fail_naming_file_and_line(tmp_path):
    # the call sits on line 3 of the body = line 7 of the file (4 lines of front matter)
    body = "Para.\n\n{{ code('generative/continuous/diffusion.py', 'no_such_region') }}\n"
    _fails(tmp_path, body, "01-test.md:7", "no region 'no_such_region'", "q_sample")
    _fails(tmp_path, "\n{{ num('exp02_steps_vs_quality', 'numbers/x') }}", ":6", "keys there")
    _fails(tmp_path, "{{ widget('no-such-widget') }}", ":5", "valid:", "path-drag")
    _fails(tmp_path, "{{ figure('nope.png', 'c') }}", "no file nope.png")
    _fails(tmp_path, "{{ undefined_name }}", "undefined")
    _fails(tmp_path, "{{ num( }}", ":5")  # a template syntax error


def test_front_matter_is_required(tmp_path):
    (tmp_path / "l").mkdir()
    (tmp_path / "l" / "01-x.md").write_text("no front matter\n")
    with pytest.raises(build.BuildError, match="01-x.md:1: a lesson starts with"):
        build.build([tmp_path / "l"], tmp_path / "out")


@needs_katex
def test_katex_error_fails_the_build_with_its_line(tmp_path):
    body = "Fine $x^2$.\n\nBroken $\\frac{1}{$ here.\n"
    _fails(tmp_path, body, "01-test.md:7", "KaTeX cannot parse")


@needs_katex
def test_full_page_math_widget_figure_prev_next(tmp_path):
    body = (
        "Inline $a_t$ and\n\n$$\nb = \\sqrt{1 - \\bar\\alpha}\n$$\n\n"
        "{{ figure('benchmarks/results/exp01_standardization.png', 'A figure.') }}\n\n"
        "{{ widget('path-drag') }}\n\n"
        "The verdict: {{ text('exp02_steps_vs_quality', 'verdict') }}.\n"
    )
    folder = _lesson(tmp_path, body)
    (folder / "02-next.md").write_text(FRONT + "Second lesson, a few words.\n")
    out = tmp_path / "out"
    lessons = build.build([folder], out)
    assert [x.href for x in lessons] == ["01-test.html", "02-next.html"]
    page = (out / "01-test.html").read_text()
    assert page.count('class="katex"') >= 2 and "katex-error" not in page
    assert 'class="math-display"' in page
    assert 'data-widget="path-drag"' in page and 'href="02-next.html"' in page
    assert (out / "figures/exp01_standardization.png").is_file()
    assert (out / "static/katex/katex.min.css").is_file()
    assert (out / "widgets/path-drag.js").is_file() and (out / "static/favicon.svg").is_file()
    index = (out / "index.html").read_text()
    assert "01-test.html" in index and "min</span>" in index
    # nothing on any page points off the machine
    for html in out.glob("*.html"):
        assert not re.search(r'(src|href)="(https?:)?//', html.read_text()), html.name


@needs_katex
def test_cli_builds_and_reports_errors_without_traceback(tmp_path):
    folder = _lesson(tmp_path, "{{ widget('nope') }}")
    run = subprocess.run(
        [sys.executable, str(SITE / "build.py"), "--lessons", str(folder), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert "01-test.md:5: widget(): no widget 'nope'" in run.stderr


def test_site_folder_is_not_a_package():
    assert not (SITE / "__init__.py").exists()  # it would shadow the stdlib module `site`


def test_num_formats_measured_numbers_at_a_readable_precision(tmp_path):
    assert [refs.sensible(v) for v in (1.5625, 3.125, 12.5, 100.0, 6, 1234.56, 0.00012345)] == [
        "1.56",
        "3.12",
        "12.5",
        "100",
        "6",
        "1235",
        "0.000123",
    ]
    assert refs.sensible(2.1e-9) == "2.1e-09"
    r = refs.LessonRefs(ROOT, tmp_path, [])
    data = json.loads((ROOT / "benchmarks/results/exp02_steps_vs_quality.json").read_text())
    ratio = data["numbers"]["headline"]["1.25x_euler"]["ratio"]
    shown = r.num("exp02_steps_vs_quality", "numbers/headline/1.25x_euler/ratio", "g")
    assert shown == refs.sensible(ratio) and len(shown) <= 5


def test_lesson_mentions_link_to_the_other_lessons_only():
    hrefs = {"01": "01-a.html", "02": "02-b.html", "04": "04-d.html"}
    page = (
        "<p>As lesson 01 showed, and lessons 02 and 04 use; lesson 03 is not built; "
        'this is lesson 02.</p><h2 id="x">From lesson 01</h2><code>lesson 01</code>'
    )
    out = build.link_lessons(page, hrefs, own="02")
    assert '<a href="01-a.html">lesson 01</a> showed' in out
    assert 'lessons 02 and <a href="04-d.html">04</a>' in out  # never to itself
    assert "lesson 03 is not built" in out and "this is lesson 02." in out
    assert "<h2" in out and "From lesson 01</h2>" in out and "<code>lesson 01</code>" in out


@needs_katex
def test_contents_bibliography_and_takeaway(tmp_path):
    body = (
        "## First part\n\nHo et al. and DDIM, see lesson 01.\n\n### A detail with $x_0$\n\n"
        "Text.\n\n## Second part\n\nMore.\n"
    )
    folder = _lesson(tmp_path, body)
    f = folder / "01-test.md"
    f.write_text(f.read_text().replace("summary: One line.", "summary: One line.\ntakeaway: Key."))
    (lesson,) = build.build([folder], tmp_path / "out")
    assert [(lvl, i) for lvl, i, _ in lesson.toc] == [
        (2, "first-part"),
        (3, "a-detail-with"),
        (2, "second-part"),
    ]
    assert "katex" in lesson.toc[1][2] and "#" not in lesson.toc[1][2]  # maths, no '#' link
    assert [p["key"] for p in lesson.bibliography] == ["ho2020", "song2021ddim"]
    html = (tmp_path / "out" / "01-test.html").read_text()
    assert 'class="takeaway"' in html and "Key." in html
    assert 'href="https://arxiv.org/abs/2006.11239"' in html


def test_a_takeaway_with_maths_is_refused(tmp_path):
    folder = _lesson(tmp_path, "Body.\n")
    f = folder / "01-test.md"
    f.write_text(f.read_text().replace("summary: One line.", "summary: One line.\ntakeaway: $x$"))
    with pytest.raises(build.BuildError, match="plain text"):
        build.build([folder], tmp_path / "out")
