"""The ``morl-bench`` command line: the top layer, built on ``agents`` and ``leaderboards``.

``main`` is the console script; ``train``, ``sweep`` and ``board`` each hold sub-commands as ``COMMANDS``,
``add_commands(subparsers)`` and ``run(args)``. :func:`evaluate` (``morl_cli.evaluation``) is the Python side of
``morl-bench evaluate``: any agent object, agent class or model checkpoint evaluated by the board's protocol in one
call. A user's mistake prints ``error: <message>`` and exits with status 2
(:func:`run_reporting_errors`), never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from morl_cli.evaluation import evaluate

__all__ = ["CommandParser", "evaluate", "run_reporting_errors"]


class CommandParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` without prefix matching (``allow_abbrev=False``): ``--step 1`` is an unknown
    option, not ``--steps 1``. Sub-command parsers made by ``add_subparsers`` are of the same class."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)


def run_reporting_errors(handler: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """``handler(args)``, or 2 after ``error: <message>`` on stderr when it raised a user error (a ValueError,
    TypeError or OSError: every ``MorlError`` is a ValueError)."""
    try:
        return handler(args)
    except (ValueError, TypeError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
