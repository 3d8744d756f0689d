"""What both child processes (delivery, engine) do with the settings line they are started with."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    ("module", "name"),
    [("app.engine.delivery_process", "delivery process"), ("app.engine.engine_process", "engine process")],
)
def test_a_child_refusing_its_settings_says_which_and_quotes_no_secret(module, name):
    settings = json.dumps({"web": {"secret": "topsecret-web-value", "callback_url": 5}}) + "\n"
    child = subprocess.run([sys.executable, "-m", module], input=settings, capture_output=True, text=True, timeout=60)

    assert child.returncode == 1
    assert f"{name}: settings refused" in child.stderr and "callback_url" in child.stderr
    assert "topsecret-web-value" not in child.stderr + child.stdout
