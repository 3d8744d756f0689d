"""All configuration, from `KEFU_*` environment variables and `.env` (nested: `KEFU_WEB__SECRET`)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SAMPLE_FAQ_DIR = Path(__file__).resolve().parent.parent / "faq" / "data"
DEFAULT_RULES_FILE = Path(__file__).resolve().parent.parent / "routing" / "rules.yaml"
PLACEHOLDER_SECRETS = {"", "changeme", "change-me", "secret", "placeholder", "xxx", "test", "dev"}
MIN_SECRET_LENGTH = 16


class WebChannelSettings(BaseModel):
    """kefu's own web channel (webhook in, signed callback out, the /chat widget)."""

    secret: SecretStr | None = None
    callback_url: str | None = None
    account: str = "default"
    timestamp_tolerance_seconds: float = 300
    max_body_bytes: int = 64 * 1024
    max_text_chars: int = 4000


class WeChatMPAccount(BaseModel):
    """One WeChat Official Account (公众号), served at /webhooks/wechat_mp/<account name>."""

    app_id: str
    app_secret: SecretStr
    token: SecretStr  # the URL token configured in the Official Account's admin page
    encoding_aes_key: SecretStr | None = None  # set for safe (AES) mode; plain mode without it
    api_base: str = "https://api.weixin.qq.com"


class TelegramAccount(BaseModel):
    """One Telegram bot, served at /webhooks/telegram/<account name> (give that URL to setWebhook)."""

    bot_token: SecretStr  # from @BotFather
    secret_token: SecretStr  # the secret_token passed to setWebhook; Telegram echoes it in a header
    api_base: str = "https://api.telegram.org"


class FeishuAccount(BaseModel):
    """One Feishu (飞书) app's bot, served at /webhooks/feishu/<account name> (the event request URL)."""

    app_id: str
    app_secret: SecretStr
    verification_token: SecretStr | None = None  # 事件订阅 Verification Token
    encrypt_key: SecretStr | None = None  # 事件订阅 Encrypt Key: encrypted, signed events; set at least one
    api_base: str = "https://open.feishu.cn"  # https://open.larksuite.com for Lark


class OpsSettings(BaseModel):
    """The ops API (FAQ checks, later dashboards): a bearer token; open in development when unset."""

    token: SecretStr | None = None


class EngineSettings(BaseModel):
    """How many conversations are worked on at once; 0 makes an ingest-only instance."""

    workers: int = Field(default=32, ge=0)
    drain_seconds: float = 10


class OutboxSettings(BaseModel):
    """Retry schedule for replies: base * 2**attempt seconds, capped, until `give_up_after`."""

    base_delay_seconds: float = 1.0
    max_delay_seconds: float = 300.0
    give_up_after_seconds: float = 24 * 3600
    poll_seconds: float = 1.0
    send_timeout_seconds: float = 10.0
    parallel: int = Field(default=16, ge=1)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="KEFU_",
        env_nested_delimiter="__",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    env: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite+aiosqlite:///./kefu.db"
    faq_dir: Path = SAMPLE_FAQ_DIR
    rules_file: Path = DEFAULT_RULES_FILE
    shop_name: str = "小店"
    log_level: str = "INFO"
    web: WebChannelSettings = WebChannelSettings()
    wechat_mp: dict[str, WeChatMPAccount] = {}  # account name -> account; JSON in KEFU_WECHAT_MP
    telegram: dict[str, TelegramAccount] = {}  # account name -> bot; JSON in KEFU_TELEGRAM
    feishu: dict[str, FeishuAccount] = {}  # account name -> app; JSON in KEFU_FEISHU
    ops: OpsSettings = OpsSettings()
    engine: EngineSettings = EngineSettings()
    outbox: OutboxSettings = OutboxSettings()

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> Settings:
        if self.env != "production":
            return self
        for name, value in (("KEFU_WEB__SECRET", self.web.secret), ("KEFU_OPS__TOKEN", self.ops.token)):
            secret = value.get_secret_value() if value else ""
            if secret.lower() in PLACEHOLDER_SECRETS or len(secret) < MIN_SECRET_LENGTH:
                raise ValueError(
                    f"{name} is missing or a placeholder: set a random value of at least {MIN_SECRET_LENGTH} "
                    "characters (e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`)"
                )
        return self

    def secrets(self) -> list[str]:
        """Every configured secret value, so the log filter can mask them."""
        values = [self.web.secret, self.ops.token]
        for mp in self.wechat_mp.values():
            values += [mp.app_secret, mp.token, mp.encoding_aes_key]
        for bot in self.telegram.values():
            values += [bot.bot_token, bot.secret_token]
        for app in self.feishu.values():
            values += [app.app_secret, app.verification_token, app.encrypt_key]
        return [s.get_secret_value() for s in values if s and s.get_secret_value()]


@lru_cache
def get_settings() -> Settings:
    return Settings()
