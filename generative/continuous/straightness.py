"""How straight a sampler's trajectories are: the mean squared deviation from the chord.

A path that runs at constant speed along the segment from its noise x_0 to its sample x_1 is
integrated exactly by one Euler step; the farther the trajectory strays from that chord, the more
steps a solver needs. Liu et al. (2023) measure straightness by the velocity's deviation from
x_1 - x_0; the position version below is the same idea read off the states a sampler already
keeps (sampling.sample(..., keep_trajectory=True)), so it applies to any sampler, DDIM included.
"""

from __future__ import annotations

import torch


# region: chord-deviation
def chord_deviation(traj: torch.Tensor, times: torch.Tensor | None = None) -> float:
    """traj: (S + 1, B, ...) states from noise (index 0) to sample (index S), at times in [0, 1]
    (default: evenly spaced, what a fixed-step solver visits). Returns the mean over states and
    points of |x_t - ((1 - t) x_0 + t x_1)|^2 (summed over dimensions): 0 exactly when every
    trajectory runs straight at constant speed."""
    steps = traj.shape[0] - 1
    if times is None:
        times = torch.linspace(0, 1, steps + 1, dtype=traj.dtype)
    t = times.to(traj.dtype).reshape(-1, *([1] * (traj.dim() - 1)))  # (S + 1, 1, ...)
    chord = (1 - t) * traj[0] + t * traj[-1]  # (S + 1, B, ...)
    return float((traj - chord).flatten(2).pow(2).sum(-1).mean())


# endregion
