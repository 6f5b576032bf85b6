"""A worker picks up a newly activated model version between batches, and survives a broken one."""
from __future__ import annotations

from classifiers import load_classifier
from classifiers.store import ModelStore
from intake.config import load_config
from intake.worker import Worker
from tests.unit.test_classifiers import FAST, _tiny_corpus


def test_worker_switches_to_the_newly_activated_version(tmp_path):
    from classifiers.train import train_version

    store = ModelStore(tmp_path)
    for name, epochs in (("v1", 3), ("v2", 4)):
        scratch = store.scratch()
        train_version(_tiny_corpus(), [], scratch, type(FAST)(epochs=epochs))
        store.add(scratch, name)
    store.activate("v1")
    worker = Worker(load_config(None), None, load_classifier(tmp_path),  # type: ignore[arg-type]
                    reload=lambda: load_classifier(tmp_path))
    first = worker.current_classifier()
    assert first.version == store.meta("v1")["version"]
    assert worker.current_classifier() is first  # nothing changed: the same loaded model
    store.activate("v2")
    assert worker.current_classifier().version == store.meta("v2")["version"]


def test_a_reload_that_fails_keeps_the_loaded_model(tmp_path, caplog):
    shipped = load_classifier()

    def broken():  # type: ignore[no-untyped-def]
        raise OSError("model files unreadable")

    worker = Worker(load_config(None), None, shipped, reload=broken)  # type: ignore[arg-type]
    assert worker.current_classifier() is shipped
    assert "event=model_reload_failed" in caplog.text
