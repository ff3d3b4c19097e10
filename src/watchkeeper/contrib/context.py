"""The request being measured, reachable from database and cache hooks.

A ``ContextVar`` rather than a thread-local: async views and the threads
``sync_to_async`` runs their ORM calls in share the request's context.
"""

from __future__ import annotations

from contextvars import ContextVar

from watchkeeper.contrib.http import RequestStats

__all__ = ["current_request"]

current_request: ContextVar[RequestStats | None] = ContextVar(
    "watchkeeper_current_request", default=None
)
