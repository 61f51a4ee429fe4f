"""Minibatch optimal-transport coupling (OT-CFM: Tong et al. 2024; Pooladian et al. 2023).

Plain flow matching pairs each data point with an independent noise draw, so conditional paths
cross and the marginal field averages them into curves. Pairing noise and data within a batch by
exact optimal transport (squared Euclidean cost) makes the pairs nearly non-crossing: the learned
paths straighten and few-step samplers lose less. With equal batch sizes and uniform weights the
exact OT plan is a permutation (a vertex of the Birkhoff polytope), so the coupling is a reordering
of the data batch: no duplicates, no dropped points (torchcfm instead samples pairs from the plan
with replacement).
"""

from __future__ import annotations

import numpy as np
import ot
import torch

from generative.continuous.flow_matching import cfm_loss, make_path


# region: ot-pairing
def ot_pairing(x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
    """The permutation perm minimising sum_i |x0[i] - x1[perm[i]]|^2 (exact, POT's network
    simplex). x0, x1: (B, ...) batches of the same size; returns perm, (B,) long."""
    a = x0.detach().flatten(1).double().cpu().numpy()  # (B, D)
    b = x1.detach().flatten(1).double().cpu().numpy()
    cost = ot.dist(a, b)  # squared Euclidean, (B, B)
    w = ot.unif(len(a))
    plan = ot.emd(w, w, cost, numItermax=10**7)  # (B, B); a permutation matrix / B
    return torch.from_numpy(np.asarray(plan.argmax(axis=1))).long().to(x1.device)


# endregion


def pairing_cost(x0: torch.Tensor, x1: torch.Tensor) -> float:
    """Total squared distance of the pairs (x0[i], x1[i])."""
    return float((x0 - x1).flatten(1).pow(2).sum())


class OTFlowMatching:
    """Flow matching whose noise and data are paired by minibatch OT before the usual CFM loss.
    Labels (if any) travel with their data points."""

    def __init__(self, path: str = "linear"):
        self.path_name, self.path = path, make_path(path)

    # region: ot-cfm-loss
    def loss(self, net, x1, y=None, generator=None):
        x0 = torch.randn(x1.shape, generator=generator).to(x1.device)
        perm = ot_pairing(x0, x1)  # x0[i] goes to x1[perm[i]]
        y = y[perm] if y is not None else None
        return cfm_loss(net, self.path, x1[perm], y, generator, x0=x0)

    # endregion


COUPLINGS = ("independent", "ot")
