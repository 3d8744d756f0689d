"""Every operation of the running kefu's OpenAPI schema, fuzzed by schemathesis: never a 5xx.

Valid and invalid inputs (positive and negative generation), with a supervisor's token on the agent
API and the ops token on the ops API, so the handlers run rather than stopping at 401; webhooks on
every channel kefu has, conversations on a real handed-off chat. Successful responses must match
their documented schema; error bodies are not checked against it, since kefu's own 4xx carry a short
human `detail` string where FastAPI documents its validation error list. WebSockets are not in the
schema (see test_security).
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import response_schema_conformance

from app.settings import DEFAULT_RULES_FILE
from tests.e2e.conftest import post_signed, query
from tests.utils.signing import web_message

OPS_TOKEN = "fuzz-ops-token-0123456789abcdef"
EXAMPLES = {GenerationMode.POSITIVE: 25, GenerationMode.NEGATIVE: 10}
OPS_PATHS = ("/api/ops/", "/ops/", "/metrics")
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
NOWHERE = "http://127.0.0.1:9"  # no platform API is reachable: nothing the fuzzer sends may call out
PLATFORMS = {
    "KEFU_WECHAT_MP": {"app_id": "wxfuzz", "app_secret": "fuzz-mp-secret", "token": "fuzz-mp-token"},
    "KEFU_WECOM_KF": {"corp_id": "wwfuzz", "secret": "fuzz-kf-secret", "token": "t", "encoding_aes_key": AES_KEY},
    "KEFU_WECHAT_SHOP": {"app_id": "wxshop", "app_secret": "s", "token": "t", "encoding_aes_key": AES_KEY},
    "KEFU_TELEGRAM": {"bot_token": "1:fuzz", "secret_token": "fuzz-telegram-secret"},
    "KEFU_FEISHU": {"app_id": "cli_fuzz", "app_secret": "s", "verification_token": "v", "encrypt_key": "k"},
}
CHANNELS = ["web", "wechat_mp", "wecom_kf", "wechat_shop", "telegram", "feishu"]


@pytest.fixture
def fuzzed_kefu(kefu_factory, tmp_path: Path, callback):
    """kefu with every channel, an ops token and a rules file of its own (PUT /api/ops/promotion rewrites it)."""
    rules = tmp_path / "rules.yaml"
    shutil.copy(DEFAULT_RULES_FILE, rules)
    platforms = {name: json.dumps({"default": {**account, "api_base": NOWHERE}}) for name, account in PLATFORMS.items()}
    process = kefu_factory(KEFU_OPS__TOKEN=OPS_TOKEN, KEFU_RULES_FILE=str(rules), **platforms)
    process.migrate()
    process.start()
    for n, text in enumerate(["什么时候发货", "转人工", "你们这什么垃圾服务！！！", "能开发票吗"]):
        post_signed(process.url, web_message(text, customer_id=f"fuzz-{n}", message_id=f"fuzz-{n}"))
    callback.wait_for(lambda got: len(got) >= 4)  # stats, queues and gaps have rows to read
    return process


def test_no_operation_answers_a_server_error(fuzzed_kefu):
    supervisor = fuzzed_kefu.add_agent("fuzzboss", skills="supervisor", role="supervisor")
    conversation_id = _waiting_conversation(fuzzed_kefu)
    schema = schemathesis.openapi.from_url(f"{fuzzed_kefu.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30, "the schema lost its operations"
    failures: list[str] = []
    for operation in operations:
        headers = {"authorization": f"Bearer {OPS_TOKEN if operation.path.startswith(OPS_PATHS) else supervisor}"}
        for path_parameters in _targets(operation.path, conversation_id):
            for mode, examples in EXAMPLES.items():
                if failure := _fuzz(operation, mode, examples, headers, path_parameters):
                    failures.append(f"{operation.label} {path_parameters} ({mode}): {failure}")
    assert not failures, "\n\n".join(failures)


def _targets(path: str, conversation_id: str) -> list[dict[str, str]]:
    """Path parameters that reach a handler: each configured channel, the real conversation."""
    if path.startswith("/webhooks/"):
        return [{"channel": c, **({"account": "default"} if "{account}" in path else {})} for c in CHANNELS]
    if "{conversation_id}" in path:
        return [{"conversation_id": conversation_id}]
    return [{}]


def successful_body_conforms(ctx, response, case) -> bool | None:
    return response_schema_conformance(ctx, response, case) if response.status_code < 300 else None


CHECKS = [not_a_server_error, successful_body_conforms]


def _fuzz(operation, mode: GenerationMode, examples: int, headers: dict, path_parameters: dict) -> str | None:
    """The first failure of `examples` deterministic cases, or None; no shrinking, to stay quick."""

    @settings(
        max_examples=examples,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters or None))
    def run(case):
        case.call_and_validate(headers=headers, checks=CHECKS, timeout=10)

    try:
        run()
    except Unsatisfiable:  # nothing left to make invalid, e.g. no parameters and no body
        assert mode == GenerationMode.NEGATIVE
    except (AssertionError, FailureGroup) as exc:  # failed checks: reported together once every operation ran
        return f"{type(exc).__name__}: {exc}"
    return None


def _waiting_conversation(kefu) -> str:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if rows := query(kefu.env["KEFU_DATABASE_URL"], "SELECT id FROM conversations WHERE state = 'queued'"):
            return rows[0][0]
        time.sleep(0.05)
    raise AssertionError("no conversation is waiting")
