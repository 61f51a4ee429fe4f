"""Build the course site: lessons/NN-slug.md -> site/_build/, static pages that work offline.

    python site/build.py                      # lessons/ -> site/_build/
    python site/build.py --out /tmp/s --lessons lessons tests/site_fixture

Each lesson goes through three stages: Jinja2 (StrictUndefined) with the functions of refs.py,
Markdown (markdown-it-py: commonmark, tables, dollarmath), then KaTeX for the math (node, one
process for the whole site, cached by formula). Any failure is a BuildError naming the lesson file
and line. site/ is a folder of scripts, not a package: `import site` is the standard library's.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
from markdown_it import MarkdownIt
from mdit_py_plugins.anchors import anchors_plugin
from mdit_py_plugins.dollarmath import dollarmath_plugin
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

SITE = Path(__file__).resolve().parent
ROOT = SITE.parent
sys.path.insert(0, str(SITE))
from refs import LessonRefs, RefError, pygments_css  # noqa: E402

KATEX = SITE / "node_modules" / "katex"
WORDS_PER_MINUTE = 200
MATH_TOKENS = ("math_inline", "math_inline_double", "math_block", "math_block_label")
LESSON_NAME = re.compile(r"^\d\d-[a-z0-9-]+\.md$")


class BuildError(Exception):
    """A lesson cannot be built; the message starts with 'file:line:'."""


@dataclass
class Lesson:
    path: Path
    title: str
    summary: str
    body: str
    body_line: int  # 1-based line of the body's first line in the file
    slug: str = ""
    html: str = ""
    words: int = 0
    tokens: list = field(default_factory=list)
    takeaway: str = ""  # front matter 'takeaway:': the boxed sentence at the top of the page
    toc: list = field(default_factory=list)  # (level, id, html) of each h2/h3
    bibliography: list = field(default_factory=list)  # papers named in the lesson (papers.json)

    @property
    def number(self) -> str:
        return self.slug[:2]

    @property
    def href(self) -> str:
        return f"{self.slug}.html"

    @property
    def minutes(self) -> int:
        return max(1, math.ceil(self.words / WORDS_PER_MINUTE))

    def where(self, line: int) -> str:
        return f"{_rel(self.path)}:{line}"


def _rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def read_lesson(path: Path) -> Lesson:
    """Split the front matter (title, summary) from the body."""
    lines = path.read_text().split("\n")
    if not lines or lines[0].strip() != "---" or "---" not in [s.strip() for s in lines[1:]]:
        raise BuildError(f"{_rel(path)}:1: a lesson starts with a '---' front-matter block")
    end = 1 + [s.strip() for s in lines[1:]].index("---")
    meta = {}
    for i, line in enumerate(lines[1:end], start=2):
        key, sep, value = line.partition(":")
        if not sep or not key.strip():
            raise BuildError(f"{_rel(path)}:{i}: front matter lines are 'key: value'")
        meta[key.strip()] = value.strip()
    for key in ("title", "summary"):
        if not meta.get(key):
            raise BuildError(f"{_rel(path)}:1: front matter needs '{key}: ...'")
    if "$" in meta.get("takeaway", ""):
        raise BuildError(f"{_rel(path)}:1: the takeaway is plain text (no $math$)")
    body = "\n".join(lines[end + 1 :])
    return Lesson(path, meta["title"], meta["summary"], body, end + 2, slug=path.stem,
                  takeaway=meta.get("takeaway", ""))  # fmt: skip


def render_template(lesson: Lesson, refs: LessonRefs) -> str:
    """Stage 1: the body as a Jinja2 template; errors point at the lesson's own line."""
    name = str(lesson.path)
    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(lambda _: (lesson.body, name, lambda: True)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    try:
        return env.get_template(name).render(**refs.functions())
    except jinja2.TemplateSyntaxError as e:
        raise BuildError(f"{lesson.where(lesson.body_line + e.lineno - 1)}: {e.message}") from e
    except Exception as e:  # any failure inside a template is the lesson's error
        line, tb = 1, e.__traceback__
        while tb is not None:  # Jinja rewrites tracebacks so template frames carry its lines
            if tb.tb_frame.f_code.co_filename == name:
                line = tb.tb_lineno
            tb = tb.tb_next
        kind = "" if isinstance(e, RefError) else f"{type(e).__name__}: "
        raise BuildError(f"{lesson.where(lesson.body_line + line - 1)}: {kind}{e}") from e


def _fence(self, tokens, idx, options, env) -> str:
    """Fenced code blocks highlighted by Pygments (same look as the code() listings)."""
    tok = tokens[idx]
    lang = tok.info.strip().split()[0] if tok.info.strip() else "text"
    try:
        lexer = get_lexer_by_name(lang)
    except ClassNotFound:
        lexer = get_lexer_by_name("text")
    return highlight(tok.content, lexer, HtmlFormatter(cssclass="highlight"))


def _slug(title: str) -> str:
    """A heading's id: lower-case words joined by '-' (maths drops out, no dangling '-')."""
    words = re.sub(r"[^\w\s-]", "", title.lower()).split()
    return re.sub(r"-+", "-", "-".join(words)).strip("-") or "section"


def make_markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark").enable("table")
    md.use(dollarmath_plugin, allow_space=True, double_inline=True)
    # id="..." and a "#" link on h2/h3: every section can be linked to
    md.use(anchors_plugin, min_level=2, max_level=3, permalink=True, permalinkSymbol="#",
           slug_func=_slug)  # fmt: skip
    md.add_render_rule("fence", _fence)
    return md


def _walk(tokens):
    for tok in tokens:
        yield tok
        if tok.children:
            yield from _walk(tok.children)


def _source_line(lesson: Lesson, tex: str) -> int:
    """The file line where a formula starts (math errors are rare: a text search is enough)."""
    first = tex.strip().split("\n")[0].strip()
    for i, line in enumerate(lesson.body.split("\n")):
        if first and first in line:
            return lesson.body_line + i
    return lesson.body_line


def render_math(lessons: list[Lesson], cache_path: Path) -> dict:
    """Stage 3: every formula of the site through KaTeX in one node process, cached by formula."""
    if shutil.which("node") is None:
        raise BuildError("node is not installed: the math is rendered by KaTeX under node")
    if not (KATEX / "package.json").is_file():
        raise BuildError("KaTeX is not installed: run `npm ci` in site/ (`make lessons` does)")
    version = json.loads((KATEX / "package.json").read_text())["version"]
    cache = json.loads(cache_path.read_text()) if cache_path.is_file() else {}
    if cache.get("katex") != version:
        cache = {"katex": version, "formulas": {}}
    formulas = cache["formulas"]
    wanted = {}
    for lesson in lessons:
        for tok in _walk(lesson.tokens):
            if tok.type in MATH_TOKENS:
                key = ("D" if tok.type.startswith("math_block") else "I") + tok.content
                wanted.setdefault(key, lesson)
    todo = [k for k in wanted if k not in formulas]
    if todo:
        job = json.dumps([{"tex": k[1:], "display": k[0] == "D"} for k in todo])
        run = subprocess.run(["node", str(SITE / "katex_render.mjs")], input=job, text=True,
                             capture_output=True, cwd=SITE)  # fmt: skip
        if run.returncode != 0:
            raise BuildError(f"KaTeX (node) failed: {run.stderr.strip()[-2000:]}")
        for key, res in zip(todo, json.loads(run.stdout), strict=True):
            if "error" in res:
                lesson = wanted[key]
                where = lesson.where(_source_line(lesson, key[1:]))
                raise BuildError(f"{where}: KaTeX cannot parse ${key[1:]}$: {res['error']}")
            formulas[key] = res["html"]
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        cache_path.write_text(json.dumps(cache))
    return formulas


def _math_rules(md: MarkdownIt, formulas: dict) -> None:
    def inline(self, tokens, idx, options, env):
        return formulas["I" + tokens[idx].content]

    def block(self, tokens, idx, options, env):
        return f'<div class="math-display">{formulas["D" + tokens[idx].content]}</div>\n'

    for kind in ("math_inline", "math_inline_double"):
        md.add_render_rule(kind, inline)
    for kind in ("math_block", "math_block_label"):
        md.add_render_rule(kind, block)


def _toc(md: MarkdownIt, tokens) -> list[tuple[int, str, str]]:
    """(level, id, inline HTML) of every h2/h3, without the heading's own '#' link."""
    out = []
    for i, tok in enumerate(tokens):
        if tok.type == "heading_open" and tok.tag in ("h2", "h3") and tok.attrs.get("id"):
            kids = tokens[i + 1].children or []
            cut = next((j for j, c in enumerate(kids) if c.type == "link_open"), len(kids))
            if cut and kids[cut - 1].type == "text" and kids[cut - 1].content == " ":
                cut -= 1
            text = md.renderer.renderInline(kids[:cut], md.options, {})
            out.append((int(tok.tag[1]), tok.attrs["id"], text))
    return out


def _bibliography(text: str) -> list[dict]:
    """The papers of site/papers.json whose names occur in a lesson's text, in file order."""
    papers = json.loads((SITE / "papers.json").read_text())
    return [{"key": k, **p} for k, p in papers.items()
            if not k.startswith("_") and re.search(p["names"], text)]  # fmt: skip


LESSON_MENTION = re.compile(r"\b([Ll]essons? )(\d\d)((?:(?:, | and | or |-)\d\d)*)\b")


def link_lessons(page: str, hrefs: dict[str, str], own: str) -> str:
    """'lesson 06' (and 'lessons 02 and 04') in running text become links to those lessons;
    never inside a link, code or a heading, never to the lesson itself."""
    skip = 0  # depth inside elements whose text must stay as is
    out = []
    for part in re.split(r"(<[^>]+>)", page):
        if part.startswith("<"):
            m = re.match(r"<(/?)(a|code|pre|h[1-6])\b", part)
            if m and not part.endswith("/>"):
                skip += -1 if m.group(1) else 1
            out.append(part)
            continue
        if skip > 0:
            out.append(part)
            continue

        def one(num: str) -> str:
            href = hrefs.get(num)
            return f'<a href="{href}">{num}</a>' if href and num != own else num

        def repl(m: re.Match) -> str:
            rest = re.sub(r"\d\d", lambda n: one(n.group(0)), m.group(3))
            first, href = m.group(2), hrefs.get(m.group(2))
            if href and first != own:  # the link covers "lesson 06", not just "06"
                return f'<a href="{href}">{m.group(1)}{first}</a>{rest}'
            return f"{m.group(1)}{first}{rest}"

        out.append(LESSON_MENTION.sub(repl, part))
    return "".join(out)


def _word_count(tokens) -> int:
    return sum(len(t.content.split()) for t in _walk(tokens) if t.type in ("text", "code_inline"))


def _sync(src: Path, dest: Path) -> None:
    """Copy a file or a tree, skipping files whose copy is already up to date."""
    files = [src] if src.is_file() else [p for p in src.rglob("*") if p.is_file()]
    for f in files:
        target = dest if src.is_file() else dest / f.relative_to(src)
        s = f.stat()
        if (
            target.exists()
            and target.stat().st_size == s.st_size
            and target.stat().st_mtime >= s.st_mtime
        ):
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(f, target)


def lesson_files(sources: list[Path]) -> list[Path]:
    files = []
    for src in sources:
        found = sorted(src.glob("*.md")) if src.is_dir() else [src]
        files += [f for f in found if LESSON_NAME.match(f.name)]
    names = [f.name for f in files]
    if dupes := sorted({n for n in names if names.count(n) > 1}):
        raise BuildError(f"two lessons with the same file name: {dupes}")
    return sorted(files, key=lambda f: f.name)


def build(sources: list[Path], out: Path) -> list[Lesson]:
    """Build every lesson found in `sources` (folders or files) and the index into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    widgets = sorted(p.stem for p in (SITE / "widgets").glob("*.js"))
    md = make_markdown()
    lessons = [read_lesson(p) for p in lesson_files(sources)]
    blocks = {}
    for lesson in lessons:
        refs = LessonRefs(ROOT, out, widgets)
        text = render_template(lesson, refs)
        lesson.tokens = md.parse(text)
        lesson.words = _word_count(lesson.tokens)
        lesson.bibliography = _bibliography(text)
        blocks[lesson.slug] = refs.blocks
    _math_rules(md, render_math(lessons, out / ".katex-cache.json"))
    hrefs = {x.number: x.href for x in lessons}
    for lesson in lessons:
        page = md.renderer.render(lesson.tokens, md.options, {})
        page = link_lessons(page, hrefs, lesson.number)
        swap = lambda m, b=blocks[lesson.slug]: b[int(m.group(1))]  # noqa: E731
        lesson.html = re.sub(r'<div data-site-block="(\d+)"></div>', swap, page)
        lesson.toc = _toc(md, lesson.tokens)
    write_pages(lessons, out)
    return lessons


def one_picture_svg(n: int = 90) -> str:
    """The course in one picture: the same particles on the linear path x_t = (1 - t) x0 + t x1
    at five times, noise on the left, two moons on the right; forward fixed, reverse learned."""
    rng = random.Random(3)
    pairs = []
    for i in range(n):
        a = math.pi * rng.random()
        upper = i % 2 == 0
        x1 = (math.cos(a), math.sin(a)) if upper else (1 - math.cos(a), 0.5 - math.sin(a))
        x1 = ((x1[0] - 0.5) / 0.87 + rng.gauss(0, 0.06), (x1[1] - 0.25) / 0.49 + rng.gauss(0, 0.06))
        pairs.append(((rng.gauss(0, 1), rng.gauss(0, 1)), x1, upper))
    panels = []
    for j, t in enumerate((0, 0.25, 0.5, 0.75, 1)):
        cx = 70 + j * 125
        dots = "".join(
            f'<circle cx="{cx + 19 * ((1 - t) * a[0] + t * b[0]):.1f}" '
            f'cy="{110 - 19 * ((1 - t) * a[1] + t * b[1]):.1f}" r="2" '
            f'fill="{"#d9480f" if t == 1 else "#1c7ed6" if t else "#8a94a6"}"/>'
            for a, b, _ in pairs
        )
        label = {0: "t = 0: prior N(0, I)", 1: "t = 1: data"}.get(t, f"t = {t}")
        panels.append(f'{dots}<text x="{cx}" y="185" text-anchor="middle">{label}</text>')
    return (
        '<svg viewBox="0 0 640 240" role="img" font-size="12" fill="#212529" aria-label="The '
        "same particles on the path from the prior (left) to the two moons (right) at five "
        'times; forward fixed, reverse learned">'
        '<defs><marker id="hd" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="context-stroke"/>'
        "</marker></defs>" + "".join(panels) +
        '<line x1="590" y1="22" x2="50" y2="22" stroke="#5c636a" stroke-width="1.5" '
        'marker-end="url(#hd)"/><text x="320" y="15" text-anchor="middle" fill="#5c636a">'
        "forward: fixed, adds noise (p_t from data to prior)</text>"
        '<line x1="50" y1="208" x2="590" y2="208" stroke="#1c7ed6" stroke-width="2" '
        'marker-end="url(#hd)"/><text x="320" y="228" text-anchor="middle" fill="#1c7ed6">'
        "reverse: learned, the sampler (prior to new data)</text></svg>"
    )  # fmt: skip


def write_pages(lessons: list[Lesson], out: Path) -> None:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(SITE / "templates"),
        undefined=jinja2.StrictUndefined,
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    _sync(SITE / "static", out / "static")
    _sync(SITE / "widgets", out / "widgets")
    if (SITE / "baked").is_dir():
        _sync(SITE / "baked", out / "baked")
    _sync(KATEX / "dist" / "katex.min.css", out / "static" / "katex" / "katex.min.css")
    _sync(KATEX / "dist" / "fonts", out / "static" / "katex" / "fonts")
    (out / "static" / "highlight.css").write_text(pygments_css())
    # a version string on static URLs so a reader's browser never mixes old CSS/JS with new pages
    stamp = hashlib.sha256((SITE / "static" / "site.css").read_bytes()).hexdigest()[:8]
    common = {"lessons": lessons, "stamp": stamp, "total_minutes": sum(x.minutes for x in lessons),
              "one_picture": one_picture_svg()}  # fmt: skip
    written = {"index.html"}
    (out / "index.html").write_text(env.get_template("index.html").render(**common))
    for i, lesson in enumerate(lessons):
        prev = lessons[i - 1] if i > 0 else None
        nxt = lessons[i + 1] if i + 1 < len(lessons) else None
        page = env.get_template("lesson.html").render(lesson=lesson, prev=prev, next=nxt, **common)
        (out / lesson.href).write_text(page)
        written.add(lesson.href)
    for stale in out.glob("*.html"):  # a renamed or removed lesson leaves no page behind
        if stale.name not in written:
            stale.unlink()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--out", type=Path, default=SITE / "_build", help="output folder")
    p.add_argument(
        "--lessons",
        type=Path,
        nargs="+",
        default=[ROOT / "lessons"],
        help="folders (their NN-slug.md files) or lesson files; default: lessons/",
    )
    args = p.parse_args(argv)
    start = time.perf_counter()
    try:
        lessons = build(args.lessons, args.out)
    except BuildError as e:
        print(f"site build failed: {e}", file=sys.stderr)
        return 1
    took = time.perf_counter() - start
    print(f"built {len(lessons)} lesson(s) into {_rel(args.out)} in {took:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
