"""The 2D protocol's report: W2 beside its floor, and the divergence and toy diagnostics beside
the bands a perfect sampler (fresh true draws) lands in under the same protocol, with flags that
name how the samples differ from a perfect sampler's."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from generative.continuous.uncertainty import LEVEL, median_band


@dataclass
class Report2D:
    """Medians over evaluation seeds; mode_mass[i] is the share of samples nearest mode i.
    divergence D: energy distance plus MMD to a fixed reference, each as its excess over a
    perfect sampler's median in units of its spread (0: perfect-like); *_band: where a perfect
    sampler's median lands (central LEVEL share); diagnostics (toy sets): the generator's exact
    checks, each with its band in diagnostic_bands; flags: how the samples differ from a perfect
    sampler's."""

    w2: float
    floor: float
    ratio: float
    mode_mass: list[float]
    off_data: float
    n: int
    eval_seeds: int
    divergence: float = float("nan")
    divergence_band: list[float] = field(default_factory=list)
    energy: float = float("nan")
    energy_band: list[float] = field(default_factory=list)
    mmd: float = float("nan")
    mmd_band: list[float] = field(default_factory=list)
    w2_by_seed: list[float] = field(default_factory=list)
    floor_by_seed: list[float] = field(default_factory=list)
    w2_modes: list[float] = field(default_factory=list)  # W2 within each mode (labelled sets)
    floor_modes: list[float] = field(default_factory=list)  # ... a perfect sampler's
    ratio_modes: float = float("nan")  # mean over modes of w2_modes / floor_modes
    divergence_by_seed: list[float] = field(default_factory=list)
    diagnostics: dict = field(default_factory=dict)
    diagnostic_bands: dict = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        """Where the divergence lands against a perfect sampler's band."""
        if not self.divergence_band:
            return "no band"
        lo, hi = self.divergence_band
        return "worse" if self.divergence > hi else "better?" if self.divergence < lo else "perfect"

    def line(self) -> str:
        mass = "/".join(f"{m:.2f}" for m in self.mode_mass) if self.mode_mass else "-"
        out = (
            f"W2 {self.w2:.4f}  floor {self.floor:.4f}  ratio {self.ratio:.2f}x  "
            f"mode mass {mass}  off-data {100 * self.off_data:.1f}%"
        )
        if self.w2_modes:
            out += f"  per-mode W2 ratio {self.ratio_modes:.2f}x"
        if self.divergence_band:
            lo, hi = self.divergence_band
            out += f"  D {self.divergence:.1f} (perfect {lo:.1f}..{hi:.1f}: {self.verdict})"
        d = self.diagnostics
        if d:
            out += (
                f"  residual {d['residual_rms']:.4f} (noise {d['noise']:.3f})  "
                f"far {100 * d['far_share']:.1f}%  along-KS {d['along_ks']:.3f}"
            )
        return out + "".join(f"  [{f}]" for f in self.flags)

    def to_json(self):
        return asdict(self)


SCALARS = ("energy", "mmd", "residual_rms", "far_share", "along_ks")
FLAG_LEVEL = (
    0.99  # five diagnostics: each band wide enough that a perfect sampler is rarely flagged
)
FLAGS = {  # (diagnostic, side of its band): what it says about the sampler
    ("residual_rms", "high"): "too noisy",
    ("residual_rms", "low"): "too sharp (under-dispersed)",
    ("far_share", "high"): "points off the support",
    ("along_ks", "high"): "uneven along the curve or within modes (holes, clumps)",
    ("mode_tv", "high"): "mode imbalance",
}


def per_seed(rows: list[dict], mass0) -> dict:
    """name -> per-seed values; the mode split becomes its total variation from mass0."""
    out = {k: [float(r[k]) for r in rows] for k in SCALARS if k in rows[0]}
    if "mode_mass" in rows[0]:
        out["mode_tv"] = [
            0.5 * float(np.abs(np.subtract(r["mode_mass"], mass0)).sum()) for r in rows
        ]
    return out


def d_scale(null: list[dict]) -> dict:
    """name -> (median, spread) of a perfect sampler's single-seed energy distance and MMD. The
    median is not 0: the reference is one fixed draw (the expectation is 0 over references)."""
    return {
        k: (float(np.median([r[k] for r in null])), float(np.std([r[k] for r in null], ddof=1)))
        for k in ("energy", "mmd")
    }


# region: divergence
def divergence(energy: float, mmd: float, scale: dict) -> float:
    """D: both divergences as excess over a perfect sampler, in units of its spread, summed, so
    the coarse scale (energy distance: mode split, shape) and the fine one (MMD at the noise's
    width: too noisy, too sharp) both count."""
    (e0, es), (m0, ms) = scale["energy"], scale["mmd"]
    return (energy - e0) / es + (mmd - m0) / ms


# endregion


def with_bands(rep: Report2D, rows: list[dict], null: list[dict]) -> Report2D:
    """Fill in the divergence and diagnostics (medians over rows, one row a seed), each with the
    band of a perfect sampler's median over as many seeds, and flag what lies outside."""
    k = len(rows)
    mass0 = np.mean([r["mode_mass"] for r in null], axis=0) if "mode_mass" in null[0] else None
    ours, perfect = per_seed(rows, mass0), per_seed(null, mass0)
    scale = d_scale(null)
    for d in (ours, perfect):
        d["divergence"] = [
            divergence(e, m, scale) for e, m in zip(d["energy"], d["mmd"], strict=True)
        ]
    for name in ("divergence", "energy", "mmd"):
        setattr(rep, name, float(np.median(ours[name])))
        setattr(rep, f"{name}_band", median_band(perfect[name], k, LEVEL))
    rep.divergence_by_seed = ours.pop("divergence")
    meds = {name: float(np.median(v)) for name, v in ours.items() if name not in ("energy", "mmd")}
    if not meds:
        return rep
    bands = {name: median_band(perfect[name], k, FLAG_LEVEL) for name in meds}
    mass = np.median([r["mode_mass"] for r in rows], axis=0).round(4).tolist()
    rep.diagnostics = {**meds, "noise": rows[0]["noise"], "mode_mass": mass}
    rep.diagnostic_bands = bands
    for name, v in meds.items():
        lo, hi = bands[name]
        side = "high" if v > hi else "low" if v < lo else None
        if (name, side) in FLAGS:
            rep.flags.append(f"{FLAGS[(name, side)]}: {name} {v:.3g}, perfect {lo:.3g}..{hi:.3g}")
    return rep
