"""Output paths checked before any work starts: nothing is written into a file, an unwritable
place, or over another output of the same command."""

from __future__ import annotations

import os
from pathlib import Path

from generative.errors import UserError


def _nearest_existing(path: Path) -> Path:
    path = path.absolute()
    while not path.exists():
        path = path.parent
    return path


def writable_folder(path, flag: str) -> Path:
    """A folder that exists or can be made: refuses a file, or a place we cannot write to."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UserError(f"{flag} {path}: is a file, not a folder; give a folder name")
    base = _nearest_existing(path)
    if not base.is_dir():
        raise UserError(f"{flag} {path}: {base} is a file, so no folder can be made under it")
    if not os.access(base, os.W_OK | os.X_OK):
        raise UserError(f"{flag} {path}: {base} is not writable; choose another place")
    return path


def writable_file(path, flag: str) -> Path:
    """A file that can be written (its folder made if missing): refuses a folder or no access."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{flag} {path}: is a folder; give a file name")
    if path.exists() and not os.access(path, os.W_OK):
        raise UserError(f"{flag} {path}: is not writable; choose another file")
    writable_folder(path.parent, flag)
    return path


def distinct(paths: dict):
    """Refuse two outputs of one command that land on the same file (one would overwrite the
    other); paths: what writes it (flag text) -> path or None."""
    seen = {}
    for flag, path in paths.items():
        if path is None:
            continue
        key = Path(path).absolute()
        if key in seen:
            raise UserError(
                f"{flag} and {seen[key]} would both write {path}; give them different names"
            )
        seen[key] = flag


def make_parent(path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path
