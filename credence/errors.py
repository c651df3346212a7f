"""Errors a user can cause and fix (a bad argument, a bad setting, a missing file, a service that
does not answer): every command prints them as one line and exits 2 (``credence.cli``)."""

from __future__ import annotations

__all__ = ["UserError"]


class UserError(Exception):
    """Something the user can fix; printed as one line, exit status 2."""
