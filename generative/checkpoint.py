"""Run folders: safetensors weights plus JSON, written atomically; loading never runs code.

A run folder holds
    config.json                   what was trained, on what, with the data's standardization
    state.json                    step, loss log, and the name + SHA-256 of the current weights
    checkpoint-<step>.safetensors model, EMA and optimizer tensors, RNG state
    snapshots/ema-<step>.safetensors  EMA weights kept along the way (snapshot_every > 0)
    loss.png                      the training loss against the step
    .lock                         the writing process's pid while it trains (see RunLock)
New weights go to a new file first; state.json is then swapped in one rename; only then is the
old weights file removed. A crash at any point leaves a consistent (older) checkpoint.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
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


def training_tensors(model, ema, opt, gen, rank_states=()) -> dict[str, torch.Tensor]:
    """Weights, EMA, optimizer moments and RNG states as one flat dict of tensors."""
    out = {f"model.{k}": v for k, v in model.state_dict().items()}
    if ema is not None:
        out.update({f"ema.{k}": v for k, v in ema.state_dict().items()})
    for idx, st in opt.state_dict()["state"].items():
        out.update({f"opt.{idx}.{k}": torch.as_tensor(v) for k, v in st.items()})
    out["rng"] = gen.get_state()
    out["rng.torch"] = torch.get_rng_state()  # initializations, VQ's dead-code restarts
    out.update({f"rng.rank{r}": s for r, s in enumerate(rank_states)})  # torchrun: noise RNGs
    return out


def restore_training(tensors: dict, model, ema, opt, gen):
    """The inverse of training_tensors (a checkpoint from before rng.torch existed also loads)."""

    def part(prefix):
        return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}

    model.load_state_dict(part("model."))
    if ema is not None:
        ema.load_state_dict(part("ema."))
    state = {}
    for k, v in part("opt.").items():
        idx, name = k.split(".", 1)
        state.setdefault(int(idx), {})[name] = v
    opt.load_state_dict({"state": state, "param_groups": opt.state_dict()["param_groups"]})
    gen.set_state(tensors["rng"])
    if "rng.torch" in tensors:
        torch.set_rng_state(tensors["rng.torch"])


def annotate_state(run_dir, **extra):
    """Add entries (held-out statistics, ...) to state.json; the weights stay as they are."""
    path = Path(run_dir) / "state.json"
    write_json(path, {**read_json(path), **extra})


class RunLock:
    """One writer per run folder: an flock on RUN/.lock, which holds the writer's pid. The
    kernel drops the lock when its process dies, so a crashed run's lock is taken over."""

    def __init__(self, run_dir):
        self.dir, self.fd = Path(run_dir), None

    def __enter__(self):
        try:
            import fcntl
        except ImportError:  # Windows: no flock; the folder is not locked there
            self.dir.mkdir(parents=True, exist_ok=True)
            return self
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            self.fd = os.open(self.dir / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise UserError(f"--out {self.dir}: cannot write a run folder there ({exc})") from None
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(self.fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(self.fd)
            raise UserError(
                f"{self.dir} is being written by another process (pid {holder}); wait for it "
                "to finish (or stop it), or choose another --out"
            ) from None
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, str(os.getpid()).encode(), 0)
        return self

    def __exit__(self, *exc):
        if self.fd is None:
            return False
        os.ftruncate(self.fd, 0)  # unlocked and empty: no stale pid left behind
        os.close(self.fd)  # closing releases the flock
        return False


def resume_config(saved, given, mutable: set, explicit: set | None = None):
    """The config a resumed run continues with: the saved one, plus the `mutable` fields (budget,
    learning rate, cadences, hardware) that the user gave: `explicit`, or when None, the fields
    of `given` that differ from the dataclass's default. A given field that may not change is a
    UserError naming it. Returns (config, ['--lr 0.002 -> 0.0005', ...])."""
    from generative.config import flag_name

    default, changed, notes, refused = type(saved)(), {}, [], []
    for f in dataclasses.fields(saved):
        old, new = getattr(saved, f.name), getattr(given, f.name)
        gave = new != getattr(default, f.name) if explicit is None else f.name in explicit
        if not gave or _plain(old) == _plain(new):
            continue
        flag = flag_name(f) or "--" + f.name.replace("_", "-")
        if f.name in mutable:
            changed[f.name] = new
            notes.append(f"{flag} {old} -> {new}")
        else:
            refused.append(f"{flag} {new} (the run has {old})")
    if refused:
        may = sorted(flag_name(f) for f in dataclasses.fields(saved) if f.name in mutable)
        raise UserError(
            f"cannot change on resume: {'; '.join(refused)}. Drop these flags to continue "
            f"the run, or train a new run into another --out. May change: {', '.join(may)}"
        )
    return dataclasses.replace(saved, **changed), notes


def _plain(v):
    return tuple(v) if isinstance(v, list) else v  # JSON turns tuples into lists


def refuse_existing(out_dir, resume: bool):
    """A fresh run never writes into a folder that holds one."""
    if out_dir is not None and not resume and (Path(out_dir) / "state.json").exists():
        raise UserError(
            f"{out_dir} already holds a run; pass --resume to continue it, or choose another --out"
        )


def save_loss_figure(run_dir, losses: list, title: str):
    """The logged loss against the step, log scale when all positive (Agg: needs no display)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not losses:
        return
    fig = Figure(figsize=(5, 3.2), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    steps, values = zip(*losses, strict=True)
    ax.plot(steps, values, lw=1)
    if min(values) > 0 and all(map(math.isfinite, values)):
        ax.set_yscale("log")
    ax.set(xlabel="step", ylabel="training loss", title=title)
    fig.tight_layout()
    path = Path(run_dir) / "loss.png"
    tmp = path.with_name(path.name + ".tmp")
    fig.savefig(tmp, format="png")
    tmp.replace(path)
