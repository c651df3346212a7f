"""CLI commands of the producers package, registered on the `credence` app by credence/cli.py."""

from __future__ import annotations

import typer

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the producers' commands (simulate, produce) to ``app``."""
