"""Config dataclasses -> argparse flags, and the flags given -> the config back.

Every field made with generative.config.option() becomes one flag: its name from the field (or
the field's `flag`), its type from the annotation, its help, default, choices and range from the
field. Flags are added with no argparse default, so the namespace holds only what the user
typed: a config is then its dataclass defaults plus those values, and a typed flag that the
chosen config lacks, or that does not act with the chosen settings, is an error naming the
flags that do (never silently ignored).
"""

from __future__ import annotations

import argparse
import dataclasses
import typing
from dataclasses import dataclass, field

from generative.config import base_type, check, check_value, flag_name, range_text, show
from generative.errors import UserError


@dataclass
class Flag:
    """One command-line flag and the config field it sets in each class that has it."""

    name: str  # --lr
    dest: str
    kind: type
    fields: dict = field(default_factory=dict)  # config class -> dataclasses.Field


def _fields(cls):
    return [f for f in dataclasses.fields(cls) if "help" in f.metadata and flag_name(f)]


def _parse(kind: type, name: str):
    """The argparse type function: converts the text, names the flag and the expected form."""

    def parse(text: str):
        try:
            if kind is bool:
                raise ValueError
            if kind is tuple:
                return tuple(int(v) for v in text.split(","))
            return kind(text)
        except ValueError:
            form = {int: "an integer", float: "a number", tuple: "integers like 8,6,5"}
            raise argparse.ArgumentTypeError(f"'{text}' is not {form.get(kind, kind)}") from None

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


def _default_text(f) -> str:
    meta = f.metadata
    if meta.get("auto_text") and (f.default == meta.get("auto") or f.default is None):
        return meta["auto_text"]
    return show(f.default)


def _per_class(flag: Flag, labels: dict, text) -> str:
    """One text when every class agrees, else 'Part A: ...; Part B: ...' ('' if none has one)."""
    texts = {cls: text(f) for cls, f in flag.fields.items()}
    texts = {c: t for c, t in texts.items() if t}
    if len(set(texts.values())) <= 1:
        return next(iter(texts.values()), "")
    return "; ".join(f"{labels.get(c, c.__name__)}: {t}" for c, t in texts.items())


def _help(flag: Flag, labels: dict) -> str:
    text = _per_class(flag, labels, lambda f: f.metadata["help"])
    ranges = _per_class(flag, labels, lambda f: range_text(f.metadata))
    whens = [f.metadata["applies"][0] for f in flag.fields.values() if f.metadata["applies"]]
    if ranges:
        text += f"; {ranges}"
    if whens and len(whens) == len(flag.fields):
        text += f"; only with {max(whens, key=len)}"
    default = _per_class(flag, labels, _default_text)
    return f"{text} (default: {default})".replace("%", "%%")


def add_flags(parser, classes, title, labels=None) -> tuple[dict[str, Flag], dict]:
    """Add every option() field of the classes as one flag each (a flag several classes share
    is added once, in the group title(owners) names). Returns the flag table for build() and
    the argument groups by title."""
    flags: dict[str, Flag] = {}
    for cls in classes:
        hints = typing.get_type_hints(cls)
        for f in _fields(cls):
            name, kind = flag_name(f), base_type(hints[f.name])[0]
            flag = flags.setdefault(name, Flag(name, name[2:].replace("-", "_"), kind))
            if flag.kind is not kind:
                raise TypeError(f"{name} means a {flag.kind} and a {kind}: one name, one meaning")
            flag.fields[cls] = f
    groups = {}
    for flag in flags.values():
        name = title(tuple(flag.fields))
        if name not in groups:
            groups[name] = parser.add_argument_group(name)
        add_one(groups[name], flag, _help(flag, labels or {}))
    return flags, groups


def add_one(group, flag: Flag, help: str):
    kw = {"dest": flag.dest, "default": argparse.SUPPRESS, "help": help}
    if flag.kind is bool:
        group.add_argument(flag.name, action=argparse.BooleanOptionalAction, **kw)
        return
    choices = [c for f in flag.fields.values() for c in (f.metadata["choices"] or ())]
    open_ended = any(f.metadata["choices"] is None for f in flag.fields.values())
    if choices and not open_ended:
        kw["choices"] = list(dict.fromkeys(choices))
    metavar = flag.name[2:].upper().replace("-", "_")
    if "choices" in kw:
        metavar = "{" + ",".join(map(str, kw["choices"])) + "}"
    group.add_argument(flag.name, type=_parse(flag.kind, flag.name), metavar=metavar, **kw)


def given(args, flags: dict[str, Flag]) -> dict[str, object]:
    """flag name -> value, for the flags typed on the command line."""
    return {n: getattr(args, f.dest) for n, f in flags.items() if hasattr(args, f.dest)}


def typed(name: str, value) -> str:
    """A flag as the user typed it (for a bool: --no-x when off)."""
    if isinstance(value, bool):
        return name if value else "--no-" + name[2:]
    return f"{name} {show(value)}"


def build(cls, values: dict, flags: dict[str, Flag], what: str, base=None):
    """cls from `base` (default: its defaults) and the flags given. A flag cls lacks, a field
    that does not act with these settings, a value out of range: UserError naming the fix."""
    foreign = [n for n in values if cls not in flags[n].fields]
    if foreign:
        own = {f.fields[cls].name: n for n, f in flags.items() if cls in f.fields}
        same = [  # the same setting under this config's own flag name (--depth -> --layers)
            f"{own[f.name]} for {n}"
            for n in foreign
            for f in flags[n].fields.values()
            if f.name in own
        ]
        hint = f" (use {', '.join(dict.fromkeys(same))} here)" if same else ""
        raise UserError(
            f"{', '.join(foreign)} does not apply to {what}{hint}; its flags are "
            + ", ".join(own.values())
        )
    kwargs = {}
    for name, value in values.items():
        f = flags[name].fields[cls]
        if f.metadata["auto"] is not None and value == f.metadata["auto"]:
            raise UserError(f"{name} {show(value)}: must be {range_text(f.metadata)}")
        check_value(cls, f.name, value)
        kwargs[f.name] = value
    cfg = dataclasses.replace(base, **kwargs) if base is not None else cls(**kwargs)
    check(cfg)
    for name, value in values.items():
        applies = flags[name].fields[cls].metadata["applies"]
        if applies and not applies[1](cfg):
            acting = [
                n
                for n, fl in flags.items()
                if cls in fl.fields
                and fl.fields[cls].metadata["applies"]
                and fl.fields[cls].metadata["applies"][1](cfg)
            ]
            raise UserError(
                f"{typed(name, value)} acts only with {applies[0]}, so it would be ignored here; "
                f"drop it (the flags specific to these settings: {', '.join(acting) or 'none'})"
            )
    return cfg
