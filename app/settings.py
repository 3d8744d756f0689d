"""All configuration, from `KEFU_*` environment variables and `.env` (nested: `KEFU_WEB__SECRET`)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

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


class WeComKFAccount(BaseModel):
    """One WeCom customer-service (微信客服) setup, served at /webhooks/wecom_kf/<account name>.

    Every KF account (open_kfid) of the corp arrives here; handed-off chats stay with kefu's agents
    unless `handoff_service_state` moves the WeCom session to WeCom's pool (2) or a servicer (3).
    """

    corp_id: str  # 企业ID: the receive id inside every encrypted callback
    secret: SecretStr  # 微信客服 → API → Secret
    token: SecretStr  # the callback Token
    encoding_aes_key: SecretStr  # the callback EncodingAESKey: WeCom always encrypts
    api_base: str = "https://qyapi.weixin.qq.com"
    handoff_service_state: Literal[2, 3] | None = None
    servicer_userid: str | None = None  # the WeCom member who takes handed-off chats; needed for state 3

    @model_validator(mode="after")
    def _servicer_for_state_3(self) -> WeComKFAccount:
        if self.handoff_service_state == 3 and not self.servicer_userid:
            raise ValueError("handoff_service_state 3 hands chats to one servicer: set servicer_userid")
        return self


class WeChatShopAccount(BaseModel):
    """One WeChat Shop (微信小店) in self-built customer-service mode, served at /webhooks/wechat_shop/<name>."""

    app_id: str  # the shop's AppID (服务市场 → 自研): the receive id inside every encrypted push
    app_secret: SecretStr
    token: SecretStr  # 消息推送 Token
    encoding_aes_key: SecretStr  # 消息推送 EncodingAESKey: the shop pushes in safe mode only
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


class AlertSettings(BaseModel):
    """Where level-3 escalations (12315 threats, safety) are announced to staff: a Feishu group chat."""

    feishu_account: str = "default"  # the KEFU_FEISHU app whose bot is in the group
    feishu_chat_id: str | None = None  # the group's chat_id (oc_…); no alerts while unset
    console_url: str | None = None  # kefu's public base URL, e.g. https://kefu.example.com: alerts link the console


class LimitSettings(BaseModel):
    """Webhook rate limits (`limits` notation: "100/second", "60/minute"); empty turns one off.

    Platform callbacks come from the platform's few addresses: keep the IP limit well above the
    shop's peak. Behind a reverse proxy run uvicorn with --proxy-headers so the client IP is real.
    """

    per_ip: str | None = "500/second"
    per_customer: str | None = "60/minute"
    storage_uri: str = "memory://"  # redis://host:6379 to share the counters between instances


class OpsSettings(BaseModel):
    """The ops API (FAQ checks, dashboards): a bearer token, open in development when unset; and how
    old the dashboard's figures may be (0: read on every ask)."""

    token: SecretStr | None = None
    figures_seconds: float = Field(default=30, ge=0)


class EngineSettings(BaseModel):
    """How many conversations are worked on at once; 0 makes an ingest-only instance."""

    # At 850 msg/s offered one instance replied to 824/s with 128 and 64, 759/s with 32 and 16 (a
    # batch's fixed costs are shared by more messages); a batch is as big as what waits, so at low
    # rates nothing changes (benchmarks/results/load_revisions_engine_defaults.md).
    workers: int = Field(default=128, ge=0)
    batch_size: int = Field(default=64, ge=1)  # most conversations' next messages handled in one transaction
    drain_seconds: float = 10
    sweep_seconds: float = Field(default=5, gt=0)  # how often messages left unprocessed are taken over
    # Decide in a second process (app/engine/engine_process.py): on a machine with a core to spare,
    # the engine no longer takes the event loop's time from webhooks, agents and timers.
    process: bool = False


class OutboxSettings(BaseModel):
    """Retry schedule for replies: base * 2**attempt seconds, capped, until `give_up_after`."""

    base_delay_seconds: float = 1.0
    max_delay_seconds: float = 300.0
    give_up_after_seconds: float = 24 * 3600
    poll_seconds: float = 1.0
    send_timeout_seconds: float = 10.0
    # Conversations with a delivery in flight. A sent reply holds its slot until the outbox's next pass
    # stores it, which waits its turn for the store under load: at 16, deliveries topped out near
    # 250/s on one instance and replies piled up at 500 msg/s (benchmarks/results/load_revisions.md as
    # committed in 70557fa).
    parallel: int = Field(default=64, ge=1)
    # Deliver from a second process (app/engine/delivery_process.py): on a machine with a core to
    # spare, sending replies no longer takes the event loop's time from webhooks and decisions.
    process: bool = False


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
    redis_url: str | None = None  # redis://host:6379/0 when several instances share the work (with PostgreSQL)
    faq_dir: Path = SAMPLE_FAQ_DIR
    rules_file: Path = DEFAULT_RULES_FILE
    shop_name: str = "小店"
    log_level: str = "INFO"
    web: WebChannelSettings = WebChannelSettings()
    wechat_mp: dict[str, WeChatMPAccount] = {}  # account name -> account; JSON in KEFU_WECHAT_MP
    wecom_kf: dict[str, WeComKFAccount] = {}  # account name -> WeCom KF setup; JSON in KEFU_WECOM_KF
    wechat_shop: dict[str, WeChatShopAccount] = {}  # account name -> shop; JSON in KEFU_WECHAT_SHOP
    telegram: dict[str, TelegramAccount] = {}  # account name -> bot; JSON in KEFU_TELEGRAM
    feishu: dict[str, FeishuAccount] = {}  # account name -> app; JSON in KEFU_FEISHU
    alerts: AlertSettings = AlertSettings()
    limits: LimitSettings = LimitSettings()
    ops: OpsSettings = OpsSettings()
    engine: EngineSettings = EngineSettings()
    outbox: OutboxSettings = OutboxSettings()

    @model_validator(mode="after")
    def _alerts_need_their_feishu_app(self) -> Settings:
        account = self.alerts.feishu_account
        if self.alerts.feishu_chat_id and account not in self.feishu:
            raise ValueError(
                f"KEFU_ALERTS__FEISHU_ACCOUNT '{account}' is not a Feishu app in KEFU_FEISHU "
                f"(configured: {', '.join(self.feishu) or 'none'})"
            )
        return self

    @model_validator(mode="after")
    def _child_processes_need_a_shared_store(self) -> Settings:
        url = make_url(self.database_url)
        if url.get_backend_name() != "sqlite" or url.database not in (None, "", ":memory:"):
            return self
        children = {"KEFU_OUTBOX__PROCESS": self.outbox.process, "KEFU_ENGINE__PROCESS": self.engine.process}
        for name, wanted in children.items():
            if wanted:
                raise ValueError(
                    f"{name}=true needs a database both processes open: an in-memory SQLite is "
                    "this process's alone (use a file, e.g. sqlite+aiosqlite:///./kefu.db)"
                )
        return self

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
        for kf in self.wecom_kf.values():
            values += [kf.secret, kf.token, kf.encoding_aes_key]
        for shop in self.wechat_shop.values():
            values += [shop.app_secret, shop.token, shop.encoding_aes_key]
        for bot in self.telegram.values():
            values += [bot.bot_token, bot.secret_token]
        for app in self.feishu.values():
            values += [app.app_secret, app.verification_token, app.encrypt_key]
        return [s.get_secret_value() for s in values if s and s.get_secret_value()]


@lru_cache
def get_settings() -> Settings:
    return Settings()
