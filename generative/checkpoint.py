"""Run folders: safetensors weights plus JSON, written atomically; loading never runs code.

A run folder holds
    config.json                   what was trained, on what, with the data's standardization
    state.json                    step, loss log, and the name + SHA-256 of the current weights
    checkpoint-<step>.safetensors model, EMA and optimizer tensors, RNG state
    snapshots/ema-<step>.safetensors  EMA weights kept along the way (snapshot_every > 0)
New weights go to a new file first; state.json is then swapped in one rename; only then is the
old weights file removed. A crash at any point leaves a consistent (older) checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from generative.errors import UserError


def _atomic_write_bytes(path: Path, data: bytes):
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_json(path, obj):
    _atomic_write_bytes(Path(path), json.dumps(obj, indent=2).encode())


def read_json(path) -> dict:
    path = Path(path)
    try:
        obj = json.loads(path.read_text())
    except (FileNotFoundError, NotADirectoryError):
        raise UserError(
            f"{path.parent} is not a run folder (no {path.name}); train one with `generative train`"
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: corrupt JSON ({exc}); the run folder is damaged") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc})") from None
    if not isinstance(obj, dict):
        raise UserError(f"{path}: expected a JSON object, found {type(obj).__name__}; damaged")
    return obj


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def save_checkpoint(run_dir, tensors: dict[str, torch.Tensor], state: dict):
    """Write the tensors to a new file, then point state.json at it, then drop the old file."""
    run_dir = Path(run_dir)
    old = None
    if (run_dir / "state.json").exists():
        old = run_dir / read_json(run_dir / "state.json").get("checkpoint", "")
    name = f"checkpoint-{state['step']}.safetensors"
    tmp = run_dir / (name + ".tmp")
    save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp))
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, run_dir / name)
    write_json(
        run_dir / "state.json", {**state, "checkpoint": name, "sha256": sha256(run_dir / name)}
    )
    if old is not None and old.name != name and old.is_file():
        old.unlink()


def load_checkpoint(run_dir) -> tuple[dict[str, torch.Tensor], dict]:
    """(tensors, state); refuses a missing, truncated or altered weights file."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UserError(f"{run_dir}: no such run folder")
    state = read_json(run_dir / "state.json")
    path = run_dir / state.get("checkpoint", "?")
    if not path.is_file():
        raise UserError(f"{run_dir}: state.json names {path.name}, which is missing")
    if sha256(path) != state.get("sha256"):
        raise UserError(
            f"{path}: checksum mismatch (truncated or altered); refusing to load it. "
            "Retrain, or restore the file from a copy."
        )
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise UserError(f"{path}: not a readable safetensors file ({exc})") from None
    return tensors, state


def save_snapshot(run_dir, ema: torch.nn.Module, step: int):
    """Keep the EMA weights at this step in snapshots/ (for quality-versus-training curves)."""
    folder = Path(run_dir) / "snapshots"
    folder.mkdir(exist_ok=True)
    tmp = folder / f"ema-{step}.safetensors.tmp"
    save_file(
        {f"ema.{k}": v.detach().cpu().contiguous() for k, v in ema.state_dict().items()}, str(tmp)
    )
    os.replace(tmp, folder / f"ema-{step}.safetensors")


def load_snapshot(run_dir, step: int) -> dict[str, torch.Tensor]:
    path = Path(run_dir) / "snapshots" / f"ema-{step}.safetensors"
    if not path.is_file():
        raise UserError(f"{path}: no snapshot at step {step}")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise UserError(f"{path}: not a readable safetensors file ({exc})") from None
