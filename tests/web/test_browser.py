"""The dashboard in a real browser: Debian's Chromium driven by Playwright.

Logs in, checks the charts draw real data, that an alert raised while the
page is open appears without a reload, that an operator can acknowledge and
silence it (and expire the silence) and a viewer cannot, and that hostile
annotation text is shown as text.
Saves screenshots (under docs/images/ with WATCHKEEPER_UPDATE_SCREENSHOTS=1).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from web_helpers import PASSWORD, LiveServer, WebEnv, fire

from watchkeeper.web.alert_board import AlertView, GroupView, RuleView

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The README's screenshots are refreshed with WATCHKEEPER_UPDATE_SCREENSHOTS=1;
# otherwise they go to a temporary folder so a test run leaves the tree clean.
IMAGES = (
    Path(__file__).resolve().parents[2] / "docs" / "images"
    if os.environ.get("WATCHKEEPER_UPDATE_SCREENSHOTS") == "1"
    else Path(tempfile.mkdtemp(prefix="wk-screens-"))
)
HOSTILE = "<img src=x onerror=alert(1)> disk almost full"

pytestmark = pytest.mark.slow


def _require_browser() -> None:
    import os

    if shutil.which(CHROMIUM) is None and not os.path.exists(CHROMIUM):
        if os.environ.get("WATCHKEEPER_REQUIRE_SERVICES") == "1":
            pytest.fail("chromium not installed (apt-get install chromium)")
        pytest.skip("chromium not installed (apt-get install chromium)")


@pytest.fixture
def pw_browser() -> Iterator[object]:
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def _login(page, base: str, user: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/login")
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def _alert(annotation: str) -> tuple[GroupView, list[AlertView]]:
    rule = RuleView(
        "DiskAlmostFull",
        "host_disk_usage_percent > 70",
        "alerting",
        60.0,
        annotations={"summary": "{{ $labels.mountpoint }} is full"},
        health="ok",
    )
    group = GroupView("host", "host.rules.yml", 10.0, (rule,))
    alert = AlertView(
        {
            "alertname": "DiskAlmostFull",
            "instance": "web-1",
            "mountpoint": "/",
            "severity": "critical",
        },
        {"summary": annotation, "description": "Used space is above 70 %."},
        "firing",
        time.time() - 300,
        71.3,
        "host",
    )
    return group, [alert]


def test_dashboard_end_to_end(pw_browser, live_server: LiveServer, web_env: WebEnv) -> None:  # type: ignore[no-untyped-def]
    base = live_server.url
    errors: list[str] = []
    ctx = pw_browser.new_context(viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("dialog", lambda d: errors.append(f"dialog: {d.message}"))
    _login(page, base, "operator")

    # Charts draw real data: every canvas has non-background pixels.
    page.wait_for_selector("body[data-charts-ready='1']", timeout=15000)
    panels = page.locator("section.panel[data-panel]")
    assert panels.count() >= 5
    painted = page.evaluate(
        """() => Array.from(document.querySelectorAll('section.panel canvas')).map(c => {
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) n++;
            return n; })"""
    )
    assert painted
    assert all(n > 500 for n in painted), painted
    page.wait_for_selector("#live-status[data-state='ok']")
    IMAGES.mkdir(parents=True, exist_ok=True)

    # An alert raised now appears on the open alerts page without a reload.
    page.goto(f"{base}/alerts")
    page.wait_for_selector("#live-status[data-state='ok']")
    assert page.locator("#alerts-body tr").count() == 0
    page.evaluate("window.__notReloaded = true")
    fire(web_env, *_alert(HOSTILE))  # the board and the notifier, as the rule engine does
    row = page.locator("#alerts-body tr[data-fingerprint]")
    row.wait_for(timeout=10000)
    assert page.evaluate("window.__notReloaded") is True
    assert page.locator("#alert-count").inner_text() == "1"
    # Hostile text is text: no <img> element was created, the characters are visible.
    assert page.locator("#alerts-body img").count() == 0
    assert HOSTILE in row.locator(".annotations").inner_text()
    assert "▲ firing" in row.locator("td.state").inner_text()
    page.screenshot(path=str(IMAGES / "alerts.png"), full_page=True)

    # The operator acknowledges it (stored in alerts.db, where the notifier reads it).
    fp = _alert(HOSTILE)[1][0].fingerprint
    row.locator("button.ack").click()
    page.wait_for_selector("#alerts-body .acked")
    assert "acknowledged by operator" in page.locator("#alerts-body .acked").inner_text()
    assert web_env.alerts is not None
    assert web_env.alerts.get(fp).ack_by == "operator"

    # ... and silences it from the same row: the dialog offers the alert's labels.
    page.locator("#alerts-body button.silence").click()
    matchers = page.locator("#silence-matchers")
    matchers.wait_for(state="visible")
    assert 'alertname="DiskAlmostFull"' in matchers.input_value()
    assert 'mountpoint="/"' in matchers.input_value()
    page.fill("#silence-comment", "disk cleanup running <b>now</b>")
    page.click("#silence-form button[type=submit]")
    page.wait_for_selector("#alerts-body .muted")
    (silence,) = web_env.alerts.list_silences()
    assert silence.created_by == "operator"
    assert silence.comment == "disk cleanup running <b>now</b>"
    assert f"silenced ({silence.id})" in page.locator("#alerts-body .muted").inner_text()
    assert page.evaluate("window.__notReloaded") is True
    page.screenshot(path=str(IMAGES / "alerts-silenced.png"), full_page=True)

    # The silences page lists it (comment as text) and expires it.
    page.goto(f"{base}/silences")
    srow = page.locator(f"#silences-body tr[data-silence='{silence.id}']")
    assert "disk cleanup running <b>now</b>" in srow.inner_text()
    srow.locator("button.expire").click()
    page.wait_for_selector(f"#silences-body tr[data-silence='{silence.id}'].silence-expired")
    assert web_env.alerts.list_silences() == []

    # The overview shows the disk panel in the firing state (text, not only colour).
    page.goto(f"{base}/")
    page.wait_for_selector("body[data-charts-ready='1']")
    disk = page.locator("section.panel[data-panel='disk']")
    assert disk.get_attribute("data-state") == "firing"
    assert "firing" in disk.locator(".panel-state").inner_text()
    page.screenshot(path=str(IMAGES / "overview.png"), full_page=True)
    assert not errors, errors
    ctx.close()

    # A viewer sees the alert but cannot acknowledge it.
    web_env.alerts.unack(fp, by="test")
    vctx = pw_browser.new_context(viewport={"width": 390, "height": 844})  # phone
    vpage = vctx.new_page()
    _login(vpage, base, "viewer")
    vpage.goto(f"{base}/alerts")
    button = vpage.locator("#alerts-body button.ack")
    assert button.is_disabled()
    status = vpage.evaluate(
        """async (fp) => (await fetch('/api/wk/v1/alerts/' + fp + '/ack', {method: 'POST',
            headers: {'X-CSRF-Token': document.querySelector('meta[name=csrf-token]').content,
                      'Content-Type': 'application/json'}, body: '{}'})).status""",
        _alert(HOSTILE)[1][0].fingerprint,
    )
    assert status == 403
    vpage.goto(f"{base}/")
    vpage.wait_for_selector("body[data-charts-ready='1']")
    vpage.screenshot(path=str(IMAGES / "overview-phone.png"), full_page=False)
    vctx.close()
