"""Signals are acted on by a thread: a handler arriving while the main thread holds a lock cannot hang it."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from cli.signals import SignalActions
from tests.polling import wait_until

ROOT = Path(__file__).resolve().parents[2]

def program(sig: str, body: str) -> str:
    """A program whose stop event SIG sets, through SignalActions (argument "thread") or through a Python
    handler as before (argument "handler"), then BODY."""
    return textwrap.dedent(f"""
        import os, signal, sys, threading, time
        from cli.signals import SignalActions

        stop = threading.Event()
        if sys.argv[1] == "thread":
            SignalActions({{signal.{sig}: stop.set}}).install()
        else:
            signal.signal(signal.{sig}, lambda *_: stop.set())
            threading.Thread(target=threading.Event().wait, daemon=True).start()  # a second thread, as there
    """) + textwrap.dedent(body)


def run(code: str, mode: str, timeout: float = 60) -> str:
    done = subprocess.run([sys.executable, "-c", code, mode], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


# The main thread holds the stop event's own lock when the signal comes, as Event.wait does for a moment
# after waking; an action run inside the handler would wait on that lock for ever.
HOLDING_THE_LOCK = program("SIGTERM", """
    with stop._cond:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.2)  # the handler has run by now, with the lock still held
    print("stopped" if stop.wait(30) else "not stopped", flush=True)
""")


def test_a_signal_while_the_main_thread_holds_the_events_lock_still_stops() -> None:
    assert run(HOLDING_THE_LOCK, "thread") == "stopped"


def test_the_same_signal_handled_in_the_handler_hangs() -> None:
    """The failure this guards against, shown on the pattern it replaced (killed by the timeout)."""
    with pytest.raises(subprocess.TimeoutExpired):
        run(HOLDING_THE_LOCK, "handler", timeout=3)


# The kernel may hand a signal to any thread that does not block it; here only the dispatching thread can
# take it. (A Python-level handler would run only at the main thread's next step: before its wait or after
# it, depending on which thread gets there first, so that pattern is not shown here as a test.)
OTHER_THREAD = program("SIGUSR1", """
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})  # this thread's mask only
    os.kill(os.getpid(), signal.SIGUSR1)
    print("stopped" if stop.wait(30) else "not stopped", flush=True)
""")


def test_a_signal_taken_by_another_thread_is_acted_on_while_the_main_thread_waits() -> None:
    assert run(OTHER_THREAD, "thread") == "stopped"


def test_each_signal_runs_its_action_and_a_failing_action_leaves_the_next_answered(caplog) -> None:  # type: ignore[no-untyped-def]
    seen: list[str] = []

    def broken() -> None:
        raise RuntimeError("reload failed")

    stop = threading.Event()
    before = signal.getsignal(signal.SIGUSR1)
    with SignalActions({signal.SIGUSR1: broken, signal.SIGUSR2: lambda: seen.append("usr2"),
                        signal.SIGHUP: stop.set}):
        os.kill(os.getpid(), signal.SIGUSR1)
        os.kill(os.getpid(), signal.SIGUSR2)
        os.kill(os.getpid(), signal.SIGHUP)
        assert stop.wait(5)
        wait_until(lambda: seen == ["usr2"], 5, "the second action ran", every=0.01)
    assert "event=signal_action_failed" in caplog.text and "reload failed" in caplog.text
    assert signal.getsignal(signal.SIGUSR1) == before  # given back on the way out


def test_restore_ends_the_dispatching_thread() -> None:
    actions = SignalActions({signal.SIGUSR2: lambda: None}).install()
    assert any(t.name == "signals" for t in threading.enumerate())
    actions.restore()
    assert not any(t.name == "signals" and t.is_alive() for t in threading.enumerate())
