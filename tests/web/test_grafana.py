"""The overview as a Grafana dashboard: the same queries, importable, laid out without overlap."""

from __future__ import annotations

import json

import promql_parser
from fastapi.testclient import TestClient
from web_helpers import WebEnv, bearer

from watchkeeper.web.grafana import grafana_dashboard
from watchkeeper.web.panels import PANELS


def test_every_overview_query_is_a_grafana_target() -> None:
    dash = json.loads(json.dumps(grafana_dashboard()))  # plain JSON, as Grafana reads it
    charts = [p for p in dash["panels"] if p["type"] == "timeseries"]
    assert [c["title"] for c in charts] == [p.title for p in PANELS]
    for chart, panel in zip(charts, PANELS, strict=True):
        assert [t["expr"] for t in chart["targets"]] == [s.expr for s in panel.series]
        for target in chart["targets"]:
            promql_parser.parse(target["expr"])
            assert target["datasource"]["uid"] == "${DS_WATCHKEEPER}"
    assert dash["__inputs"][0]["pluginId"] == "prometheus"
    rows = [p["title"] for p in dash["panels"] if p["type"] == "row"]
    assert rows == list(dict.fromkeys(p.section for p in PANELS))


def test_panels_do_not_overlap() -> None:
    cells = set()
    for p in grafana_dashboard()["panels"]:
        g = p["gridPos"]
        assert g["x"] + g["w"] <= 24
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, p["title"]
                cells.add((x, y))


def test_the_api_serves_it_to_viewers(client: TestClient, web_env: WebEnv) -> None:
    assert client.get("/api/wk/v1/grafana-dashboard").status_code == 401
    r = client.get("/api/wk/v1/grafana-dashboard", headers=bearer(web_env, "viewer"))
    assert r.status_code == 200
    assert r.json()["uid"] == "watchkeeper-overview"
