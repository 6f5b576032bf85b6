"""The process table as tests see it, from /proc: a process's state and its children."""
from __future__ import annotations

from pathlib import Path


def _stat_fields(stat: Path) -> list[str] | None:
    """The fields of a /proc/PID/stat file after the command name (state first, then the parent's pid);
    None once the process is gone."""
    try:
        return stat.read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def running(pid: int) -> bool:
    """Whether PID is a live process (a zombie waiting to be reaped counts as ended)."""
    fields = _stat_fields(Path(f"/proc/{pid}/stat"))
    return fields is not None and fields[0] != "Z"


def children(pid: int) -> list[int]:
    """The processes whose parent is PID."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        fields = _stat_fields(stat)
        if fields is not None and int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found
