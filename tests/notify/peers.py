"""Real peers for the notification tests: an SMTP server and an HTTP receiver.

Both run in threads of their own and record what they accepted; tests wait
for deliveries on a condition variable, never by sleeping.
"""

from __future__ import annotations

import email
import email.policy
import json
import socket
import ssl
import threading
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Recorder:
    def __init__(self) -> None:
        self.items: list[Any] = []
        self.cond = threading.Condition()

    def add(self, item: Any) -> None:
        with self.cond:
            self.items.append(item)
            self.cond.notify_all()

    def wait_for(self, n: int, timeout: float = 30.0) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: len(self.items) >= n, timeout)


class HttpRequest:
    def __init__(self, path: str, headers: dict[str, str], body: bytes) -> None:
        self.path, self.headers, self.body = path, headers, body

    def json(self) -> Any:
        return json.loads(self.body)


class HttpSink(_Recorder):
    """Accepts POSTs on a loopback port; ``status`` is what it answers."""

    def __init__(self, port: int = 0) -> None:
        super().__init__()
        self.port = port
        self.status = 200
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> HttpSink:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                status = sink.status
                if 200 <= status < 300:
                    sink.add(
                        HttpRequest(
                            self.path, {k.lower(): v for k, v in self.headers.items()}, body
                        )
                    )
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        self.sink.add(msg)
        return "250 OK"


class SmtpSink(_Recorder):
    """aiosmtpd in a thread; optionally STARTTLS or TLS from the start, and AUTH.

    ``login``: (user, password) the server accepts; it then refuses mail from
    a client that did not log in, and (aiosmtpd's default) AUTH before TLS.
    """

    def __init__(
        self,
        port: int = 0,
        *,
        starttls: ssl.SSLContext | None = None,
        implicit_tls: ssl.SSLContext | None = None,
        login: tuple[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.port = port
        self.controller: Controller | None = None
        self.starttls, self.implicit_tls, self.login = starttls, implicit_tls, login
        #: (mechanism, user, accepted) for every AUTH attempt.
        self.auth_attempts: list[tuple[str, str, bool]] = []

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and self.login is not None
            and (data.login.decode(), data.password.decode()) == self.login
        )
        user = data.login.decode() if isinstance(data, LoginPassword) else "?"
        self.auth_attempts.append((mechanism, user, ok))
        return AuthResult(success=ok)

    def start(self) -> SmtpSink:
        if not self.port:
            self.port = free_port()
        kwargs: dict[str, Any] = {}
        if self.starttls is not None:
            kwargs.update(tls_context=self.starttls, require_starttls=True)
        if self.implicit_tls is not None:
            # The whole connection is TLS, which aiosmtpd's AUTH-needs-TLS check
            # does not see: let AUTH through.
            kwargs.update(
                ssl_context=self.implicit_tls, server_hostname="localhost", auth_require_tls=False
            )
        if self.login is not None:
            kwargs.update(authenticator=self._authenticate, auth_required=True)
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port, **kwargs)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def smarthost(self) -> str:
        return f"127.0.0.1:{self.port}"
