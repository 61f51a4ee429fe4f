"""generative: DDPM and flow matching, MLP and DiT, small enough to read, real enough to train."""

__version__ = "0.1.0"
