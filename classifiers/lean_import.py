"""What the classifier's processes leave out of spaCy's import: GPU frameworks and spaCy's command line.

thinc, spaCy's model library, imports PyTorch and CuPy at its own import whenever they are installed, for
models that run on them. The classifier's models are bags of n-grams on the CPU and use neither, but the
import alone is paid by every process that classifies: with PyTorch 2.13 in the environment, `import spacy`
took 1.9 s instead of 0.7 s and 562 MiB instead of 91, and the reading process of a backlog drain peaked at
620 MiB instead of 154.

spaCy's package also imports its whole command line (typer, requests, httpx, weasel, rich) to offer
`spacy.info()`: 0.2 of its 0.6 s import here, paid by each worker and reading process as it starts. intake
runs none of spaCy's commands.
"""
from __future__ import annotations

import importlib.abc
import importlib.util
import sys
import types
from pathlib import Path

FRAMEWORKS = ("torch", "cupy")


def lean_spacy_import() -> None:
    """Both of the below: called first thing by each intake process that may classify."""
    block_gpu_frameworks()
    skip_spacy_cli()


class _FrameworkBlock(importlib.abc.MetaPathFinder):
    """Answers an import of a blocked framework (or of a module inside it) with ModuleNotFoundError."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> None:
        if fullname.split(".", 1)[0] in self.names:
            raise ModuleNotFoundError(f"{fullname} is not loaded in intake's processes", name=fullname)
        return None


def block_gpu_frameworks() -> None:
    """Makes importing PyTorch or CuPy fail in this process (thinc then runs without them), unless one was
    imported already: then something in the process uses it, and it is left alone."""
    # A finder first on the import path, not a None entry in sys.modules: libraries that test
    # `"torch" in sys.modules` and then read the module (scipy's array-API helpers, which scikit-learn
    # imports) would take a None entry for an imported PyTorch and fail.
    names = tuple(n for n in FRAMEWORKS if n not in sys.modules)
    if names and not any(isinstance(f, _FrameworkBlock) for f in sys.meta_path):
        sys.meta_path.insert(0, _FrameworkBlock(names))


def skip_spacy_cli() -> None:
    """Lets `import spacy` leave out spaCy's command line, unless spaCy is imported already.

    The package `spacy.cli` is stood in for by an empty one over the same directory, so any of its modules
    still imports when asked for by name (`spacy.cli._util`, `spacy.cli.train`); only the package's own
    import of every command, and `spacy.info`, are left out.
    """
    if "spacy" in sys.modules or "spacy.cli" in sys.modules:
        return
    spec = importlib.util.find_spec("spacy")
    if spec is None or not spec.submodule_search_locations:
        return
    directory = Path(next(iter(spec.submodule_search_locations))) / "cli"
    package = types.ModuleType("spacy.cli", "spaCy's command line, not loaded in this process.")
    package.__path__ = [str(directory)]
    info = types.ModuleType("spacy.cli.info")
    info.info = _no_info  # type: ignore[attr-defined]
    package.info = info  # type: ignore[attr-defined]
    sys.modules["spacy.cli"] = package
    sys.modules["spacy.cli.info"] = info


def _no_info(*_args: object, **_kwargs: object) -> None:
    raise RuntimeError("spaCy's command line is not loaded in intake's processes: run `python -m spacy info`")
