"""The platform adapters kefu's settings configure, each sending through one shared HTTP client.

Built by the service and by the delivery process (app/engine/delivery_process.py) alike.
"""

from __future__ import annotations

import httpx

from adapters.base import Adapter
from adapters.feishu import FeishuAdapter
from adapters.telegram import TelegramAdapter
from adapters.web import WebAdapter
from adapters.wechat_mp import WeChatMPAdapter
from adapters.wechat_shop import WeChatShopAdapter
from adapters.wecom_kf import WeComKFAdapter
from app.settings import FeishuAccount, Settings, TelegramAccount, WeChatMPAccount, WeChatShopAccount, WeComKFAccount


def configured_adapters(settings: Settings, http: httpx.AsyncClient) -> dict[tuple[str, str], Adapter]:
    """(channel, account) -> adapter: the web channel's, and one per configured platform account."""
    built: list[Adapter] = [_web_adapter(settings, http)]
    built += [_wechat_mp_adapter(name, account, http) for name, account in settings.wechat_mp.items()]
    built += [_wecom_kf_adapter(name, account, http) for name, account in settings.wecom_kf.items()]
    built += [_wechat_shop_adapter(name, account, http) for name, account in settings.wechat_shop.items()]
    built += [_telegram_adapter(name, account, http) for name, account in settings.telegram.items()]
    built += [_feishu_adapter(name, account, http) for name, account in settings.feishu.items()]
    return {(a.name, a.account): a for a in built}


def _web_adapter(settings: Settings, http: httpx.AsyncClient) -> WebAdapter:
    web = settings.web
    return WebAdapter(
        secret=web.secret.get_secret_value() if web.secret else None,
        callback_url=web.callback_url,
        client=http,
        account=web.account,
        max_body_bytes=web.max_body_bytes,
        max_text_chars=web.max_text_chars,
        timestamp_tolerance=web.timestamp_tolerance_seconds,
    )


def _wechat_mp_adapter(name: str, mp: WeChatMPAccount, http: httpx.AsyncClient) -> WeChatMPAdapter:
    return WeChatMPAdapter(
        app_id=mp.app_id,
        account=name,
        app_secret=mp.app_secret.get_secret_value(),
        token=mp.token.get_secret_value(),
        encoding_aes_key=mp.encoding_aes_key.get_secret_value() if mp.encoding_aes_key else None,
        client=http,
        api_base=mp.api_base,
    )


def _wechat_shop_adapter(name: str, shop: WeChatShopAccount, http: httpx.AsyncClient) -> WeChatShopAdapter:
    return WeChatShopAdapter(
        account=name,
        app_id=shop.app_id,
        app_secret=shop.app_secret.get_secret_value(),
        token=shop.token.get_secret_value(),
        encoding_aes_key=shop.encoding_aes_key.get_secret_value(),
        client=http,
        api_base=shop.api_base,
    )


def _telegram_adapter(name: str, bot: TelegramAccount, http: httpx.AsyncClient) -> TelegramAdapter:
    return TelegramAdapter(
        account=name,
        bot_token=bot.bot_token.get_secret_value(),
        secret_token=bot.secret_token.get_secret_value(),
        client=http,
        api_base=bot.api_base,
    )


def _feishu_adapter(name: str, app: FeishuAccount, http: httpx.AsyncClient) -> FeishuAdapter:
    return FeishuAdapter(
        account=name,
        app_id=app.app_id,
        app_secret=app.app_secret.get_secret_value(),
        verification_token=app.verification_token.get_secret_value() if app.verification_token else None,
        encrypt_key=app.encrypt_key.get_secret_value() if app.encrypt_key else None,
        client=http,
        api_base=app.api_base,
    )


def _wecom_kf_adapter(name: str, kf: WeComKFAccount, http: httpx.AsyncClient) -> WeComKFAdapter:
    return WeComKFAdapter(
        account=name,
        corp_id=kf.corp_id,
        secret=kf.secret.get_secret_value(),
        token=kf.token.get_secret_value(),
        encoding_aes_key=kf.encoding_aes_key.get_secret_value(),
        client=http,
        api_base=kf.api_base,
        handoff_service_state=kf.handoff_service_state,
        servicer_userid=kf.servicer_userid,
    )
