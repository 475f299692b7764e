"""``python -m claimstore``: the claimstore command line."""

from claimstore.cli import main

main()
