"""The one training loop: every trainer (denoisers, token generators, tokenizers, the judge) is a
small config plus a loss function handed to `fit`. AdamW, one warm-up + cosine schedule, optional
clipping, EMA, a guard against non-finite or exploding losses (only checkpoints from before are
kept), bit-exact resume, devices and torchrun's DDP, a progress bar (plain lines in log files), a
run-folder lock, Ctrl-C / SIGTERM -> checkpoint then Interrupted (exit 130), and loss.png."""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import math
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from generative import checkpoint as ck
from generative.checkpoint import refuse_existing, resume_config
from generative.distributed import (
    Dist,
    gather_states,
    mean_over_ranks,
    say,
    setup,
    teardown,
    wrap_ddp,
)  # fmt: skip
from generative.ema import ema_update, unreached
from generative.errors import UserError
from generative.guard import Guard, diverged


@dataclass
class LoopConfig:
    """What the loop needs; each trainer builds one from its own config."""

    steps: int
    lr: float
    batch_size: int  # global: split over torchrun's processes
    warmup: int = 0  # linear warm-up steps (0: none, the cosine starts at lr)
    weight_decay: float = 0.0
    clip: float = 0.0  # max gradient norm (0: no clipping; the norm is still checked)
    ema_decay: float = 0.0  # 0: no EMA copy
    seed: int = 0
    threads: int = 1
    device: str = "auto"
    amp: bool = False  # bf16 autocast, CUDA only
    ckpt_every: int = 1000
    snapshot_every: int = 0  # keep the EMA weights every N steps (snapshots/)
    log_every: int = 10
    explode: float = 10.0  # stop when the loss passes explode x its recent median (0: off)
    advice: str = ""  # trainer-specific advice appended to the divergence message
    desc: str = "train"

    @classmethod
    def of(cls, cfg, **settings) -> LoopConfig:
        """The loop's settings read off a trainer's config (every field of the same name), then
        `settings` on top."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in vars(cfg).items() if k in names}, **settings)


BAR = dict(mininterval=0.5, dynamic_ncols=True)


class Interrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM: saved after the step (the message says where); the CLI exits 130."""


def lr_at(step: int, steps: int, lr: float, warmup: int = 0) -> float:
    """Linear warm-up over `warmup` steps, times a cosine decay from lr to 0 over the run."""
    warm = min(1.0, (step + 1) / warmup) if warmup else 1.0
    return lr * warm * 0.5 * (1 + math.cos(math.pi * step / steps))


def start(lc: LoopConfig) -> Dist:
    """Threads, the global seed (initializations draw from it), the device, torchrun's group."""
    torch.set_num_threads(lc.threads)
    torch.manual_seed(lc.seed)
    d = setup(lc.device)
    if lc.amp and d.device.type != "cuda":
        raise UserError(f"--amp (bf16 autocast) needs a CUDA device; this run is on {d.device}")
    if lc.batch_size % d.world:
        raise UserError(f"--batch-size {lc.batch_size} must divide by the {d.world} processes")
    return d


def begin(cfg, out_dir, resume: bool, *, saved, resumable: set, check, loop_config, explicit=None):
    """The start every trainer shares: on resume, the run's own config (`saved(out_dir)`) with
    the changes `resumable` allows (printed; others refused); then `check(cfg)`, an existing run
    in out_dir refused, the loop's settings and the devices. explicit: the fields the user gave
    (the command line knows them); None: those that differ from the config's defaults, which
    misses a flag given at its default value (`--resume --steps 10000` for a token run whose
    default is 10000). Returns (cfg, lc, d)."""
    if resume:
        cfg, changes = resume_config(saved(out_dir), cfg, resumable, explicit)
        for change in changes:
            say(f"resume: {change}")
    cfg = check(cfg)
    refuse_existing(out_dir, resume)
    lc = loop_config(cfg)
    warning = unreached(lc.ema_decay, lc.steps)
    if warning:
        say(warning)
    return cfg, lc, start(lc)


@dataclass
class Streams:
    """What a loss function draws from: `gen` for batch indices and label dropout (the same
    stream on every rank: all agree on the global batch), `noise` for times and noise (this
    rank's own; `gen` itself in one process), `shard` this rank's slice of the global batch."""

    gen: torch.Generator
    noise: torch.Generator
    shard: slice
    device: torch.device


@dataclass
class Fitted:
    model: torch.nn.Module
    ema: torch.nn.Module | None  # None when ema_decay is 0
    state: dict  # step, losses [[step, mean loss], ...], wall_s, cpu_s, ...
    main: bool  # False on the other ranks of a torchrun job


def fit(lc, d, model, loss_fn, out_dir=None, *, resume=False, progress=True, meta=None) -> Fitted:
    """Train `model` with loss_fn(net, streams) -> loss, or (loss, value to log). With out_dir:
    lock it, write `meta` as config.json, checkpoint, resume from it."""
    out_dir = Path(out_dir) if out_dir is not None else None
    with ck.RunLock(out_dir) if out_dir is not None and d.main else contextlib.nullcontext():
        loop = _Loop(lc, d, model, loss_fn, out_dir)
        if d.main and out_dir is not None and meta is not None:
            ck.write_json(out_dir / "config.json", meta)  # on resume: records the new budget
        if resume:
            loop.restore(*ck.load_checkpoint(out_dir))
        with loop.signals():
            loop.run(progress)
        if loop.state["step"] == 0 or loop.saved is None:
            loop.save()
        loop.figure()
    teardown(d)  # every rank is done: evaluation afterwards (rank 0 only) cannot deadlock
    return Fitted(loop.model, loop.ema, loop.state, d.main)


class _Loop:
    """fit's moving parts: the model and its EMA, the optimizer, the RNG streams, the state."""

    def __init__(self, lc: LoopConfig, d: Dist, model, loss_fn, out_dir):
        self.lc, self.d, self.loss_fn, self.out_dir = lc, d, loss_fn, out_dir
        self.model = model.to(d.device)
        self.ema = copy.deepcopy(self.model).requires_grad_(False) if lc.ema_decay else None
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.ema_pairs = self.ema and (list(self.ema.parameters()), list(model.parameters()))
        self.opt = torch.optim.AdamW(self.params, lr=lc.lr, weight_decay=lc.weight_decay)
        gen = torch.Generator().manual_seed(lc.seed)
        # times and noise: one process keeps one stream (as before torchrun existed)
        noise = torch.Generator().manual_seed(lc.seed + 7919 * (d.rank + 1)) if d.active else gen
        per = lc.batch_size // d.world
        self.streams = Streams(gen, noise, slice(d.rank * per, (d.rank + 1) * per), d.device)
        self.net = wrap_ddp(model, d)
        self.state = {"step": 0, "losses": [], "wall_s": 0.0, "cpu_s": 0.0, "running": []}
        self.saved, self.last, self.stop = None, math.nan, False  # saved: (step, loss) on disk
        self.guard, self.printed = Guard(lc.explode), -math.inf

    def restore(self, tensors: dict, state: dict):
        ck.restore_training(tensors, self.model, self.ema, self.opt, self.streams.gen)
        if self.d.active and f"rng.rank{self.d.rank}" in tensors:
            self.streams.noise.set_state(tensors[f"rng.rank{self.d.rank}"])
        self.state = state
        state.setdefault("running", [])  # losses since the last log line, kept across a resume
        self.saved = (state["step"], state["losses"][-1][1] if state["losses"] else math.nan)
        self.guard.best = state.get("first_loss", math.inf)  # the untrained level, kept

    def run(self, progress: bool):
        lc, st = self.lc, self.state
        t0, c0 = time.perf_counter() - st["wall_s"], time.process_time() - st.get("cpu_s", 0)
        show = None if progress and self.d.main else True  # None: tqdm shows it on a terminal
        steps = range(st["step"], lc.steps)
        bar = tqdm(steps, total=lc.steps, initial=st["step"], disable=show, desc=lc.desc, **BAR)
        plain = progress and self.d.main and not sys.stderr.isatty()  # a log file: lines
        for step in bar:
            self.step(step)
            st["step"], st["wall_s"] = step + 1, time.perf_counter() - t0
            st["cpu_s"] = time.process_time() - c0
            self.log(step + 1, bar, plain)
            self.periodic(step + 1)
            if self.stop:
                self.interrupted()
        bar.close()

    def step(self, step: int):
        lc = self.lc
        for group in self.opt.param_groups:
            group["lr"] = lr_at(step, lc.steps, lc.lr, lc.warmup)
        amp = torch.autocast("cuda", dtype=torch.bfloat16) if lc.amp else contextlib.nullcontext()
        with amp:
            out = self.loss_fn(self.net, self.streams)
        loss, value = out if isinstance(out, tuple) else (out, out)
        got = torch.stack([loss.detach().float(), value.detach().float()])
        if self.d.active:  # the same values on every rank, so every rank stops together
            got = mean_over_ranks(torch.cat([got, torch.tensor([float(self.stop)])]), self.d)
            self.stop = bool(got[2] > 0)
        total, self.last = got[0].item(), got[1].item()
        problem = self.guard.problem(total)
        self.state.setdefault("first_loss", total)
        self.opt.zero_grad(set_to_none=True)
        if self.guard.skip:  # a lone spike: this batch leaves the weights as they were
            self.state["skipped"] = self.state.get("skipped", 0) + 1
            self.state["running"].append(self.last)
            return
        if problem is None:
            loss.backward()
            grads = [p.grad for p in self.params if p.grad is not None]
            norm = torch.nn.utils.get_total_norm(grads) if grads else torch.zeros(())
            if lc.clip:
                torch.nn.utils.clip_grads_with_norm_(self.params, lc.clip, norm)
            if not math.isfinite(norm.item()):
                problem = f"the gradient norm became {norm.item()}"
        if problem is not None:
            raise diverged(problem, step, self.saved, self.out_dir, lc.lr, lc.advice)
        self.opt.step()
        if self.ema is not None:
            ema_update(*self.ema_pairs, lc.ema_decay, step)
        self.state["running"].append(self.last)

    def log(self, n: int, bar, plain: bool):
        st, lc = self.state, self.lc
        if n % lc.log_every and n != lc.steps:
            return
        st["losses"].append([n, sum(st["running"]) / len(st["running"])])
        st["running"] = []
        bar.set_postfix(loss=f"{st['losses'][-1][1]:.4f}")
        if plain and (time.perf_counter() - self.printed > 10 or n == lc.steps):
            self.printed = time.perf_counter()
            print(f"{lc.desc}: step {n}/{lc.steps} loss {st['losses'][-1][1]:.4g}", flush=True)

    def periodic(self, n: int):
        lc, st = self.lc, self.state
        keep = lc.snapshot_every and n % lc.snapshot_every == 0 and self.ema is not None
        if keep and self.d.main and self.out_dir is not None:
            ck.save_snapshot(self.out_dir, self.ema, n)
            st.setdefault("snapshots", []).append([n, st["wall_s"]])
        if n % lc.ckpt_every == 0 or n == lc.steps:
            self.save()

    def save(self):
        """A collective under torchrun (every rank's noise RNG), written by rank 0."""
        if self.out_dir is None:
            return
        s = self.streams
        ranks = gather_states(s.noise.get_state(), self.d) if self.d.active else ()
        if self.d.main:
            tensors = ck.training_tensors(self.model, self.ema, self.opt, s.gen, ranks)
            ck.save_checkpoint(self.out_dir, tensors, self.state)
        self.saved = (self.state["step"], self.last)

    def interrupted(self):
        n = self.state["step"]
        if self.out_dir is None:
            raise Interrupted(f"stopped at step {n} (no run folder: nothing saved)")
        if self.saved is None or self.saved[0] != n:
            self.save()
        self.figure()
        raise Interrupted(
            f"stopped at step {n}/{self.lc.steps}: checkpoint saved in {self.out_dir}; "
            f"continue with --resume --out {self.out_dir}"
        )

    @contextlib.contextmanager
    def signals(self):  # SIGINT/SIGTERM: stop after this step; a second Ctrl-C stops at once

        def handler(signum, frame):
            if self.stop:
                raise KeyboardInterrupt
            self.stop = True

        old = {}
        with contextlib.suppress(ValueError):  # not the main thread: signals stay as they were
            for sig in (signal.SIGINT, signal.SIGTERM):
                old[sig] = signal.signal(sig, handler)
        try:
            yield
        finally:
            for sig, h in old.items():
                signal.signal(sig, h)

    def figure(self):
        if self.d.main and self.out_dir is not None:
            ck.save_loss_figure(self.out_dir, self.state["losses"], self.lc.desc)
