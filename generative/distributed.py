"""Devices and data-parallel training under torchrun (one process per device).

`torchrun --nproc_per_node=N -m generative.cli train ...` sets RANK, WORLD_SIZE and LOCAL_RANK;
the training loop (loop.py) joins a process group (gloo on CPU, nccl on CUDA) and wraps the model in
DistributedDataParallel. Without those variables everything here is a no-op (world size 1).

How the work is split: every rank draws the *global* batch indices and label dropout from the
same seeded generator, keeps its own contiguous shard, and draws its noise and times from a
generator seeded per rank. DDP averages the gradients, so N ranks with shards of B / N take the
same optimizer steps (in distribution) as one process with batch B.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from generative.errors import UserError, unknown_choice

DEVICES = ("auto", "cpu", "cuda", "mps")


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """auto: CUDA, then MPS, then CPU. Asking for one that is absent is an error that says so."""
    if name not in DEVICES:
        raise unknown_choice("device", name, DEVICES)
    cuda, mps = torch.cuda.is_available(), torch.backends.mps.is_available()
    if name == "auto":
        name = "cuda" if cuda else "mps" if mps else "cpu"
    if name == "cuda" and not cuda:
        raise UserError(
            "--device cuda, but PyTorch sees no CUDA GPU here (this torch build: "
            f"{torch.__version__}); use --device cpu, or install a CUDA build of torch"
        )
    if name == "mps" and not mps:
        raise UserError("--device mps, but Apple's Metal backend is not available here")
    return torch.device(f"cuda:{local_rank}" if name == "cuda" else name)


@dataclass
class Dist:
    """This process's place in the job: rank, world size, device."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1


def setup(device: str) -> Dist:
    """Read torchrun's environment, pick the device, join the process group when world > 1."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local_rank = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    dev = resolve_device(device, local_rank)
    if world > 1 and not dist.is_initialized():
        if dev.type == "mps":
            raise UserError("multi-process training supports CPU (gloo) and CUDA (nccl), not mps")
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    return Dist(rank, world, local_rank, dev)


def wrap_ddp(model: torch.nn.Module, d: Dist) -> torch.nn.Module:
    """DDP averages gradients over ranks and broadcasts rank 0's weights at the start; alone,
    the model itself."""
    if not d.active:
        return model
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(
        model, device_ids=[d.device] if d.device.type == "cuda" else None
    )


def mean_over_ranks(x: torch.Tensor, d: Dist) -> torch.Tensor:
    """The average of a (detached) tensor over ranks; itself when alone."""
    if not d.active:
        return x
    x = x.detach().clone()
    dist.all_reduce(x)
    return x / d.world


def gather_states(state: torch.Tensor, d: Dist) -> list[torch.Tensor]:
    """Every rank's RNG state (a uint8 tensor), in rank order; a collective call."""
    if not d.active:
        return [state]
    out = [None] * d.world
    dist.all_gather_object(out, state)
    return out


def teardown(d: Dist):
    """Wait for every rank, then leave the group: nothing after this can block on a peer."""
    if d.active and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def say(msg: str):
    """Print on the main process only (torchrun's RANK 0, or no torchrun)."""
    if os.environ.get("RANK", "0") == "0":
        print(msg, flush=True)
