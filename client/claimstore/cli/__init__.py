"""The ``claimstore`` command line."""

import sys

from ._main import build_parser
from ._main import main as _main

__all__ = ["build_parser", "main"]


def main() -> None:
    """The console-script entry point."""
    sys.exit(_main())
