"""WeChat's callback message crypto, one implementation for three platforms.

WeCom (企业微信 / 微信客服), Official Accounts (公众号, safe mode) and WeChat Shop all use the same scheme,
so their adapters share this module instead of each carrying a copy:

- signature: SHA-1 hex of the sorted, concatenated token, timestamp, nonce and ciphertext (`msg_signature`);
  Official Accounts in plain mode sign token, timestamp and nonce only.
- ciphertext: base64(AES-256-CBC(random(16) + msg_len(4, big endian) + msg + receive_id)), where
  key = b64decode(EncodingAESKey + "="), IV = key[:16], padded PKCS#7-style to 32-byte blocks.
- receive_id: the corpid for WeCom, the appid for Official Accounts and WeChat Shop.

Always `verify` before `decrypt`: the signature is the only integrity check CBC gets here.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from adapters.base import WebhookReply, WebhookRequest
from adapters.errors import PayloadError, SignatureError

BLOCK_SIZE = 32  # WeChat pads to 32 bytes, not to the AES block of 16
_RANDOM_LEN = 16
_HEADER_LEN = _RANDOM_LEN + 4


def signature(token: str, timestamp: str, nonce: str, encrypted: str = "") -> str:
    """SHA-1 hex of the sorted, concatenated non-empty parts."""
    parts = sorted(part for part in (token, timestamp, nonce, encrypted) if part)
    return hashlib.sha1("".join(parts).encode()).hexdigest()


def check_signature(platform: str, token: str, given: str, timestamp: str, nonce: str) -> None:
    """The plain `signature` (token, timestamp, nonce) of URL verification and plain-mode callbacks."""
    if not (given and timestamp and nonce):
        raise SignatureError(platform, "missing signature, timestamp or nonce")
    if not hmac.compare_digest(signature(token, timestamp, nonce).encode(), given.encode()):
        raise SignatureError(platform, "signature does not match")


def check_timestamp(platform: str, timestamp: str, *, now: float, tolerance: float) -> None:
    """Refuse a callback whose `timestamp` is not unix seconds within `tolerance` of `now` (replays)."""
    try:
        skew = abs(now - int(timestamp))
    except ValueError:
        raise SignatureError(platform, "timestamp is missing or not unix seconds") from None
    if skew > tolerance:
        raise SignatureError(platform, f"timestamp is {int(skew)} s off (limit {int(tolerance)} s)")


def pad(data: bytes) -> bytes:
    """PKCS#7 padding to 32-byte blocks: 1..32 bytes, each holding the count."""
    count = BLOCK_SIZE - len(data) % BLOCK_SIZE
    return data + bytes([count]) * count


def _aes_key(encoding_aes_key: str) -> bytes:
    """The 32-byte AES key behind a 43-character EncodingAESKey; ValueError when malformed."""
    if len(encoding_aes_key) != 43:
        raise ValueError("EncodingAESKey must be 43 characters")
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except binascii.Error as exc:
        raise ValueError("EncodingAESKey is not base64") from exc
    if len(key) != 32:
        raise ValueError("EncodingAESKey must decode to 32 bytes")
    return key


class WeChatCrypto:
    """Signs, verifies, encrypts and decrypts callbacks for one token / EncodingAESKey / receive id."""

    def __init__(self, token: str, encoding_aes_key: str, receive_id: str, *, platform: str = "wechat") -> None:
        self.token = token
        self.receive_id = receive_id
        self.platform = platform
        self._key = _aes_key(encoding_aes_key)

    def _cipher(self) -> Cipher:
        return Cipher(algorithms.AES(self._key), modes.CBC(self._key[:16]))

    def _reject(self, reason: str) -> PayloadError:
        return PayloadError(self.platform, reason, field="Encrypt")

    def verify(self, msg_signature: str, timestamp: str, nonce: str, encrypted: str) -> None:
        """Raise SignatureError unless `msg_signature` signs `encrypted` with our token."""
        expected = signature(self.token, timestamp, nonce, encrypted)
        if not hmac.compare_digest(expected.encode(), msg_signature.encode()):
            raise SignatureError(self.platform, "msg_signature mismatch")

    def decrypt(self, encrypted_b64: str) -> str:
        """The plaintext inside `encrypted_b64`; PayloadError with the reason when it is malformed."""
        try:
            data = base64.b64decode(encrypted_b64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise self._reject("ciphertext is not valid base64") from exc
        if not data or len(data) % 16:
            raise self._reject(f"ciphertext length {len(data)} is not a positive multiple of 16")
        decryptor = self._cipher().decryptor()
        return self._unpack(self._unpad(decryptor.update(data) + decryptor.finalize()))

    def _unpad(self, padded: bytes) -> bytes:
        count = padded[-1]
        if not 1 <= count <= min(BLOCK_SIZE, len(padded)) or padded[-count:] != bytes([count]) * count:
            raise self._reject("bad padding")
        return padded[:-count]

    def _unpack(self, body: bytes) -> str:
        if len(body) < _HEADER_LEN:
            raise self._reject("decrypted data is too short")
        msg_len = int.from_bytes(body[_RANDOM_LEN:_HEADER_LEN], "big")
        end = _HEADER_LEN + msg_len
        if end > len(body):
            raise self._reject(f"message length {msg_len} runs beyond the data")
        if body[end:] != self.receive_id.encode():
            raise self._reject("receive id mismatch")
        try:
            return body[_HEADER_LEN:end].decode()
        except UnicodeDecodeError as exc:
            raise self._reject("message is not UTF-8") from exc

    def encrypt(self, plaintext: str, *, nonce_bytes: bytes | None = None) -> str:
        """Base64 ciphertext of `plaintext`; `nonce_bytes` (16 bytes) replaces the random prefix in tests."""
        prefix = os.urandom(_RANDOM_LEN) if nonce_bytes is None else nonce_bytes
        if len(prefix) != _RANDOM_LEN:
            raise ValueError("nonce_bytes must be 16 bytes")
        msg = plaintext.encode()
        body = prefix + len(msg).to_bytes(4, "big") + msg + self.receive_id.encode()
        encryptor = self._cipher().encryptor()
        return base64.b64encode(encryptor.update(pad(body)) + encryptor.finalize()).decode()

    def encrypt_reply(self, plaintext: str, timestamp: str, nonce: str) -> dict[str, str]:
        """The fields of an encrypted passive reply: Encrypt, MsgSignature, TimeStamp, Nonce."""
        encrypted = self.encrypt(plaintext)
        return {
            "Encrypt": encrypted,
            "MsgSignature": signature(self.token, timestamp, nonce, encrypted),
            "TimeStamp": timestamp,
            "Nonce": nonce,
        }

    def verify_url(self, msg_signature: str, timestamp: str, nonce: str, echostr: str) -> str:
        """The URL-verification handshake: check the signature, then return the decrypted echostr."""
        self.verify(msg_signature, timestamp, nonce, echostr)
        return self.decrypt(echostr)


def echo_verification(channel: str, token: str, request: WebhookRequest) -> WebhookReply | None:
    """Official Accounts' and WeChat Shop's URL check: a signed GET whose echostr is echoed back as is."""
    if request.method != "GET":
        return None
    query = request.query
    echostr = query.get("echostr", "")
    if not echostr:
        raise SignatureError(channel, "URL verification without echostr")
    given, timestamp, nonce = query.get("signature", ""), query.get("timestamp", ""), query.get("nonce", "")
    check_signature(channel, token, given, timestamp, nonce)
    return WebhookReply(body=echostr.encode(), media_type="text/plain")
