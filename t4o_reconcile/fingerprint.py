"""Salted hashes, and how this process remembers which value the API compared.

The API keeps a secret only as a fingerprint keyed with a key that never leaves it, and
says whether a value is the stored one only when asked (``fingerprints:compare``); no
client can recompute a fingerprint. ``fingerprint``/``matches`` are the plain salted
HMAC the sandbox still uses for its token hashes and for fingerprints stored before it
had a key. ``compared_digest`` lets a live value carry which desired value the API's
answer was about, under a key of this process only (never written anywhere), so a value
that is not the one compared is never taken for it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

# Drawn per process: a compared digest means nothing outside it.
_PROCESS_KEY = secrets.token_bytes(32)


def new_salt() -> str:
    return secrets.token_hex(16)


def fingerprint(secret: str, salt: str) -> str:
    return hmac.new(salt.encode(), secret.encode(), hashlib.sha256).hexdigest()


def matches(secret: str, salt: str, expected_hash: str) -> bool:
    return hmac.compare_digest(fingerprint(secret, salt), expected_hash)


def compared_digest(value: str) -> bytes:
    return hmac.new(_PROCESS_KEY, value.encode(), hashlib.sha256).digest()
