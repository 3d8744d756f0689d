"""Feishu's event encryption and request signature, for adapters.feishu.

Encrypted events carry `{"encrypt": base64(iv + AES-256-CBC(sha256(encrypt_key), iv, PKCS#7(json)))}`;
every request with an Encrypt Key is signed: sha256(timestamp + nonce + encrypt_key + raw body), hex.
"""

from __future__ import annotations

import base64
import binascii
import hashlib

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


def signature(timestamp: str, nonce: str, encrypt_key: str, body: bytes) -> str:
    """The X-Lark-Signature value for `body`."""
    return hashlib.sha256((timestamp + nonce + encrypt_key).encode() + body).hexdigest()


def decrypt(encrypt_key: str, encrypted: str) -> bytes:
    """Feishu's `encrypt` field in plain bytes; ValueError when it is not ours or not well-formed."""
    try:
        data = base64.b64decode(encrypted, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not base64") from None
    if len(data) < 32 or len(data) % 16:
        raise ValueError("wrong ciphertext length")
    key = hashlib.sha256(encrypt_key.encode()).digest()
    decryptor = Cipher(algorithms.AES(key), modes.CBC(data[:16])).decryptor()
    unpadder = padding.PKCS7(128).unpadder()
    return unpadder.update(decryptor.update(data[16:]) + decryptor.finalize()) + unpadder.finalize()
