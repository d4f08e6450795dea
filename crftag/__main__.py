"""``python -m crftag`` runs the command line (signal handlers first: see crftag.cli.entry)."""

from crftag.cli.entry import main

main()
