"""The functions a lesson calls from its Jinja2 template: num, text, code, figure, widget.

Each reads the repository (benchmark JSON, source regions, figures, widget modules) and either
returns what the page shows or raises RefError with a message that says what exists instead.
Block-level results (code, figure, widget) come back as placeholders that survive Markdown and
are swapped for their HTML afterwards (a code listing has blank lines, which would end a raw HTML
block in Markdown).
"""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path

from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer

REGION_START = re.compile(r"^\s*# region: (\S+)\s*$")
REGION_END = re.compile(r"^\s*# endregion\s*$")


class RefError(Exception):
    """A lesson refers to something that does not exist; the message says what does."""


def _keys_at(node) -> str:
    if isinstance(node, dict):
        return ", ".join(map(str, node)) or "(empty)"
    if isinstance(node, list):
        return f"indices 0..{len(node) - 1}" if node else "(empty list)"
    return f"none: it is a {type(node).__name__}"


class LessonRefs:
    """The template functions for the lessons, bound to the repo root and the output folder."""

    def __init__(self, root: Path, out: Path, widgets: list[str]):
        self.root, self.out, self.widgets = root, out, widgets
        self.blocks: list[str] = []  # HTML of block-level references, indexed by placeholder
        self._json: dict[str, object] = {}

    def functions(self) -> dict:
        return {"num": self.num, "text": self.text, "code": self.code, "figure": self.figure,
                "widget": self.widget}  # fmt: skip

    # -- numbers and sentences from benchmarks/results/<experiment>.json ----------------------
    def _result(self, experiment: str):
        if experiment not in self._json:
            path = self.root / "benchmarks" / "results" / f"{experiment}.json"
            if not path.is_file():
                have = sorted(p.stem for p in path.parent.glob("*.json"))
                raise RefError(f"no results file {path.relative_to(self.root)}; have: {have}")
            self._json[experiment] = json.loads(path.read_text())
        return self._json[experiment]

    def _lookup(self, experiment: str, key_path: str):
        node = self._result(experiment)
        walked = []
        for key in key_path.split("/"):
            if (
                isinstance(node, list)
                and key.lstrip("-").isdigit()
                and -len(node) <= int(key) < len(node)
            ):
                node = node[int(key)]
            elif isinstance(node, dict) and key in node:
                node = node[key]
            else:
                at = "/".join(walked) or "(top level)"
                raise RefError(
                    f"{experiment}.json has no key '{key}' at {at}; keys there: {_keys_at(node)}"
                )
            walked.append(key)
        return node

    def num(self, experiment: str, key_path: str, spec: str = "") -> str:
        value = self._lookup(experiment, key_path)
        if isinstance(value, (dict, list)):
            raise RefError(f"{experiment}.json {key_path} is not a number; keys: {_keys_at(value)}")
        if value is None:  # e.g. a threshold the measurement never reached: the prose must say so
            raise RefError(f"{experiment}.json {key_path} is null; rewrite the sentence for it")
        if spec in ("", "g") and isinstance(value, (int, float)) and not isinstance(value, bool):
            return sensible(value)
        try:
            return format(value, spec) if spec else str(value)
        except (ValueError, TypeError) as e:
            raise RefError(f"{experiment}.json {key_path} = {value!r}: format '{spec}': {e}") from e

    def text(self, experiment: str, key_path: str) -> str:
        value = self._lookup(experiment, key_path)
        if not isinstance(value, str):
            raise RefError(f"{experiment}.json {key_path} is a {type(value).__name__}, not text")
        return value

    # -- block references: placeholders replaced after Markdown ------------------------------
    def _block(self, html_text: str) -> str:
        self.blocks.append(html_text)
        return f'\n\n<div data-site-block="{len(self.blocks) - 1}"></div>\n\n'

    def code(self, file: str, region: str) -> str:
        path = self.root / file
        if not path.is_file():
            raise RefError(f"code(): no file {file}")
        lines = path.read_text().splitlines()
        starts = {m.group(1): i for i, line in enumerate(lines) if (m := REGION_START.match(line))}
        if region not in starts:
            raise RefError(f"code(): {file} has no region '{region}'; regions: {sorted(starts)}")
        begin = starts[region] + 1
        end = next((i for i in range(begin, len(lines)) if REGION_END.match(lines[i])), None)
        if end is None:
            raise RefError(f"code(): region '{region}' of {file} has no '# endregion'")
        while end > begin and not lines[end - 1].strip():  # trailing blank lines: not shown
            end -= 1
        body = _dedent(lines[begin:end])
        first, last = begin + 1, end  # 1-based line numbers of the shown lines
        fmt = HtmlFormatter(linenos="table", linenostart=first, cssclass="highlight")
        caption = f"{file}, lines {first}-{last}"
        return self._block(
            f'<figure class="code">{highlight(body, PythonLexer(), fmt)}'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        )

    def figure(self, file: str, caption: str) -> str:
        src = self.root / file
        if not src.is_file():
            raise RefError(f"figure(): no file {file}")
        dest = self.out / "figures" / src.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        if not dest.exists() or dest.stat().st_mtime < src.stat().st_mtime:
            shutil.copy2(src, dest)
        href = f"figures/{html.escape(src.name)}"
        return self._block(
            f'<figure class="plot"><a href="{href}" target="_blank" title="open full size">'
            f'<img src="{href}" alt="{html.escape(caption)}" loading="lazy"></a>'
            f"<figcaption>{html.escape(caption)} (click to open full size)</figcaption></figure>"
        )

    def widget(self, name: str) -> str:
        if name not in self.widgets:
            raise RefError(f"widget(): no widget '{name}'; valid: {', '.join(self.widgets)}")
        return self._block(
            f'<div class="widget" data-widget="{name}"><noscript>This interactive figure needs '
            "JavaScript.</noscript></div>"
        )


def sensible(value: float) -> str:
    """A measured number at the precision a reader can use: whole numbers as they are, three
    significant digits between 1e-4 and 1000 (1.5625 -> 1.56), whole units above, two
    significant digits in scientific form below."""
    if isinstance(value, int) or (value.is_integer() and abs(value) < 1e15):
        return str(int(value))
    if abs(value) >= 1000:
        return str(round(value))
    if abs(value) >= 1e-4:
        return format(value, ".3g")
    return format(value, ".2g")


def _dedent(lines: list[str]) -> str:
    """Strip the common indentation (a method's region) but keep the real line numbers."""
    indents = [len(s) - len(s.lstrip()) for s in lines if s.strip()]
    cut = min(indents, default=0)
    return "\n".join(s[cut:] for s in lines) + "\n"


def pygments_css() -> str:
    return HtmlFormatter(cssclass="highlight").get_style_defs(".highlight")
