"""``python -m crftag`` runs the command line (signal handlers first: see crftag.entry)."""

from crftag.entry import main

main()
