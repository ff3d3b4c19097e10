"""Who is asking: sessions, bearer tokens, roles, CSRF and login rate limiting.

Every route declares the role it needs with ``Depends(auth.require(Role.X))``.
A request is identified by ``Authorization: Bearer wk_...`` (scripts, Grafana,
Prometheus) or by the session cookie (the browser). Cookie-authenticated
requests that change state must also carry the session's CSRF token (form
field ``csrf_token`` or header ``X-CSRF-Token``): a cookie is sent by the
browser on its own, a token the attacker's page cannot read is not.
"""

from __future__ import annotations

import hmac
import ipaddress
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from watchkeeper.config.web import WebAuthConfig
from watchkeeper.web.authdb import AuthDB, Role, User

__all__ = [
    "ANONYMOUS",
    "EMBEDDED_PRINCIPAL",
    "SESSION_COOKIE",
    "CsrfError",
    "Forbidden",
    "LoginLimiter",
    "LoginRequired",
    "Principal",
    "WebAuth",
]

SESSION_COOKIE = "wk_session"
#: ASGI scope key an in-process bridge (the Django integration) sets to a ``Principal``
#: it has authenticated itself. Servers build scopes from the wire and never set it.
EMBEDDED_PRINCIPAL = "watchkeeper.principal"
LOGIN_CSRF_COOKIE = "wk_login_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
_UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


class LoginRequired(Exception):
    """No (valid) credentials: pages redirect to the login form, the API answers 401."""


class Forbidden(Exception):
    """Authenticated but the role is too low (403)."""

    def __init__(self, needed: Role) -> None:
        super().__init__(f"this needs the {needed.value} role")
        self.needed = needed


class CsrfError(Exception):
    """A cookie-authenticated state change without the right CSRF token (403)."""


@dataclass(frozen=True, slots=True)
class Principal:
    user: User
    via: Literal["session", "token", "anonymous"]
    csrf: str | None = None

    @property
    def name(self) -> str:
        return self.user.username

    @property
    def role(self) -> Role:
        return self.user.role


ANONYMOUS = Principal(User(0, "anonymous", Role.VIEWER, 0.0), "anonymous")


class LoginLimiter:
    """At most ``attempts`` failed logins per key in a sliding ``window_s``.

    Keyed by client address and by user name separately, so neither one
    address guessing many names nor many addresses guessing one name get far.
    In memory: a restart forgets, which costs an attacker a restart per round.
    """

    def __init__(self, attempts: int, window_s: float, max_keys: int = 10_000) -> None:
        self.attempts = attempts
        self.window_s = window_s
        self.max_keys = max_keys
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float]:
        q = self._failures.get(key)
        if q is None:
            if len(self._failures) >= self.max_keys:
                self._failures.pop(next(iter(self._failures)))
            q = self._failures[key] = deque()
        while q and q[0] <= now - self.window_s:
            q.popleft()
        return q

    def retry_after(self, *keys: str) -> float:
        """Seconds until a login may be tried for all ``keys`` (0 = now)."""
        now = time.monotonic()
        wait = 0.0
        for key in keys:
            q = self._recent(key, now)
            if len(q) >= self.attempts:
                wait = max(wait, q[0] + self.window_s - now)
        return wait

    def failed(self, *keys: str) -> None:
        now = time.monotonic()
        for key in keys:
            self._recent(key, now).append(now)

    def succeeded(self, *keys: str) -> None:
        for key in keys:
            self._failures.pop(key, None)


class WebAuth:
    def __init__(
        self, db: AuthDB, config: WebAuthConfig, trusted_proxies: list[str] | None = None
    ) -> None:
        self.db = db
        self.config = config
        self.limiter = LoginLimiter(config.login_attempts, config.login_window)
        self._proxies = [ipaddress.ip_network(p, strict=False) for p in trusted_proxies or []]

    # -- where the request comes from --------------------------------------

    def _from_proxy(self, request: Request) -> bool:
        peer = request.client.host if request.client else ""
        try:
            addr = ipaddress.ip_address(peer)
        except ValueError:
            return False
        return any(addr in net for net in self._proxies)

    def client_address(self, request: Request) -> str:
        peer = request.client.host if request.client else ""
        if self._from_proxy(request):
            forwarded = request.headers.get("x-forwarded-for", "")
            first = forwarded.split(",")[0].strip()
            if first:
                return first[:100]
        return peer

    def is_https(self, request: Request) -> bool:
        if request.url.scheme == "https":
            return True
        return self._from_proxy(request) and (
            request.headers.get("x-forwarded-proto", "").lower() == "https"
        )

    def secure_cookies(self, request: Request) -> bool:
        mode = self.config.secure_cookies
        return mode == "always" or (mode == "auto" and self.is_https(request))

    # -- identification ---------------------------------------------------

    async def identify(self, request: Request) -> Principal | None:
        """The principal behind the request's credentials, or None (cached per request)."""
        embedded = request.scope.get(EMBEDDED_PRINCIPAL)
        if isinstance(embedded, Principal):
            request.state.principal = embedded
            return embedded
        cached = getattr(request.state, "principal", False)
        if cached is not False:
            return cached if isinstance(cached, Principal) else None
        principal: Principal | None = None
        header = request.headers.get("authorization", "")
        if header[:7].lower() == "bearer ":
            user = await run_in_threadpool(self.db.user_for_token, header[7:].strip())
            principal = Principal(user, "token") if user else None
        else:
            sid = request.cookies.get(SESSION_COOKIE)
            if sid:
                session = await run_in_threadpool(self.db.session, sid)
                if session is not None:
                    principal = Principal(session.user, "session", session.csrf)
        request.state.principal = principal
        return principal

    def require(
        self, role: Role, *, public: Callable[[], bool] | None = None
    ) -> Callable[[Request], Awaitable[Principal]]:
        """A dependency: the principal, if it has at least ``role`` (and passed CSRF).

        ``public`` (read when the request arrives) lets anonymous requests in
        as viewers, for ``/metrics`` and the Prometheus API when configured.
        """

        async def dependency(request: Request) -> Principal:
            principal = await self.identify(request)
            if principal is None:
                if public is not None and public():
                    return ANONYMOUS
                raise LoginRequired()
            if not principal.role.allows(role):
                raise Forbidden(role)
            if principal.via == "session" and request.method in _UNSAFE:
                await self.check_csrf(request, principal)
            return principal

        return dependency

    async def check_csrf(self, request: Request, principal: Principal) -> None:
        sent = request.headers.get(CSRF_HEADER)
        if sent is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")
        ):
            value = (await request.form()).get(CSRF_FIELD)
            sent = value if isinstance(value, str) else None
        if not sent or not principal.csrf or not hmac.compare_digest(sent, principal.csrf):
            raise CsrfError("missing or wrong CSRF token; reload the page and try again")

    def audit(
        self,
        request: Request,
        principal: Principal,
        action: str,
        target: str = "",
        detail: dict[str, object] | None = None,
    ) -> None:
        """Record a state-changing action: who, what, when, from where."""
        self.db.audit(principal.name, action, target, detail, self.client_address(request))
