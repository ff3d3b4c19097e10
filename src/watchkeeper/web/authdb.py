"""Users, API tokens, sessions and the audit log, in ``web.db``.

Acknowledgements are not here: they live in alerts.db with the rest of the
alert lifecycle (``AlertService``), the one store the notifier and CLI share.

A small SQLite file beside the store (never inside the metrics store: those
are different data with a different life). Only hashes of passwords, tokens
and session ids are stored, so a copy of the file logs nobody in. One
connection shared under a lock: every operation is a few rows.
"""

from __future__ import annotations

import enum
import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from watchkeeper.web.passwords import (
    MIN_PASSWORD_LENGTH,
    dummy_hash,
    generate_password,
    generate_token,
    hash_password,
    hash_token,
    verify_password,
)

__all__ = [
    "AuditEntry",
    "AuthDB",
    "AuthError",
    "Role",
    "Session",
    "TokenInfo",
    "User",
]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at REAL NOT NULL,
    last_used_at REAL,
    revoked_at REAL
);
CREATE TABLE IF NOT EXISTS sessions (
    id_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    address TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT '{}',
    address TEXT NOT NULL DEFAULT ''
);
"""


class Role(enum.StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


_RANK = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.ADMIN: 2}


class AuthError(ValueError):
    """A refused user/token operation; the message says why (safe to show)."""


@dataclass(frozen=True, slots=True)
class User:
    id: int
    username: str
    role: Role
    created_at: float


@dataclass(frozen=True, slots=True)
class TokenInfo:
    id: int
    username: str
    name: str
    created_at: float
    last_used_at: float | None
    revoked_at: float | None


@dataclass(frozen=True, slots=True)
class Session:
    user: User
    csrf: str
    expires_at: float


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: float
    actor: str
    action: str
    target: str
    detail: dict[str, Any]
    address: str


def _valid_username(name: str) -> str:
    name = name.strip()
    if not (1 <= len(name) <= 64) or not all(c.isalnum() or c in "._-@" for c in name):
        raise AuthError("user names are 1-64 letters, digits or . _ - @")
    return name


def _valid_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AuthError(f"passwords need at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > 1024:
        raise AuthError("passwords are at most 1024 characters")
    return password


class AuthDB:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        self._db.execute("PRAGMA foreign_keys = ON")
        if str(path) != ":memory:":
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
        self._db.executescript(_SCHEMA)
        if str(path) != ":memory:":
            # Hashes only, but still nobody else's business.
            self.path.chmod(0o600)

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            else:
                self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- users ---------------------------------------------------------------

    def add_user(self, username: str, password: str, role: Role | str) -> User:
        username = _valid_username(username)
        role = _role(role)
        hashed = hash_password(_valid_password(password))
        now = time.time()
        try:
            with self._tx() as db:
                cur = db.execute(
                    "INSERT INTO users (username, password_hash, role, created_at)"
                    " VALUES (?, ?, ?, ?)",
                    (username, hashed, role.value, now),
                )
        except sqlite3.IntegrityError:
            raise AuthError(f"user {username!r} already exists") from None
        return User(int(cur.lastrowid or 0), username, role, now)

    def user(self, username: str) -> User | None:
        with self._lock:
            row = self._db.execute(
                "SELECT id, username, role, created_at FROM users WHERE username = ?", (username,)
            ).fetchone()
        return _user(row) if row else None

    def users(self) -> list[User]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, username, role, created_at FROM users ORDER BY username"
            ).fetchall()
        return [_user(r) for r in rows]

    def count_users(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM users").fetchone()[0])

    def set_password(self, username: str, password: str) -> None:
        hashed = hash_password(_valid_password(password))
        with self._tx() as db:
            cur = db.execute(
                "UPDATE users SET password_hash = ? WHERE username = ?", (hashed, username)
            )
            if cur.rowcount == 0:
                raise AuthError(f"no user {username!r}")
            # A new password ends every open session of that user.
            db.execute(
                "DELETE FROM sessions WHERE user_id = (SELECT id FROM users WHERE username = ?)",
                (username,),
            )

    def set_role(self, username: str, role: Role | str) -> None:
        role = _role(role)
        with self._tx() as db:
            self._keep_an_admin(db, username, role)
            cur = db.execute("UPDATE users SET role = ? WHERE username = ?", (role.value, username))
            if cur.rowcount == 0:
                raise AuthError(f"no user {username!r}")

    def remove_user(self, username: str) -> None:
        with self._tx() as db:
            self._keep_an_admin(db, username, None)
            cur = db.execute("DELETE FROM users WHERE username = ?", (username,))
            if cur.rowcount == 0:
                raise AuthError(f"no user {username!r}")

    @staticmethod
    def _keep_an_admin(db: sqlite3.Connection, username: str, new_role: Role | None) -> None:
        if new_role is Role.ADMIN:
            return
        admins = [r[0] for r in db.execute("SELECT username FROM users WHERE role = 'admin'")]
        if admins == [username]:
            raise AuthError(f"{username!r} is the last admin; add another admin first")

    def check_password(self, username: str, password: str) -> User | None:
        """The user if the password is right; None otherwise (same time either way)."""
        with self._lock:
            row = self._db.execute(
                "SELECT id, username, role, created_at, password_hash FROM users"
                " WHERE username = ?",
                (username,),
            ).fetchone()
        if row is None:
            verify_password(password, dummy_hash())
            return None
        return _user(row[:4]) if verify_password(password, row[4]) else None

    def ensure_initial_admin(self, username: str = "admin") -> str | None:
        """Create ``username`` as admin with a random password if there is no user at all.

        Returns the password (to be shown once) or None when users exist.
        """
        if self.count_users():
            return None
        password = generate_password()
        try:
            self.add_user(username, password, Role.ADMIN)
        except AuthError:  # another process created it in between
            return None
        return password

    # -- API tokens ----------------------------------------------------------

    def create_token(self, username: str, name: str) -> str:
        """A new token for ``username``; the token itself is returned once and never stored."""
        name = name.strip()
        if not 1 <= len(name) <= 100:
            raise AuthError("token names are 1-100 characters")
        token = generate_token()
        with self._tx() as db:
            row = db.execute("SELECT id FROM users WHERE username = ?", (username,)).fetchone()
            if row is None:
                raise AuthError(f"no user {username!r}")
            db.execute(
                "INSERT INTO tokens (user_id, name, token_hash, created_at) VALUES (?, ?, ?, ?)",
                (row[0], name, hash_token(token), time.time()),
            )
        return token

    def tokens(self, username: str | None = None) -> list[TokenInfo]:
        sql = (
            "SELECT t.id, u.username, t.name, t.created_at, t.last_used_at, t.revoked_at"
            " FROM tokens t JOIN users u ON u.id = t.user_id"
        )
        args: tuple[Any, ...] = ()
        if username is not None:
            sql += " WHERE u.username = ?"
            args = (username,)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY t.id", args).fetchall()
        return [TokenInfo(*r) for r in rows]

    def revoke_token(self, token_id: int) -> TokenInfo:
        with self._tx() as db:
            cur = db.execute(
                "UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                (time.time(), token_id),
            )
            if cur.rowcount == 0:
                raise AuthError(f"no active token with id {token_id}")
        return next(t for t in self.tokens() if t.id == token_id)

    def user_for_token(self, token: str) -> User | None:
        now = time.time()
        with self._lock:
            row = self._db.execute(
                "SELECT u.id, u.username, u.role, u.created_at, t.id, t.last_used_at FROM tokens t"
                " JOIN users u ON u.id = t.user_id"
                " WHERE t.token_hash = ? AND t.revoked_at IS NULL",
                (hash_token(token),),
            ).fetchone()
        if row is None:
            return None
        if row[5] is None or row[5] < now - 60:
            # "Last used" to the minute: a write per request would tax every API call.
            with self._tx() as db:
                db.execute("UPDATE tokens SET last_used_at = ? WHERE id = ?", (now, row[4]))
        return _user(row[:4])

    # -- sessions --------------------------------------------------------------

    def create_session(self, user: User, lifetime_s: float, address: str = "") -> tuple[str, str]:
        """A new session: ``(session id for the cookie, CSRF token)``."""
        sid = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        now = time.time()
        with self._tx() as db:
            db.execute("DELETE FROM sessions WHERE expires_at < ?", (now,))
            db.execute(
                "INSERT INTO sessions (id_hash, user_id, csrf, created_at, expires_at, address)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (hash_token(sid), user.id, csrf, now, now + lifetime_s, address),
            )
        return sid, csrf

    def session(self, sid: str) -> Session | None:
        with self._lock:
            row = self._db.execute(
                "SELECT u.id, u.username, u.role, u.created_at, s.csrf, s.expires_at"
                " FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = ?",
                (hash_token(sid),),
            ).fetchone()
        if row is None or row[5] < time.time():
            return None
        return Session(_user(row[:4]), row[4], row[5])

    def end_session(self, sid: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM sessions WHERE id_hash = ?", (hash_token(sid),))

    # -- audit log ---------------------------------------------------------

    def audit(
        self,
        actor: str,
        action: str,
        target: str = "",
        detail: dict[str, Any] | None = None,
        address: str = "",
    ) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO audit (at, actor, action, target, detail, address)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (time.time(), actor, action, target, json.dumps(detail or {}), address),
            )

    def audit_log(self, limit: int = 100, before_id: int | None = None) -> list[AuditEntry]:
        sql = "SELECT id, at, actor, action, target, detail, address FROM audit"
        args: tuple[Any, ...] = ()
        if before_id is not None:
            sql += " WHERE id < ?"
            args = (before_id,)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY id DESC LIMIT ?", (*args, limit)).fetchall()
        return [AuditEntry(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), r[6]) for r in rows]


def _role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise AuthError(f"unknown role {role!r}: use viewer, operator or admin") from None


def _user(row: Any) -> User:
    return User(int(row[0]), str(row[1]), Role(row[2]), float(row[3]))
