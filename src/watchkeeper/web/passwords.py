"""Password and token hashing.

Passwords use scrypt (memory-hard, in the standard library, so no native
dependency to build); each hash carries its own parameters and salt so they
can be raised later without breaking old hashes. API tokens and session ids
are 256-bit random values: a plain SHA-256 of them is enough (there is
nothing to brute-force), and it lets a request be checked by one indexed
lookup.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets

__all__ = [
    "dummy_hash",
    "generate_password",
    "generate_token",
    "hash_password",
    "hash_token",
    "verify_password",
]

# n=2**15, r=8: ~32 MiB and ~60 ms per hash on this class of machine.
_N, _R, _P = 1 << 15, 8, 1
_MAXMEM = 64 * 1024 * 1024
TOKEN_PREFIX = "wk_"
#: Shortest password accepted from a person.
MIN_PASSWORD_LENGTH = 10


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str) -> str:
    """``scrypt$n$r$p$salt$hash``."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, maxmem=_MAXMEM)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """Constant-time check of ``password`` against a stored hash; False on a malformed hash."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = _unb64(digest)
        got = hashlib.scrypt(
            password.encode(),
            salt=_unb64(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=_MAXMEM,
            dklen=len(expected),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


@functools.cache
def dummy_hash() -> str:
    """A hash to verify against when the user does not exist, so that a login for
    an unknown name takes as long as one with a wrong password."""
    return hash_password(secrets.token_urlsafe(16))


def generate_password() -> str:
    """A random password for people to copy: 20 URL-safe characters (~120 bits)."""
    return secrets.token_urlsafe(15)


def generate_token() -> str:
    """A new API token: ``wk_`` and 43 URL-safe characters (256 bits)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
