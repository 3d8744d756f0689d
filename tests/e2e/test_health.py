"""Liveness and readiness as an orchestrator sees them."""

from __future__ import annotations

import httpx


def test_healthz_and_readyz_report_a_healthy_instance(kefu):
    assert httpx.get(f"{kefu.url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{kefu.url}/readyz").json()
    assert ready["status"] == "ready"
    assert ready["checks"]["database"]["ok"] and ready["checks"]["faq"]["entries"] > 0


def test_a_broken_faq_at_start_makes_kefu_unready_and_names_the_line(kefu_factory, tmp_path):
    faq_dir = tmp_path / "faq"
    faq_dir.mkdir()
    (faq_dir / "shop.yaml").write_text("entries:\n  - id: ship\n    questions: [发货]\n", encoding="utf-8")
    process = kefu_factory(KEFU_FAQ_DIR=str(faq_dir))
    process.migrate()
    process.start(ready_status=503)

    response = httpx.get(f"{process.url}/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["faq"]["error"] == f"{faq_dir / 'shop.yaml'}:2: answer: Field required"


def test_unknown_channel_is_404(kefu):
    response = httpx.post(f"{kefu.url}/webhooks/nowhere", content=b"{}")
    assert response.status_code == 404
    assert response.json()["detail"] == "unknown channel 'nowhere'"


def test_each_account_has_its_own_url_and_an_unknown_account_is_404(kefu):
    response = httpx.post(f"{kefu.url}/webhooks/web/elsewhere", content=b"{}")
    assert response.status_code == 404
    assert response.json()["detail"] == "unknown channel 'web' account 'elsewhere'"
    assert httpx.post(f"{kefu.url}/webhooks/web/default", content=b"{}").status_code == 401, "reaches the adapter"
