"""The one exception type the CLI turns into a clean message (no traceback)."""


class UserError(Exception):
    """Bad input from the user: the message names the problem and the fix."""


def unknown_choice(kind: str, name: str, choices) -> UserError:
    """An error for an unknown name that lists the valid ones."""
    valid = ", ".join(sorted(choices))
    return UserError(f"unknown {kind} '{name}'; valid choices: {valid}")
