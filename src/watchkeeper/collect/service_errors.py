"""Turning driver exceptions into one-line reasons a person can act on.

The run loop logs a failed collection's message and the health endpoint shows
it as ``output``, so ``connection refused to 127.0.0.1:5433`` is worth more
than a driver's multi-line text. Messages never contain credentials: only the
target (host:port) chosen by the caller is added.
"""

from __future__ import annotations

import errno
import re
import socket
import ssl

__all__ = ["CollectionError", "reason"]


class CollectionError(Exception):
    """A collection or check failed for the reason in the message."""


_PATTERNS: tuple[tuple[re.Pattern[str], str | None], ...] = (
    # Specific server answers first: they are the most useful.
    (re.compile(r"canceling statement due to statement timeout", re.I), None),
    (re.compile(r"password authentication failed for user \"?[^\"\s]+\"?", re.I), None),
    (re.compile(r"permission denied for [^\n.]+", re.I), None),
    (re.compile(r"role \"[^\"]+\" is not permitted to log in", re.I), None),
    (re.compile(r"role \"[^\"]+\" does not exist", re.I), None),
    (re.compile(r"database \"[^\"]+\" does not exist", re.I), None),
    (re.compile(r"access denied for user [^\n(]+", re.I), None),
    (re.compile(r"NOAUTH[^\n]*|WRONGPASS[^\n]*|invalid password", re.I), None),
    (re.compile(r"ACCESS_REFUSED[^\n]*", re.I), None),
    (re.compile(r"connection refused", re.I), "connection refused to {target}"),
    (re.compile(r"timed out|timeout expired", re.I), "timed out talking to {target}"),
    (
        re.compile(r"could not translate host name|name or service not known|nodename nor", re.I),
        "cannot resolve host of {target}",
    ),
)


def reason(exc: BaseException, target: str) -> str:
    """A short description of why talking to ``target`` failed."""
    if isinstance(exc, CollectionError):
        return str(exc)
    # Client libraries (httpx, kombu) wrap the socket error: the cause says more.
    cause = exc.__cause__ or exc.__context__
    depth = 0
    while cause is not None and depth < 5:
        if isinstance(cause, OSError) and (cause.errno or isinstance(cause, TimeoutError)):
            return reason(cause, target)
        cause = cause.__cause__ or cause.__context__
        depth += 1
    if isinstance(exc, ConnectionRefusedError):
        return f"connection refused to {target}"
    if isinstance(exc, TimeoutError | socket.timeout):
        return f"timed out talking to {target}"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve host of {target}: {exc.strerror}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error with {target}: {exc.reason or exc}"
    if isinstance(exc, OSError) and exc.errno in (errno.ECONNRESET, errno.EPIPE):
        return f"connection to {target} was reset"
    args: tuple[object, ...] = tuple(getattr(exc, "args", ()))
    if len(args) == 2 and isinstance(args[0], int) and isinstance(args[1], str):
        text = args[1]  # PyMySQL: (code, message)
    else:
        text = " ".join(str(exc).split())
    for pattern, template in _PATTERNS:
        match = pattern.search(text)
        if match:
            if template is None:
                return f"{match.group(0).rstrip('. ')} ({target})"
            return template.format(target=target)
    first = text.strip() or type(exc).__name__
    return f"{first} ({target})"
