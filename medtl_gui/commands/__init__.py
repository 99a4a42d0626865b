"""Sub-commands of the `medtl` CLI, one module per group (see medtl_gui/cli.py)."""


class UsageError(Exception):
    """Bad input from the user: printed by `medtl` as one line, exit code 2."""
