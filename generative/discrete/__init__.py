"""Part B: discrete tokens. Data sets with exact tokenizers and checkers, quantizers, and
learned image tokenizers."""
