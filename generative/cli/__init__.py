"""The `generative` command: train | sample | evaluate | tokenize | reflow | distill | hybrid |
unified | info | demo. Run any with --help; every flag is generated from a config dataclass
(cli/flags.py)."""

from __future__ import annotations

import argparse
import sys

from generative import __version__
from generative.errors import UserError

COMMANDS = ("cmd_train", "cmd_sample", "cmd_evaluate", "cmd_tokenize", "cmd_few_step")
COMMANDS += ("cmd_hybrid", "cmd_unified")
COMMANDS += ("cmd_info", "cmd_demo")


def build_parser() -> argparse.ArgumentParser:
    import importlib

    parser = argparse.ArgumentParser(prog="generative", description=__doc__)
    parser.add_argument("--version", action="version", version=f"generative {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        importlib.import_module(f"generative.cli.{name}").add(sub)
    return parser


def main(argv=None) -> int:
    """Run one command; returns the exit code: bad input 2 with an 'error:' line (argparse's
    own refusals included), Ctrl-C 130, --help and --version 0."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse exits; in-process callers get the code back
        return exc.code
    try:
        args.func(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except MemoryError:
        print("error: out of memory; lower --n or --batch-size", file=sys.stderr)
        return 2
    except RuntimeError as exc:  # torch reports a failed allocation as a RuntimeError
        if "alloc" not in str(exc) and "out of memory" not in str(exc):
            raise
        print(f"error: out of memory ({exc}); lower --n or --batch-size", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        print(f"interrupted; {exc or 'nothing was written'}", file=sys.stderr)
        return 130
    return 0
