"""The divergence guard of the training loop: what counts as a run that has gone wrong."""

from __future__ import annotations

import math
import statistics
from collections import deque

from generative.errors import UserError


class Diverged(UserError):
    """The loss or the gradient stopped being finite, or the loss exploded."""


def diverged(problem: str, step: int, saved, out_dir, lr: float, advice: str) -> Diverged:
    """The error that stops a run: what went wrong, at which step, which checkpoint is kept
    (saved: its (step, loss), or None), and what to try."""
    kept = "No checkpoint had been written yet"
    if saved and out_dir is not None:
        kept = f"The last good checkpoint (step {saved[0]}) is kept in {out_dir}"
        kept += f" (its loss: {saved[1]:.4g})"
    return Diverged(
        f"{problem} at step {step}; stopped. {kept}. Try a lower --lr (now {lr:g}){advice}."
    )


class Guard:
    """Stops on a non-finite loss, on `patience` jumps in a row past `factor` x the median of the
    recent losses, and on that median climbing to `factor` x its best value or x the run's first
    loss (training should never end far worse than the untrained net). A lone jump only sets
    `skip`: its batch updates nothing (a noisy batch of a tiny loss, as reflow's, is not a
    divergence)."""

    def __init__(self, factor: float, window: int = 100, warm: int = 5, patience: int = 3):
        self.factor, self.warm, self.patience = factor, warm, patience
        self.recent, self.best, self.jumps, self.skip = deque(maxlen=window), math.inf, 0, False

    def problem(self, loss: float) -> str | None:
        self.skip = False
        if not math.isfinite(loss):
            return f"loss became {loss}"
        self.best = min(self.best, loss) if not self.recent and self.jumps == 0 else self.best
        if self.factor and len(self.recent) >= self.warm:
            med = statistics.median(self.recent)
            self.best = min(self.best, med)
            if loss > self.factor * med:
                self.jumps += 1
                if self.jumps >= self.patience:
                    return f"loss jumped to {loss:.4g} (over {self.factor:g}x its recent {med:.4g})"
                self.skip = True
                return None
            if med > self.factor * self.best:
                return f"loss climbed to {med:.4g} (from {self.best:.4g})"
        self.jumps = 0
        self.recent.append(loss)
        return None
