"""Authentication, roles, CSRF, sessions, rate limiting and the audit log."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from web_helpers import PASSWORD, WebEnv, bearer, fire

from watchkeeper.web.authdb import AuthDB, AuthError, Role
from watchkeeper.web.passwords import hash_password, verify_password


def login(client: TestClient, user: str, password: str = PASSWORD) -> str:
    """Log in through the form; returns the page's CSRF token."""
    form = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token
    r = client.post(
        "/login",
        data={
            "username": user,
            "password": password,
            "csrf_token": token.group(1),
            "next": "/alerts",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/alerts"
    page = client.get("/alerts")
    csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text)
    assert csrf
    return csrf.group(1)


def test_passwords_are_salted_scrypt_hashes() -> None:
    a, b = hash_password("s3cret-password"), hash_password("s3cret-password")
    assert a != b
    assert a.startswith("scrypt$")
    assert verify_password("s3cret-password", a)
    assert not verify_password("s3cret-passwore", a)
    assert not verify_password("x", "garbage")


def test_database_stores_only_hashes(web_env: WebEnv) -> None:
    raw = web_env.db.path.read_bytes()
    assert PASSWORD.encode() not in raw
    for token in web_env.tokens.values():
        assert token.encode() not in raw
    assert oct(web_env.db.path.stat().st_mode & 0o777) == "0o600"


def test_initial_admin_only_when_no_user(tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = AuthDB(tmp_path / "web.db")
    password = db.ensure_initial_admin()
    assert password
    assert len(password) >= 20
    assert db.check_password("admin", password) is not None
    assert db.ensure_initial_admin() is None
    with pytest.raises(AuthError, match="last admin"):
        db.remove_user("admin")


def test_everything_but_liveness_needs_authentication(client: TestClient) -> None:
    assert client.get("/livez").status_code == 200
    assert client.get("/readyz").json() == {"status": "pass"}
    for path in (
        "/api/v1/query?query=up",
        "/api/v1/labels",
        "/api/wk/v1/alerts",
        "/metrics",
        "/api/openapi.json",
        "/api/wk/v1/users",
    ):
        r = client.get(path)
        assert r.status_code == 401, path
        assert r.headers["www-authenticate"].startswith("Bearer")
    r = client.get("/alerts", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=%2Falerts"


def test_prometheus_errors_use_its_envelope(client: TestClient) -> None:
    r = client.get("/api/v1/labels")
    assert r.json()["status"] == "error"
    assert r.json()["errorType"] == "unauthorized"


def test_roles_are_enforced(client: TestClient, web_env: WebEnv) -> None:
    assert client.get("/api/wk/v1/users", headers=bearer(web_env, "viewer")).status_code == 403
    assert client.get("/api/wk/v1/users", headers=bearer(web_env, "operator")).status_code == 403
    users = client.get("/api/wk/v1/users", headers=bearer(web_env, "admin")).json()
    assert {u["username"] for u in users} == {"viewer", "operator", "admin"}


def test_revoked_token_is_refused(client: TestClient, web_env: WebEnv) -> None:
    h = bearer(web_env, "viewer")
    assert client.get("/api/wk/v1/me", headers=h).json()["role"] == "viewer"
    token_id = next(t.id for t in web_env.db.tokens("viewer"))
    r = client.delete(f"/api/wk/v1/tokens/{token_id}", headers=bearer(web_env, "admin"))
    assert r.status_code == 200
    assert client.get("/api/wk/v1/me", headers=h).status_code == 401


def test_session_login_csrf_and_logout(client: TestClient, web_env: WebEnv) -> None:
    csrf = login(client, "operator")
    cookie = client.cookies.get("wk_session")
    assert cookie
    me = client.get("/api/wk/v1/me").json()
    assert me == {"username": "operator", "role": "operator", "via": "session"}
    fire(web_env, *_one_alert())
    fp = client.get("/api/wk/v1/alerts").json()[0]["fingerprint"]
    # A cookie alone (what a cross-site form would send) is not enough.
    assert client.post(f"/api/wk/v1/alerts/{fp}/ack", json={}).status_code == 403
    r = client.post(
        f"/api/wk/v1/alerts/{fp}/ack", json={"comment": "on it"}, headers={"X-CSRF-Token": csrf}
    )
    assert r.status_code == 200
    assert r.json()["acknowledged"]["by"] == "operator"
    # The acknowledgement is in alerts.db, where the notifier and the CLI see it.
    assert web_env.alerts is not None
    assert web_env.alerts.get(fp).ack_by == "operator"
    r = client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303
    assert client.get("/api/wk/v1/me", cookies={"wk_session": cookie}).status_code == 401


def test_login_cookie_flags(client: TestClient) -> None:
    form = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token
    r = client.post(
        "/login",
        data={"username": "viewer", "password": PASSWORD, "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Secure" not in cookie  # plain HTTP on loopback; behind TLS it is set


def test_login_without_form_token_is_refused(client: TestClient) -> None:
    r = client.post("/login", data={"username": "admin", "password": PASSWORD})
    assert r.status_code == 403


def test_open_redirect_is_not_possible(client: TestClient) -> None:
    form = client.get("/login?next=//evil.example/")
    assert 'name="next" value="/"' in form.text


def test_login_rate_limit(client: TestClient, web_env: WebEnv) -> None:
    for _ in range(5):
        form = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
        r = client.post(
            "/login", data={"username": "admin", "password": "wrong password!", "csrf_token": token}
        )
        assert r.status_code == 401
    form = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    r = client.post("/login", data={"username": "admin", "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 429
    assert int(r.headers["retry-after"]) > 0
    actions = [e.action for e in web_env.db.audit_log()]
    assert actions.count("login.failed") == 5
    assert "login.throttled" in actions


def test_state_changes_are_audited(client: TestClient, web_env: WebEnv) -> None:
    admin = bearer(web_env, "admin")
    r = client.post(
        "/api/wk/v1/users", json={"username": "dana", "role": "operator"}, headers=admin
    )
    assert r.status_code == 201
    assert len(r.json()["password"]) >= 20
    assert web_env.db.user("dana").role is Role.OPERATOR  # type: ignore[union-attr]
    r = client.post(
        "/api/wk/v1/tokens", json={"name": "grafana", "username": "dana"}, headers=admin
    )
    assert r.status_code == 201
    assert r.json()["token"].startswith("wk_")
    assert client.delete("/api/wk/v1/users/dana", headers=admin).status_code == 204
    log = client.get("/api/wk/v1/audit", headers=admin).json()
    assert [e["action"] for e in log[:3]] == ["user.remove", "token.create", "user.add"]
    assert all(e["actor"] == "admin" and e["address"] for e in log[:3])
    assert r.json()["token"] not in str(log)


def _one_alert(annotation: str = "CPU is high"):  # type: ignore[no-untyped-def]
    from watchkeeper.web.alert_board import AlertView, GroupView, RuleView

    rule = RuleView(
        "HighCPU",
        "host_cpu_usage_percent > 90",
        "alerting",
        60.0,
        annotations={"summary": annotation},
    )
    group = GroupView("host", "rules.yml", 10.0, (rule,))
    alert = AlertView(
        {"alertname": "HighCPU", "instance": "web-1"},
        {"summary": annotation},
        "firing",
        1_700_000_000.0,
        97.5,
        "host",
    )
    return group, [alert]
