"""Salted fingerprints of secrets: how a plan tells "changed" without reading a secret.

The API stores only HMAC-SHA256(salt, secret) and returns the salt and the hash; the
client recomputes the hash from the secret it holds and compares.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets


def new_salt() -> str:
    return secrets.token_hex(16)


def fingerprint(secret: str, salt: str) -> str:
    return hmac.new(salt.encode(), secret.encode(), hashlib.sha256).hexdigest()


def matches(secret: str, salt: str, expected_hash: str) -> bool:
    return hmac.compare_digest(fingerprint(secret, salt), expected_hash)
