"""``python -m crftag`` runs the command line."""

from crftag.cli import main

main()
