"""The exact oracle: the true posterior of a data set whose clean scenes can be enumerated,
behind the same interface as a network, oracle(tokens, cond) -> logits (B, N, V).

A partial canvas (mask_id where a token is unknown) and a condition leave a set of clean scenes
that agree with every fixed token and match the condition; under the data law each keeps its
probability, so the posterior at position i is

    p(x_i = v | canvas, c) = sum over consistent scenes s with s_i = v of P(s) / sum of P(s).

That is what a perfect masked-token network would output, so decoding it measures the decoder
alone: its validity is the ceiling any trained network reaches with the same decoder.

A canvas that no scene fits (parallel decoding can reach one) has no posterior. The oracle then
uses the scenes with the fewest disagreements, the limit of a tiny per-token corruption rate:
the exact posterior whenever one exists, and, for a corrector, a clear verdict on which tokens
are wrong. Logits are log-probabilities: -inf where a token has no mass.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from generative.errors import UserError


class Oracle:
    """scenes (S, N) tokens of every clean scene, prob (S,) their probabilities, scene_cond
    (S, P) each scene's condition prefix (None: unconditional), null_id: the prefix id meaning
    "no condition" (a row of null ids matches every scene)."""

    def __init__(self, scenes, prob, vocab_size: int, mask_id: int, scene_cond=None, null_id=-1):
        self.scenes, self.prob = scenes.long(), prob.double()
        self.vocab_size, self.mask_id = vocab_size, mask_id
        self.scene_cond, self.null_id = scene_cond, null_id
        self.seq_len = scenes.shape[1]
        self._cache: dict[tuple, torch.Tensor] = {}

    @classmethod
    def for_data(cls, data) -> Oracle:
        """The oracle of a TokenData's set and condition kind (shapes, digits-glyphs)."""
        tokens, cond, prob = data.clean_scenes()
        return cls(tokens, prob, data.vocab_size, data.vocab_size, cond, data.cond_vocab - 1)

    def _groups(self, cond, B: int):
        """Rows sharing a condition, with the scenes it admits: [(rows (b,), scenes (S_g,))]."""
        if cond is None or self.scene_cond is None:
            return [(torch.arange(B), torch.arange(len(self.scenes)))]
        cond = torch.as_tensor(cond).long().reshape(B, -1)  # (B, P)
        uniq, inv = torch.unique(cond, dim=0, return_inverse=True)
        out = []
        for g, c in enumerate(uniq):
            if (c == self.null_id).all():  # no condition: every scene
                sel = torch.arange(len(self.scenes))
            else:
                sel = (self.scene_cond == c).all(-1).nonzero()[:, 0]
            if len(sel) == 0:
                raise UserError(f"oracle: the condition {c.tolist()} matches no clean scene")
            out.append(((inv == g).nonzero()[:, 0], sel))
        return out

    def _onehot(self, sel: torch.Tensor) -> torch.Tensor:
        """one_hot of the selected scenes, (S_g, N * V) float64, cached per selection."""
        key = tuple(sel[:2].tolist()) + (len(sel), int(sel.sum()))
        if key not in self._cache:
            self._cache[key] = F.one_hot(self.scenes[sel], self.vocab_size).double().flatten(1)
        return self._cache[key]

    # region: oracle-posterior
    @torch.no_grad()
    def posterior(self, tokens: torch.Tensor, cond=None) -> torch.Tensor:
        """p(x_i = v | canvas, cond): float64 (B, N, V), each row summing to one."""
        B, N = tokens.shape
        p = torch.zeros(B, N * self.vocab_size, dtype=torch.float64)
        for rows, sel in self._groups(cond, B):
            x, sc = tokens[rows], self.scenes[sel]  # (b, N), (S_g, N)
            fixed = (x != self.mask_id)[:, None]  # (b, 1, N)
            miss = ((sc[None] != x[:, None]) & fixed).sum(-1)  # (b, S_g) disagreements
            nearest = miss == miss.min(1, keepdim=True).values  # all consistent scenes, if any
            w = torch.where(nearest, self.prob[sel], 0.0)  # (b, S_g)
            p[rows] = w @ self._onehot(sel)  # (b, N * V): sum of P(s) over scenes with s_i = v
        p = p.view(B, N, self.vocab_size)
        return p / p.sum(-1, keepdim=True)

    # endregion

    def __call__(self, tokens: torch.Tensor, cond=None) -> torch.Tensor:
        """Logits (B, N, V) like a network's: log-probabilities, -inf where there is no mass."""
        return self.posterior(tokens, cond).float().log()

    def consistent(self, tokens: torch.Tensor, cond=None) -> torch.Tensor:
        """bool (B,): does some admissible clean scene agree with every fixed token?"""
        out = torch.zeros(len(tokens), dtype=torch.bool)
        for rows, sel in self._groups(cond, len(tokens)):
            x, sc = tokens[rows], self.scenes[sel]
            fixed = (x != self.mask_id)[:, None]  # (b, 1, N)
            out[rows] = ((sc[None] == x[:, None]) | ~fixed).all(-1).any(1)
        return out
