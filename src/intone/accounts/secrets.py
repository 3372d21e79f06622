"""Making secrets (API keys, single-use tokens) and the hashes they are stored and looked up by.

The secrets are 192 random bits, so one unsalted SHA-256 is enough: there is nothing to guess that a
slow hash would protect, and a lookup stays one indexed read.
"""

from __future__ import annotations

import hashlib
import secrets

KEY_PREFIX = "sk_"
TOKEN_PREFIX = "sutkn_"


def new_secret(prefix: str) -> str:
    return prefix + secrets.token_hex(24)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def hint(secret: str) -> str:
    """Enough of a key to tell it apart in a listing, not enough to use it."""
    return f"{secret[:7]}…{secret[-4:]}"


def new_id(prefix: str) -> str:
    return prefix + secrets.token_hex(8)
