"""Allows `python -m intake`."""
import sys

from intake.cli import main

sys.exit(main())
