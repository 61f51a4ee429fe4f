"""Config fields that carry their own help, choices and range, and one check for all of them.

The command line is generated from these fields (generative/cli/flags.py), and the same check
runs on a config built in Python or read back from a run's config.json, so every entry point
refuses the same values with the same message.
"""

from __future__ import annotations

import dataclasses
import math
import typing

from generative.errors import UserError


def option(
    default,
    help: str,
    *,
    choices=None,
    ge=None,
    gt=None,
    lt=None,
    le=None,
    auto=None,
    auto_text: str | None = None,
    applies=None,
    flag: str | None = None,
):
    """A dataclass field with the metadata the command line and check() read.

    choices: the valid names (a registry: tuple or dict); ge/gt/lt/le: the range; auto: the
    default value that means "chosen for you" (accepted here, refused as a typed flag), auto_text
    says what it becomes; applies: (when, predicate(cfg)) for fields that only act in some runs;
    flag: the flag name where the field name would clash with another part's meaning (None:
    derived from the field name; "" keeps the field off the command line)."""
    meta = {
        "help": help,
        "choices": tuple(dict.fromkeys(choices)) if choices is not None else None,
        "range": (ge, gt, lt, le),
        "auto": auto,
        "auto_text": auto_text,
        "applies": applies,
        "flag": flag,
    }
    return dataclasses.field(default=default, metadata=meta)


def flag_name(f: dataclasses.Field) -> str:
    """The flag of a field: metadata's flag, else --field-name ("" when the field has none)."""
    name = f.metadata.get("flag")
    return ("--" + f.name.replace("_", "-")) if name is None else name


def range_text(meta) -> str:
    """'[0, 1)', '> 0', '>= 1' ... for a field's range; '' when it has none."""
    ge, gt, lt, le = meta.get("range", (None,) * 4)
    lo = f"[{ge}" if ge is not None else f"({gt}" if gt is not None else None
    hi = f"{lt})" if lt is not None else f"{le}]" if le is not None else None
    if lo and hi:
        return f"in {lo}, {hi}"
    if lo:
        return (">= " if ge is not None else "> ") + lo[1:]
    if hi:
        return ("< " if lt is not None else "<= ") + hi[:-1]
    return ""


def in_range(value, meta) -> bool:
    ge, gt, lt, le = meta.get("range", (None,) * 4)
    if isinstance(value, float) and not math.isfinite(value):
        return False
    return not (
        (ge is not None and value < ge)
        or (gt is not None and value <= gt)
        or (lt is not None and value >= lt)
        or (le is not None and value > le)
    )


def base_type(annotation) -> tuple[type, bool]:
    """(int | float | str | bool | tuple, whether None is allowed) of a resolved annotation."""
    args = typing.get_args(annotation)
    if args:  # X | None
        if annotation is tuple or typing.get_origin(annotation) is tuple:
            return tuple, False
        inner = [a for a in args if a is not type(None)]
        return inner[0], len(inner) < len(args)
    return annotation, False


def show(value) -> str:
    """A value as a flag would take it: 1e-3 not 0.001000, on/off for bools, 8,6,5 for tuples."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, (tuple, list)):
        return ",".join(map(str, value))
    if value is None or value == "":
        return "none"
    return f"{value:g}" if isinstance(value, float) else str(value)


def check_value(cls, name: str, value):
    """Refuse a value of the wrong type, an unknown choice or one out of range (UserError)."""
    f = {x.name: x for x in dataclasses.fields(cls)}[name]
    meta = f.metadata
    kind, optional = base_type(typing.get_type_hints(cls)[name])
    label = flag_name(f) or name
    if value is None and optional:
        return
    if "auto" in meta and meta["auto"] is not None and value == meta["auto"]:
        return
    ok = {
        bool: lambda v: isinstance(v, bool),
        int: lambda v: isinstance(v, int) and not isinstance(v, bool),
        float: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        str: lambda v: isinstance(v, str),
        tuple: lambda v: isinstance(v, (tuple, list)),
    }.get(kind, lambda v: True)
    if not ok(value):
        want = kind.__name__ + (" or null" if optional else "")
        raise UserError(f"{label} {value!r}: expected a {want} ({meta.get('help', name)})")
    choices = meta.get("choices")
    if choices is not None and value not in choices:
        raise UserError(
            f"{label} '{value}': unknown; valid choices: {', '.join(map(str, choices))}"
        )
    if kind in (int, float) and not in_range(value, meta):
        raise UserError(
            f"{label} {show(value)}: must be {range_text(meta)} ({meta.get('help', name)})"
        )


def check(cfg):
    """Check every field of a config dataclass that carries option() metadata; returns cfg."""
    for f in dataclasses.fields(cfg):
        if "help" in f.metadata:
            check_value(type(cfg), f.name, getattr(cfg, f.name))
    return cfg


def from_json(cls, raw: dict, where: str):
    """A config from a config.json dict: unknown keys, wrong types and bad values are errors
    naming the file (a hand-edited or foreign config is refused, never guessed at)."""
    if not isinstance(raw, dict):
        raise UserError(f"{where}: expected a JSON object of settings")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - names)
    if unknown:
        raise UserError(f"{where}: unknown setting(s) {', '.join(unknown)}; the file is damaged")
    hints = typing.get_type_hints(cls)
    raw = {
        k: tuple(v) if base_type(hints[k])[0] is tuple and isinstance(v, list) else v
        for k, v in raw.items()
    }
    try:
        return check(cls(**raw))
    except UserError as exc:
        raise UserError(f"{where}: {exc}") from None


def saved_config(cls, run_dir, section: str | None = "train"):
    """The `cls` stored in a run folder's config.json under `section` (None: the whole file);
    a damaged or foreign file is refused with its name."""
    from pathlib import Path

    from generative.checkpoint import read_json

    meta = read_json(Path(run_dir) / "config.json")
    if section is not None:
        if not isinstance(meta.get(section), dict):
            raise UserError(f"{run_dir}/config.json is not a run config (no '{section}' settings)")
        meta = meta[section]
    return from_json(cls, meta, f"{run_dir}/config.json")
