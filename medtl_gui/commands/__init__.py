"""Sub-commands of the `medtl` CLI, one module per group (see medtl_gui/cli.py)."""
