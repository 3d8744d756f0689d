"""Settings come from KEFU_* variables and .env; production refuses placeholder secrets by name."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from app.settings import SAMPLE_FAQ_DIR, Settings


def test_defaults_run_embedded_with_the_sample_faq():
    settings = Settings()
    assert settings.database_url == "sqlite+aiosqlite:///./kefu.db"
    assert settings.faq_dir == SAMPLE_FAQ_DIR
    assert settings.web.secret is None and settings.web.callback_url is None


def test_nested_settings_use_a_double_underscore(monkeypatch):
    monkeypatch.setenv("KEFU_WEB__SECRET", "s" * 32)
    monkeypatch.setenv("KEFU_WEB__CALLBACK_URL", "https://shop.example/kefu")
    monkeypatch.setenv("KEFU_OUTBOX__BASE_DELAY_SECONDS", "0.5")
    settings = Settings()
    assert settings.web.secret.get_secret_value() == "s" * 32
    assert settings.web.callback_url == "https://shop.example/kefu"
    assert settings.outbox.base_delay_seconds == 0.5


def test_dot_env_in_the_working_directory_is_read(tmp_path):
    (tmp_path / ".env").write_text("KEFU_SHOP_NAME=小鹿家居\nKEFU_FAQ_DIR=/srv/faq\n", encoding="utf-8")
    settings = Settings()
    assert settings.shop_name == "小鹿家居"
    assert str(settings.faq_dir) == "/srv/faq"


@pytest.mark.parametrize("secret", [None, "changeme", "short"])
@pytest.mark.parametrize(
    ("setting", "other"), [("KEFU_WEB__SECRET", "KEFU_OPS__TOKEN"), ("KEFU_OPS__TOKEN", "KEFU_WEB__SECRET")]
)
def test_production_refuses_missing_or_placeholder_secrets_naming_the_setting(monkeypatch, secret, setting, other):
    monkeypatch.setenv("KEFU_ENV", "production")
    monkeypatch.setenv(other, "9f2c" * 8)
    if secret:
        monkeypatch.setenv(setting, secret)
    with pytest.raises(ValidationError, match=setting):
        Settings()


def test_production_accepts_real_secrets(monkeypatch):
    monkeypatch.setenv("KEFU_ENV", "production")
    monkeypatch.setenv("KEFU_WEB__SECRET", "9f2c" * 8)
    monkeypatch.setenv("KEFU_OPS__TOKEN", "7a1b" * 8)
    assert Settings().env == "production"


def test_secret_is_not_shown_in_the_settings_repr(monkeypatch):
    monkeypatch.setenv("KEFU_WEB__SECRET", "very-secret-value-123456")
    assert "very-secret-value-123456" not in repr(Settings())


def test_wechat_shop_accounts_come_as_json_and_their_secrets_are_masked(monkeypatch):
    shop = {"app_id": "wxshop01", "app_secret": "shop-secret-1", "token": "push-token-1", "encoding_aes_key": "k" * 43}
    monkeypatch.setenv("KEFU_WECHAT_SHOP", json.dumps({"flagship": shop}))
    settings = Settings()
    assert settings.wechat_shop["flagship"].app_id == "wxshop01"
    assert {"shop-secret-1", "push-token-1", "k" * 43} <= set(settings.secrets())


def test_feishu_alerts_name_an_app_that_is_configured(monkeypatch):
    monkeypatch.setenv("KEFU_ALERTS__FEISHU_CHAT_ID", "oc_staff")
    monkeypatch.setenv("KEFU_ALERTS__FEISHU_ACCOUNT", "ops")
    with pytest.raises(ValidationError, match="KEFU_ALERTS__FEISHU_ACCOUNT 'ops' is not a Feishu app"):
        Settings()
    monkeypatch.setenv("KEFU_FEISHU", json.dumps({"ops": {"app_id": "cli_1", "app_secret": "s", "encrypt_key": "e"}}))
    assert Settings().alerts.feishu_chat_id == "oc_staff"


@pytest.mark.parametrize("url", ["sqlite+aiosqlite://", "sqlite+aiosqlite:///:memory:"])
@pytest.mark.parametrize("child", ["KEFU_OUTBOX__PROCESS", "KEFU_ENGINE__PROCESS"])
def test_a_child_process_is_refused_an_in_memory_store(monkeypatch, url, child):
    monkeypatch.setenv(child, "true")
    monkeypatch.setenv("KEFU_DATABASE_URL", url)
    with pytest.raises(ValidationError, match=f"{child}=true needs a database both processes open"):
        Settings()
    monkeypatch.setenv("KEFU_DATABASE_URL", "sqlite+aiosqlite:///./kefu.db")
    assert Settings().outbox.process or Settings().engine.process


WECOM_KF = {"corp_id": "ww01", "secret": "kf-secret-1", "token": "kf-token-1", "encoding_aes_key": "q" * 43}


def test_wecom_kf_accounts_come_as_json_and_their_secrets_are_masked(monkeypatch):
    monkeypatch.setenv("KEFU_WECOM_KF", json.dumps({"flagship": {**WECOM_KF, "handoff_service_state": 2}}))
    settings = Settings()
    assert settings.wecom_kf["flagship"].handoff_service_state == 2
    assert {"kf-secret-1", "kf-token-1", "q" * 43} <= set(settings.secrets())


@pytest.mark.parametrize(
    ("extra", "error"), [({"handoff_service_state": 3}, "servicer_userid"), ({"handoff_service_state": 1}, "2 or 3")]
)
def test_wecom_kf_handoff_state_must_be_a_pool_or_a_named_servicer(monkeypatch, extra, error):
    monkeypatch.setenv("KEFU_WECOM_KF", json.dumps({"flagship": {**WECOM_KF, **extra}}))
    with pytest.raises(ValidationError, match=error):
        Settings()
