"""`python -m generative.cli` (torchrun: `torchrun ... -m generative.cli train ...`)."""

import sys

from generative.cli import main

sys.exit(main())
