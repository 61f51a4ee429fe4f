"""A small CNN digit classifier, trained by our own code, whose features the image metric uses.

FID uses an Inception net trained on ImageNet; offline, on 8x8 or 28x28 digits, we train our own
judge on the generator's training split instead. Its penultimate layer (a FEATURES-vector after
global average pooling) is the feature space of the Frechet distance, its argmax the label that
conditional samples must match. Training (the one loop, generative/loop.py) is seeded and
single-threaded, so the same data gives the same weights; they are cached as safetensors (the
run folder, or any folder you pass).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from generative.distributed import Dist
from generative.loop import LoopConfig, Streams, fit

FEATURES = 64
STEPS, BATCH, LR = 600, 128, 2e-3


class Classifier(nn.Module):
    """Three 3x3 conv layers (the last two stride 2), global average pool, linear head."""

    def __init__(self, channels: int, num_classes: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, 32, 3, padding=1),
            nn.SiLU(),
            nn.Conv2d(32, 64, 3, stride=2, padding=1),
            nn.SiLU(),
            nn.Conv2d(64, FEATURES, 3, stride=2, padding=1),
            nn.SiLU(),
        )
        self.head = nn.Linear(FEATURES, num_classes)

    def features(self, x):
        return self.body(x).mean(dim=(2, 3))  # (B, FEATURES)

    def forward(self, x):
        return self.head(self.features(x))  # (B, num_classes) logits


def train_classifier(x: np.ndarray, labels: np.ndarray, num_classes: int, seed: int = 0):
    """Cross-entropy with light augmentation (one-pixel shifts, a little noise) on (N, C, H, W)
    in [-1, 1], trained by the one loop: the noise makes the judge see slightly imperfect
    samples the way it sees real ones."""
    threads = torch.get_num_threads()
    lc = LoopConfig(steps=STEPS, lr=LR, batch_size=BATCH, seed=seed, log_every=100, desc="judge")
    torch.set_num_threads(1)  # one thread: the same weights on every machine
    torch.manual_seed(seed)
    net = Classifier(x.shape[1], num_classes)
    xt, yt = torch.from_numpy(x), torch.from_numpy(labels)

    def loss(net, s: Streams):
        idx = torch.randint(0, len(xt), (BATCH,), generator=s.gen)
        dx, dy = torch.randint(-1, 2, (2,), generator=s.gen).tolist()
        xb = torch.roll(xt[idx], shifts=(dx, dy), dims=(2, 3))
        xb = xb + 0.1 * torch.randn(xb.shape, generator=s.gen)
        return F.cross_entropy(net(xb), yt[idx])

    # Dist(): one CPU process even under torchrun (the judge runs on rank 0 after training)
    net = fit(lc, Dist(), net, loss, progress=False).model
    torch.set_num_threads(threads)
    return net.eval()


@torch.no_grad()
def predict(net: Classifier, x: np.ndarray, batch: int = 1000):
    """(features (N, FEATURES), predicted labels (N,)) as numpy arrays."""
    feats, preds = [], []
    for i in range(0, len(x), batch):
        f = net.features(torch.from_numpy(np.ascontiguousarray(x[i : i + batch])).float())
        feats.append(f)
        preds.append(net.head(f).argmax(1))
    return torch.cat(feats).double().numpy(), torch.cat(preds).numpy()


def cached_classifier(folder, key: str, train_split, heldout):
    """Load the classifier for data `key` from folder/classifier-<key>.safetensors, or train it
    on the training split and save it there; returns (net, held-out accuracy)."""
    folder = Path(folder)
    safe_key = "".join(c if c.isalnum() or c in "-_" else "_" for c in key)[-60:]
    path = folder / f"classifier-{safe_key}.safetensors"
    channels, k = train_split.x.shape[1], train_split.num_classes
    if path.is_file():
        net = Classifier(channels, k)
        net.load_state_dict(load_file(str(path)))
        info = json.loads(path.with_suffix(".json").read_text())
        return net.eval(), info["heldout_accuracy"]
    net = train_classifier(train_split.x, train_split.labels, k)
    acc = float((predict(net, heldout.x)[1] == heldout.labels).mean())
    folder.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")  # parallel scorers may race here
    save_file({n: v.contiguous() for n, v in net.state_dict().items()}, str(tmp))
    info = path.with_name(f"{path.stem}.{os.getpid()}.json.tmp")
    info.write_text(json.dumps({"data": key, "heldout_accuracy": acc}))
    info.replace(path.with_suffix(".json"))
    tmp.replace(path)  # the weights last: a present .safetensors always has its .json
    return net, acc
