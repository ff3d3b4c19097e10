"""The Prometheus HTTP API: envelope, parameters, error types."""

from __future__ import annotations

from fastapi.testclient import TestClient
from web_helpers import WebEnv, bearer


def _get(client: TestClient, env: WebEnv, path: str, **params: object):  # type: ignore[no-untyped-def]
    return client.get(path, params=params, headers=bearer(env, "viewer"))


def test_instant_query_vector(client: TestClient, web_env: WebEnv) -> None:
    r = _get(client, web_env, "/api/v1/query", query="host_load1", time=web_env.now_ms / 1000)
    body = r.json()
    assert r.status_code == 200
    assert body["status"] == "success"
    assert body["data"]["resultType"] == "vector"
    [sample] = body["data"]["result"]
    assert sample["metric"] == {"__name__": "host_load1", "instance": "web-1"}
    assert isinstance(sample["value"][1], str)
    float(sample["value"][1])


def test_rfc3339_and_unix_times_agree(client: TestClient, web_env: WebEnv) -> None:
    import datetime as dt

    t = web_env.now_ms // 1000 - 600
    iso = dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000000000Z")
    a = _get(client, web_env, "/api/v1/query", query="host_load1", time=t).json()
    b = _get(client, web_env, "/api/v1/query", query="host_load1", time=iso).json()
    assert a == b


def test_query_range_matrix_and_post_form(client: TestClient, web_env: WebEnv) -> None:
    end = web_env.now_ms / 1000
    params = {
        "query": 'host_disk_usage_percent{mountpoint="/"}',
        "start": end - 3600,
        "end": end,
        "step": "1m",
    }
    r = _get(client, web_env, "/api/v1/query_range", **params)
    data = r.json()["data"]
    assert data["resultType"] == "matrix"
    values = data["result"][0]["values"]
    assert len(values) == 61
    assert values[1][0] - values[0][0] == 60
    posted = client.post("/api/v1/query_range", data=params, headers=bearer(web_env, "viewer"))
    assert posted.json() == r.json()


def test_a_wide_range_answer_is_streamed_and_complete(client: TestClient, web_env: WebEnv) -> None:
    """More series than one piece (16) go out in pieces; the text is the whole matrix."""
    import json

    from watchkeeper.model import Labels, Sample
    from watchkeeper.query import range_query
    from watchkeeper.web.prom_format import matrix_json

    end = web_env.now_ms - web_env.now_ms % 1000
    web_env.store.append(
        [
            Sample("wide_gauge", Labels({"i": f"{i:02d}"}), end - k * 15_000, i + k / 7)
            for i in range(40)
            for k in range(240)
        ]
    )
    params = {"query": "wide_gauge", "start": end / 1000 - 3600, "end": end / 1000, "step": "30"}
    r = _get(client, web_env, "/api/v1/query_range", **params)
    assert r.status_code == 200
    assert "content-length" not in r.headers  # sent in pieces
    result = range_query(web_env.store, "wide_gauge", end - 3_600_000, end, 30_000)
    want = matrix_json((dict(s.labels), s.timestamps, s.values) for s in result.series)
    assert r.json() == {
        "status": "success",
        "data": {"resultType": "matrix", "result": json.loads(want)},
    }
    assert len(r.json()["data"]["result"]) == 40
    small = _get(
        client, web_env, "/api/v1/query_range", **{**params, "query": 'wide_gauge{i="01"}'}
    )
    assert small.headers["content-length"] == str(len(small.content))  # one piece: not streamed


def test_bad_input_is_400_bad_data(client: TestClient, web_env: WebEnv) -> None:
    cases = [
        ("/api/v1/query", {"query": "sum("}),
        ("/api/v1/query", {}),
        ("/api/v1/query", {"query": "up", "time": "yesterday"}),
        ("/api/v1/query_range", {"query": "up", "start": 0, "end": 10, "step": "0"}),
        ("/api/v1/query_range", {"query": "up", "start": 10, "end": 0, "step": "1"}),
        ("/api/v1/query_range", {"query": "up", "start": 0, "end": 86400 * 30, "step": "1s"}),
        ("/api/v1/query_range", {"query": "up", "start": 0, "end": 10, "step": "fast"}),
        ("/api/v1/series", {}),
        ("/api/v1/series", {"match[]": '{job=~".*"}'}),
        ("/api/v1/label/bad-name/values", {}),
    ]
    for path, params in cases:
        r = _get(client, web_env, path, **params)
        assert r.status_code == 400, (path, params, r.text)
        body = r.json()
        assert body["status"] == "error"
        assert body["errorType"] == "bad_data"
        assert body["error"]
    # A syntax error says where, as Prometheus's do.
    r = _get(client, web_env, "/api/v1/query", query="sum(rate(x[5m])")
    assert r.json()["error"] == "1:4: parse error: unclosed left parenthesis"


def test_series_labels_and_values(client: TestClient, web_env: WebEnv) -> None:
    r = client.get(
        "/api/v1/series",
        params=[("match[]", "host_disk_usage_percent"), ("match[]", "host_load1")],
        headers=bearer(web_env, "viewer"),
    )
    names = sorted((s["__name__"], s.get("mountpoint", "")) for s in r.json()["data"])
    assert names == [
        ("host_disk_usage_percent", "/"),
        ("host_disk_usage_percent", "/var"),
        ("host_load1", ""),
    ]
    labels = _get(client, web_env, "/api/v1/labels").json()["data"]
    assert labels == ["__name__", "instance", "interface", "mountpoint"]
    values = _get(client, web_env, "/api/v1/label/mountpoint/values").json()["data"]
    assert values == ["/", "/var"]
    names = _get(client, web_env, "/api/v1/label/__name__/values").json()["data"]
    assert "host_cpu_usage_percent" in names


def test_rules_alerts_buildinfo(client: TestClient, web_env: WebEnv) -> None:
    from test_auth import _one_alert

    web_env.board.publish(*_one_alert())
    rules = _get(client, web_env, "/api/v1/rules").json()["data"]["groups"]
    rule = rules[0]["rules"][0]
    assert rule["state"] == "firing"
    assert rule["type"] == "alerting"
    assert rule["alerts"][0]["value"] == "97.5"
    assert (
        _get(client, web_env, "/api/v1/rules", type="record").json()["data"]["groups"][0]["rules"]
        == []
    )
    alerts = _get(client, web_env, "/api/v1/alerts").json()["data"]["alerts"]
    assert alerts[0]["labels"]["alertname"] == "HighCPU"
    assert alerts[0]["activeAt"].endswith("Z")
    info = _get(client, web_env, "/api/v1/status/buildinfo").json()["data"]
    assert info["version"]


def test_matrix_formatting_matches_prometheus_text_point_by_point() -> None:
    """The whole-array formatter writes exactly what the per-point reference writes."""
    import json

    import numpy as np

    from watchkeeper.web.prom_format import _ts, format_number, matrix_json

    rng = np.random.default_rng(3)
    n = 5000
    digits = rng.integers(0, 6, n).tolist()
    values = np.array(
        [round(x, d) for x, d in zip(rng.normal(50, 30, n).tolist(), digits, strict=True)]
    )
    values[::7] = np.floor(values[::7])
    values[:12] = [np.nan, np.inf, -np.inf, -0.0, 0.0, 1e20, -3e-9, 1e16, 9.999e15, 0.5, -2.0, 1e-4]
    values[12:20] = rng.normal(0, 1e6, 8)
    cases = [
        1_700_000_000_123 + np.arange(n) * 10_000,  # one shared millisecond part
        1_700_000_000_000 + np.arange(n) * 15_000,  # whole seconds
        1_700_000_000_000 + np.sort(rng.integers(0, 10**9, n)),  # any millisecond
        np.arange(n) * 1_000 - 2_500_500,  # negative times
    ]
    for ts in cases:
        points = ",".join(
            f'[{_ts(int(t))},"{format_number(float(v))}"]' for t, v in zip(ts, values, strict=True)
        )
        want = f'[{{"metric":{{"a": "b"}},"values":[{points}]}}]'
        got = matrix_json([({"a": "b"}, ts, values)])
        assert got == want
        json.loads(got)
    assert matrix_json([({"a": "b"}, [], [])]) == '[{"metric":{"a": "b"},"values":[]}]'
    # Several series: shared steps, their own steps, none, whole numbers only.
    shared = cases[1][:50]
    rows = [
        ({"s": "1"}, shared, values[:50]),
        ({"s": "2"}, shared, values[50:100]),
        ({"s": "3"}, cases[2][:7], values[100:107]),
        ({"s": "4"}, [], []),
        ({"s": "5"}, shared[:3], [1.0, 2.0, -3.0]),
        ({"s": "6"}, shared, values[200:250]),
    ]
    want_rows = []
    for metric, ts, vals in rows:
        points = ",".join(
            f'[{_ts(int(t))},"{format_number(float(v))}"]' for t, v in zip(ts, vals, strict=True)
        )
        want_rows.append(f'{{"metric":{json.dumps(metric)},"values":[{points}]}}')
    assert matrix_json(rows) == "[" + ",".join(want_rows) + "]"
    assert matrix_json([]) == "[]"
