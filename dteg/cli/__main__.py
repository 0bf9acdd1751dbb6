"""``python -m dteg.cli``."""

from dteg.cli import main

main()
