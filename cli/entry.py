"""The `intake` console script's entry point, apart from cli.main so that importing it costs nothing.

A process started with multiprocessing's spawn (a reading process, a worker of `intake run --processes N`)
first runs the file of the program that started it again, as `__mp_main__`: the console script, whose one
import is this module. Were it cli.main, each of them would import the whole command line, SQLAlchemy's ORM
among it, before starting its own work.
"""
from __future__ import annotations


def main() -> int:
    """Runs the `intake` command (cli.main.main)."""
    from cli.main import main as run

    return run()
