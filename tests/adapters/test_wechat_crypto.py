"""WeChat message crypto, pinned to Tencent's published test vectors and cross-checked against wechatpy.

The vectors are public sample data from Tencent's WeCom and Official Account developer docs, copied here
so that the suite runs without the shared evaluation folder.
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import xml.etree.ElementTree as ET

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from adapters.errors import PayloadError, SignatureError
from adapters.wechat_crypto import WeChatCrypto, pad, signature

# WeCom (企业微信) sample account, from Tencent's callback docs.
WECOM_TOKEN = "QDG6eK"
WECOM_AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
WECOM_CORP_ID = "wx5823bf96d3bd56c7"

# WeCom URL verification (GET with msg_signature/timestamp/nonce/echostr).
URL_SIGNATURE = "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3"
URL_TIMESTAMP = "1409659589"
URL_NONCE = "263014780"
URL_ECHOSTR = "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="
URL_PLAINTEXT = "1616140317555161061"

# WeCom encrypted message (POST body's <Encrypt>).
WECOM_MSG_SIGNATURE = "477715d11cdb4164915debcba66cb864d751f3e6"
WECOM_MSG_TIMESTAMP = "1409659813"
WECOM_MSG_NONCE = "1372623149"
WECOM_MSG_ENCRYPT = (
    "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/"
    "sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZf"
    "JYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVG"
    "Ucallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KD"
    "YA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q=="
)
WECOM_MSG_FIELDS = {
    "MsgType": "text",
    "Content": "hello",
    "FromUserName": "mycreate",
    "MsgId": "4561255354251345929",
    "AgentID": "218",
    "CreateTime": "1409659813",
}

# Official Account (公众号) safe-mode sample message.
MP_TOKEN = "spamtest"
MP_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
MP_APP_ID = "wx2c2769f8efd9abc2"
MP_MSG_SIGNATURE = "5d197aaffba7e9b25a30732f161a50dee96bd5fa"
MP_MSG_TIMESTAMP = "1409735669"
MP_MSG_NONCE = "1320562132"
MP_MSG_ENCRYPT = (
    "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PGHQHFVAFmOD2L"
    "dJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6tEDYsVticbSnyU8dKOIbgU6u"
    "x5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJ"
    "pXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCz"
    "pu9GhglF2PE="
)
MP_MSG_FIELDS = {
    "ToUserName": "gh_10f6c3c3ac5a",
    "FromUserName": "oyORnuP8q7ou2gfYjqLzSIWZf0rs",
    "MsgType": "text",
    "Content": "abcdteT",
    "MsgId": "6054768590064713728",
    "CreateTime": "1409735668",
}


def wecom() -> WeChatCrypto:
    return WeChatCrypto(WECOM_TOKEN, WECOM_AES_KEY, WECOM_CORP_ID)


def official_account() -> WeChatCrypto:
    return WeChatCrypto(MP_TOKEN, MP_AES_KEY, MP_APP_ID)


def xml_fields(xml: str) -> dict[str, str]:
    return {child.tag: child.text or "" for child in ET.fromstring(xml)}


def raw_encrypt(body: bytes, aes_key: str = WECOM_AES_KEY) -> str:
    """AES-256-CBC of `body` exactly as given (no padding added): for building malformed payloads."""
    key = base64.b64decode(aes_key + "=")
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(body) + encryptor.finalize()).decode()


def packed(msg: bytes, receive_id: bytes = WECOM_CORP_ID.encode(), *, msg_len: int | None = None) -> bytes:
    length = len(msg) if msg_len is None else msg_len
    return b"R" * 16 + length.to_bytes(4, "big") + msg + receive_id


# Signatures


@pytest.mark.parametrize(
    ("token", "timestamp", "nonce", "encrypted", "expected"),
    [
        (WECOM_TOKEN, URL_TIMESTAMP, URL_NONCE, URL_ECHOSTR, URL_SIGNATURE),
        (WECOM_TOKEN, WECOM_MSG_TIMESTAMP, WECOM_MSG_NONCE, WECOM_MSG_ENCRYPT, WECOM_MSG_SIGNATURE),
        (MP_TOKEN, MP_MSG_TIMESTAMP, MP_MSG_NONCE, MP_MSG_ENCRYPT, MP_MSG_SIGNATURE),
    ],
    ids=["wecom-url", "wecom-message", "official-account-message"],
)
def test_signature_matches_official_vectors(token, timestamp, nonce, encrypted, expected):
    assert signature(token, timestamp, nonce, encrypted) == expected


def test_plain_mode_signature_covers_token_timestamp_and_nonce_only():
    expected = hashlib.sha1("".join(sorted([MP_TOKEN, MP_MSG_TIMESTAMP, MP_MSG_NONCE])).encode()).hexdigest()
    assert signature(MP_TOKEN, MP_MSG_TIMESTAMP, MP_MSG_NONCE) == expected
    assert signature(MP_TOKEN, MP_MSG_TIMESTAMP, MP_MSG_NONCE, "") == expected


def test_signature_sorts_its_parts():
    assert signature("b", "c", "a", "d") == hashlib.sha1(b"abcd").hexdigest()


# Official vectors


def test_url_verification_vector():
    assert wecom().verify_url(URL_SIGNATURE, URL_TIMESTAMP, URL_NONCE, URL_ECHOSTR) == URL_PLAINTEXT


def test_wecom_message_vector():
    crypto = wecom()
    crypto.verify(WECOM_MSG_SIGNATURE, WECOM_MSG_TIMESTAMP, WECOM_MSG_NONCE, WECOM_MSG_ENCRYPT)
    fields = xml_fields(crypto.decrypt(WECOM_MSG_ENCRYPT))
    assert fields["ToUserName"] == WECOM_CORP_ID
    assert fields.items() >= WECOM_MSG_FIELDS.items()


def test_official_account_message_vector():
    crypto = official_account()
    crypto.verify(MP_MSG_SIGNATURE, MP_MSG_TIMESTAMP, MP_MSG_NONCE, MP_MSG_ENCRYPT)
    assert xml_fields(crypto.decrypt(MP_MSG_ENCRYPT)).items() >= MP_MSG_FIELDS.items()


# Encryption


@pytest.mark.parametrize("plaintext", ["", "hello", "你好，请问什么时候发货？", "x" * 1000, "a" * 8])
def test_encrypt_decrypt_round_trip(plaintext):
    crypto = official_account()
    encrypted = crypto.encrypt(plaintext)
    assert len(base64.b64decode(encrypted)) % 32 == 0
    assert crypto.decrypt(encrypted) == plaintext


def test_encrypt_is_deterministic_only_with_fixed_nonce_bytes():
    crypto = wecom()
    fixed = b"0123456789abcdef"
    assert crypto.encrypt("hi", nonce_bytes=fixed) == crypto.encrypt("hi", nonce_bytes=fixed)
    assert crypto.encrypt("hi") != crypto.encrypt("hi")
    with pytest.raises(ValueError):
        crypto.encrypt("hi", nonce_bytes=b"short")


def test_encrypt_reply_is_signed_and_decryptable():
    crypto = wecom()
    reply = crypto.encrypt_reply("<xml><Content>您好</Content></xml>", "1409659813", "1372623149")
    assert set(reply) == {"Encrypt", "MsgSignature", "TimeStamp", "Nonce"}
    assert (reply["TimeStamp"], reply["Nonce"]) == ("1409659813", "1372623149")
    crypto.verify(reply["MsgSignature"], reply["TimeStamp"], reply["Nonce"], reply["Encrypt"])
    assert crypto.decrypt(reply["Encrypt"]) == "<xml><Content>您好</Content></xml>"


def test_pad_uses_32_byte_blocks():
    assert pad(b"") == bytes([32]) * 32
    assert pad(b"a" * 31) == b"a" * 31 + b"\x01"
    assert pad(b"a" * 32) == b"a" * 32 + bytes([32]) * 32


@pytest.mark.parametrize("key", ["short", WECOM_AES_KEY[:-1] + "!", WECOM_AES_KEY + "A"])
def test_malformed_encoding_aes_key_is_a_configuration_error(key):
    with pytest.raises(ValueError):
        WeChatCrypto(WECOM_TOKEN, key, WECOM_CORP_ID)


# Rejections


@pytest.mark.parametrize(
    ("msg_signature", "timestamp", "encrypted"),
    [
        ("0" * 40, WECOM_MSG_TIMESTAMP, WECOM_MSG_ENCRYPT),
        ("", WECOM_MSG_TIMESTAMP, WECOM_MSG_ENCRYPT),
        (WECOM_MSG_SIGNATURE.upper() + "é", WECOM_MSG_TIMESTAMP, WECOM_MSG_ENCRYPT),
        (WECOM_MSG_SIGNATURE, "1409659814", WECOM_MSG_ENCRYPT),
        (WECOM_MSG_SIGNATURE, WECOM_MSG_TIMESTAMP, "A" + WECOM_MSG_ENCRYPT[1:]),
    ],
    ids=["wrong", "empty", "non-ascii", "other-timestamp", "tampered-ciphertext"],
)
def test_wrong_signature_is_rejected(msg_signature, timestamp, encrypted):
    with pytest.raises(SignatureError, match="msg_signature mismatch") as excinfo:
        wecom().verify(msg_signature, timestamp, WECOM_MSG_NONCE, encrypted)
    assert excinfo.value.platform == "wechat"
    assert excinfo.value.status_code == 401


def test_wrong_token_is_rejected():
    crypto = WeChatCrypto("other-token", WECOM_AES_KEY, WECOM_CORP_ID, platform="wecom")
    with pytest.raises(SignatureError) as excinfo:
        crypto.verify_url(URL_SIGNATURE, URL_TIMESTAMP, URL_NONCE, URL_ECHOSTR)
    assert excinfo.value.platform == "wecom"


def test_tampered_ciphertext_is_rejected_by_decrypt_too():
    data = bytearray(base64.b64decode(WECOM_MSG_ENCRYPT))
    data[0] ^= 0x80  # flips the high bit of the decrypted length field
    with pytest.raises(PayloadError, match="runs beyond the data"):
        wecom().decrypt(base64.b64encode(bytes(data)).decode())


def test_wrong_receive_id_is_rejected():
    crypto = WeChatCrypto(WECOM_TOKEN, WECOM_AES_KEY, "ww0000000000000000")
    with pytest.raises(PayloadError, match="receive id mismatch") as excinfo:
        crypto.decrypt(WECOM_MSG_ENCRYPT)
    assert excinfo.value.field == "Encrypt"
    assert excinfo.value.status_code == 422


@pytest.mark.parametrize(
    ("encrypted", "reason"),
    [
        ("not base64!!", "not valid base64"),
        ("", "not a positive multiple of 16"),
        (base64.b64encode(b"x" * 20).decode(), "not a positive multiple of 16"),
        (base64.b64encode(base64.b64decode(WECOM_MSG_ENCRYPT)[:-5]).decode(), "not a positive multiple of 16"),
    ],
    ids=["bad-base64", "empty", "odd-length", "truncated-mid-block"],
)
def test_malformed_ciphertext_is_rejected(encrypted, reason):
    with pytest.raises(PayloadError, match=reason):
        wecom().decrypt(encrypted)


def test_ciphertext_truncated_by_whole_blocks_is_rejected():
    data = base64.b64decode(WECOM_MSG_ENCRYPT)
    for cut in (16, 32):
        with pytest.raises(PayloadError, match="bad padding"):
            wecom().decrypt(base64.b64encode(data[:-cut]).decode())


@pytest.mark.parametrize(
    "body",
    [
        packed(b"hello") + b"\x00" * 5,  # pad value 0
        b"x" * 15 + b"\x21" * 33,  # pad value 33, beyond the 32-byte block
        packed(b"hello") + b"\x05\x05\x04\x05\x05",  # pad bytes that disagree
        (lambda b: b + bytes([16]) * (48 - len(b)))(packed(b"hello")),  # 16-byte style padding, wrong count
    ],
    ids=["zero", "above-32", "inconsistent", "wrong-count"],
)
def test_bad_padding_is_rejected(body):
    assert len(body) % 16 == 0
    with pytest.raises(PayloadError, match="bad padding"):
        wecom().decrypt(raw_encrypt(body))


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (pad(b"R" * 16 + b"\x00\x00"), "too short"),
        (pad(packed(b"hello", msg_len=1000)), "runs beyond the data"),
        (pad(packed(b"hello", b"wx0000000000000000")), "receive id mismatch"),
        (pad(packed(b"\xff\xfe")), "not UTF-8"),
    ],
    ids=["truncated", "length-beyond-data", "foreign-receive-id", "not-utf8"],
)
def test_malformed_plaintext_is_rejected(body, reason):
    with pytest.raises(PayloadError, match=reason):
        wecom().decrypt(raw_encrypt(body))


def test_raw_helper_builds_valid_payloads():
    assert wecom().decrypt(raw_encrypt(pad(packed("你好".encode())))) == "你好"


# Interoperability with wechatpy, a widely used third-party client library


def _wechatpy(module: str, fallback: str | None = None):
    """wechatpy's crypto class (a dev dependency: missing it is a setup error, not a reason to skip)."""
    try:
        return importlib.import_module(module).WeChatCrypto
    except ImportError:
        if fallback is None:
            raise
        return importlib.import_module(fallback).WeChatCrypto


def wechatpy_official_account():
    return _wechatpy("wechatpy.crypto")(MP_TOKEN, MP_AES_KEY, MP_APP_ID)


def wechatpy_wecom():
    # wechatpy 2.x calls the WeCom package `work`, 1.x `enterprise`.
    return _wechatpy("wechatpy.work.crypto", "wechatpy.enterprise.crypto")(WECOM_TOKEN, WECOM_AES_KEY, WECOM_CORP_ID)


INTEROP_TEXT = "<xml><Content><![CDATA[你好，订单 12345 什么时候发货？]]></Content></xml>"


@pytest.mark.parametrize(
    ("theirs", "ours"), [(wechatpy_official_account, official_account), (wechatpy_wecom, wecom)], ids=["mp", "wecom"]
)
def test_wechatpy_encrypted_message_is_decrypted_by_us(theirs, ours):
    reply = xml_fields(theirs().encrypt_message(INTEROP_TEXT, "nonce123", "1700000000"))
    crypto = ours()
    crypto.verify(reply["MsgSignature"], reply["TimeStamp"], reply["Nonce"], reply["Encrypt"])
    assert crypto.decrypt(reply["Encrypt"]) == INTEROP_TEXT


@pytest.mark.parametrize(
    ("theirs", "ours"), [(wechatpy_official_account, official_account), (wechatpy_wecom, wecom)], ids=["mp", "wecom"]
)
def test_our_reply_is_decrypted_by_wechatpy(theirs, ours):
    reply = ours().encrypt_reply(INTEROP_TEXT, "1700000000", "nonce123")
    decrypted = theirs().decrypt_message(
        {"Encrypt": reply["Encrypt"]}, reply["MsgSignature"], reply["TimeStamp"], reply["Nonce"]
    )
    assert decrypted == INTEROP_TEXT


def test_wechatpy_accepts_our_url_verification_echostr():
    echostr = wecom().encrypt("8437261593")
    msg_signature = signature(WECOM_TOKEN, "1700000000", "nonce123", echostr)
    assert wechatpy_wecom().check_signature(msg_signature, "1700000000", "nonce123", echostr) == "8437261593"


def test_wechatpy_agrees_on_the_official_vectors():
    assert wechatpy_wecom().check_signature(URL_SIGNATURE, URL_TIMESTAMP, URL_NONCE, URL_ECHOSTR) == URL_PLAINTEXT
    decrypted = wechatpy_official_account().decrypt_message(
        {"Encrypt": MP_MSG_ENCRYPT}, MP_MSG_SIGNATURE, MP_MSG_TIMESTAMP, MP_MSG_NONCE
    )
    assert decrypted == official_account().decrypt(MP_MSG_ENCRYPT)
