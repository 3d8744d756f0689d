"""What a started service does with its process's memory: start-up's objects frozen while it
serves (the collector's full passes skip them) and the young generation collected less often,
both undone when it stops (app/collector.py)."""

from __future__ import annotations

import gc

from fastapi.testclient import TestClient

from app.collector import YOUNG_THRESHOLD
from app.main import create_app
from app.settings import Settings
from app.store.migrate import upgrade


def test_start_up_objects_are_frozen_while_serving_and_released_at_shutdown(database_url: str) -> None:
    upgrade(database_url)
    app = create_app(Settings(env="test", database_url=database_url))
    thresholds = gc.get_threshold()
    assert gc.get_freeze_count() == 0
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        assert gc.get_freeze_count() > 0  # the FAQ index, rules and code among them
        assert gc.get_threshold() == (YOUNG_THRESHOLD, *thresholds[1:])
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == thresholds
