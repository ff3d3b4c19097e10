"""The Prometheus HTTP API (``/api/v1/...``), so Grafana's Prometheus data source works.

Same paths, parameters (GET query string or form-encoded POST, repeated
``match[]``), response envelope and error types as Prometheus 2.x. Queries
run in worker threads under ``query_timeout``; a missing query engine
answers 501 ``unavailable`` rather than an error page.
"""

from __future__ import annotations

import asyncio
import platform
import re
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from watchkeeper._version import __version__
from watchkeeper.model import LABEL_NAME_RE, NAME_LABEL, Matcher, MatchOp
from watchkeeper.store.base import Series
from watchkeeper.web.authdb import Role
from watchkeeper.web.context import WebContext
from watchkeeper.web.prom_format import (
    ApiError,
    matrix_chunks,
    matrix_json,
    parse_duration_param,
    parse_time_param,
    success,
)

__all__ = ["prom_router"]

#: Longest query text accepted.
MAX_QUERY_CHARS = 64 * 1024
#: Series returned by /series at most (Prometheus has no cap; a browser does).
MAX_SERIES = 100_000


class Params:
    """Request parameters from the query string and, for POST, the form body."""

    def __init__(self, items: list[tuple[str, str]]) -> None:
        self._items = items

    @classmethod
    async def read(cls, request: Request) -> Params:
        items = list(request.query_params.multi_items())
        if request.method == "POST":
            ctype = request.headers.get("content-type", "")
            if ctype.startswith("application/x-www-form-urlencoded"):
                form = await request.form()
                items += [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
            elif ctype and not ctype.startswith("multipart/"):
                raise ApiError("bad_data", f"unsupported content type {ctype!r}; send a form")
        return cls(items)

    def get(self, name: str) -> str | None:
        for k, v in self._items:
            if k == name:
                return v
        return None

    def all(self, name: str) -> list[str]:
        return [v for k, v in self._items if k == name]


def _query_module() -> Any:
    try:
        import watchkeeper.query as query
    except ImportError as exc:  # pragma: no cover - the query room is part of the package
        raise ApiError("unavailable", f"the query engine is not available: {exc}") from None
    return query


def _matchers(selectors: list[str]) -> list[list[Matcher]]:
    query = _query_module()
    out = []
    for text in selectors:
        try:
            _, matchers = query.parse_selector(text)
        except ValueError as exc:
            raise ApiError("bad_data", f'invalid parameter "match[]": {exc}') from None
        if all(m.matches_empty() for m in matchers):
            raise ApiError(
                "bad_data",
                f'invalid parameter "match[]": {text!r} matches every series; '
                "add a matcher that does not match the empty string",
            )
        out.append(matchers)
    return out


_ALL = [Matcher(NAME_LABEL, MatchOp.RE, ".+")]
#: A query's syntax error, with or without its ``line:col`` (query/diagnose.py).
_PARSE_ERROR = re.compile(r"(?:\d+:\d+: )?parse error")


def prom_router(ctx: WebContext) -> APIRouter:
    # Documented by Prometheus itself; the OpenAPI schema covers /api/wk.
    router = APIRouter(prefix="/api/v1", tags=["prometheus"], include_in_schema=False)
    viewer = Depends(
        ctx.auth.require(Role.VIEWER, public=lambda: ctx.config.auth.public_prometheus_api)
    )
    timeout = ctx.config.query_timeout

    async def run(fn: Callable[[], Any]) -> Any:
        try:
            return await asyncio.wait_for(run_in_threadpool(fn), timeout)
        except TimeoutError:
            raise ApiError("timeout", f"query timed out after {timeout:g}s") from None

    def query_error(exc: Exception) -> ApiError:
        text = str(exc)
        kind = (
            "bad_data"
            if _PARSE_ERROR.match(text)
            or text.startswith(("exceeded", "end timestamp", "zero or negative"))
            else "execution"
        )
        return ApiError(kind, text)

    def expr_of(params: Params) -> str:
        expr = params.get("query")
        if not expr:
            raise ApiError("bad_data", 'invalid parameter "query": missing')
        if len(expr) > MAX_QUERY_CHARS:
            raise ApiError(
                "bad_data", f'invalid parameter "query": over {MAX_QUERY_CHARS} characters'
            )
        return expr

    @router.api_route("/query", methods=["GET", "POST"], dependencies=[viewer])
    async def query(request: Request) -> Response:
        params = await Params.read(request)
        expr = expr_of(params)
        at = parse_time_param("time", params.get("time"), int(time.time() * 1000))
        q = _query_module()
        try:
            result = await run(lambda: q.instant_query(ctx.store, expr, at))
        except (q.QueryError, ValueError) as exc:
            raise query_error(exc) from None
        if result.result_type == "matrix":
            body = matrix_json((dict(s.labels), s.timestamps, s.values) for s in result.series)
            return _raw_success(f'{{"resultType":"matrix","result":{body}}}')
        return success(result.to_json())

    @router.api_route("/query_range", methods=["GET", "POST"], dependencies=[viewer])
    async def query_range(request: Request) -> Response:
        params = await Params.read(request)
        expr = expr_of(params)
        start = parse_time_param("start", params.get("start"))
        end = parse_time_param("end", params.get("end"))
        step_s = parse_duration_param("step", params.get("step"))
        if end < start:
            raise ApiError(
                "bad_data", 'invalid parameter "end": end timestamp must not be before start time'
            )
        if step_s <= 0:
            raise ApiError(
                "bad_data",
                'invalid parameter "step": zero or negative query resolution step widths are '
                "not accepted. Try a positive integer",
            )
        step_ms = max(1, round(step_s * 1000))
        if (end - start) // step_ms > 11_000:
            raise ApiError(
                "bad_data",
                "exceeded maximum resolution of 11,000 points per timeseries. "
                "Try decreasing the query resolution (?step=XX)",
            )
        q = _query_module()
        try:
            result = await run(lambda: q.range_query(ctx.store, expr, start, end, step_ms))
        except (q.QueryError, ValueError) as exc:
            raise query_error(exc) from None
        pieces = matrix_chunks((dict(s.labels), s.timestamps, s.values) for s in result.series)
        first = await run(lambda: next(pieces) + next(pieces, b""))
        head = b'{"status":"success","data":{"resultType":"matrix","result":'
        if first.endswith(b"]"):  # the whole answer already
            return Response(head + first + b"}}", media_type="application/json")

        async def stream() -> AsyncIterator[bytes]:
            # A large answer goes out in pieces while the rest is written:
            # the client reads the first series as the server formats the next.
            yield head + first
            while piece := await run(lambda: next(pieces, b"")):
                yield piece
            yield b"}}"

        return StreamingResponse(stream(), media_type="application/json")

    async def select(params: Params, required: bool) -> list[Series]:
        selectors = params.all("match[]")
        if required and not selectors:
            raise ApiError("bad_data", "no match[] parameter provided")
        start = parse_time_param("start", params.get("start"), -1)
        end = parse_time_param("end", params.get("end"), -1)
        groups = _matchers(selectors) if selectors else [_ALL]

        def work() -> list[Series]:
            found: dict[int, Series] = {}
            for matchers in groups:
                if start >= 0 or end >= 0:
                    lo = start if start >= 0 else 0
                    hi = end if end >= 0 else 2**62
                    data = ctx.store.read_range(matchers, lo, hi, min_step_ms=max(1, hi - lo))
                    found.update((d.series.id, d.series) for d in data)
                else:
                    found.update((s.id, s) for s in ctx.store.select(matchers))
                if len(found) > MAX_SERIES:
                    raise ApiError("execution", f"more than {MAX_SERIES} series; narrow match[]")
            return list(found.values())

        result: list[Series] = await run(work)
        return result

    @router.api_route("/series", methods=["GET", "POST"], dependencies=[viewer])
    async def series(request: Request) -> Response:
        found = await select(await Params.read(request), required=True)
        data = [{NAME_LABEL: s.name, **dict(s.labels)} for s in found]
        data.sort(key=lambda m: sorted(m.items()))
        return success(data)

    @router.api_route("/labels", methods=["GET", "POST"], dependencies=[viewer])
    async def labels(request: Request) -> Response:
        found = await select(await Params.read(request), required=False)
        names = {NAME_LABEL} if found else set()
        for s in found:
            names.update(s.labels.names())
        return success(sorted(names))

    @router.get("/label/{name}/values", dependencies=[viewer])
    async def label_values(name: str, request: Request) -> Response:
        if name != NAME_LABEL and not LABEL_NAME_RE.match(name):
            raise ApiError("bad_data", f"invalid label name: {name!r}")
        found = await select(await Params.read(request), required=False)
        if name == NAME_LABEL:
            values = {s.name for s in found}
        else:
            values = {v for s in found if (v := s.labels.get(name)) is not None}
        return success(sorted(values))

    @router.get("/metadata", dependencies=[viewer])
    async def metadata(request: Request) -> Response:
        params = await Params.read(request)
        metric = params.get("metric")
        limit = _int_param("limit", params.get("limit"))
        data: dict[str, list[dict[str, str]]] = {}
        for meta in ctx.metadata:
            if metric and meta.name != metric:
                continue
            entry = {"type": meta.type.value, "help": meta.help, "unit": meta.unit}
            if entry not in data.setdefault(meta.name, []):
                data[meta.name].append(entry)
            if limit and limit > 0 and len(data) >= limit:
                break
        return success(data)

    @router.get("/rules", dependencies=[viewer])
    async def rules(request: Request) -> Response:
        params = await Params.read(request)
        kind = params.get("type")
        if kind not in (None, "", "alert", "record"):
            raise ApiError("bad_data", f'invalid parameter "type": {kind!r} (use alert or record)')
        groups = []
        for g in ctx.board.groups():
            rules = []
            for r in g.rules:
                if (kind == "alert" and r.type != "alerting") or (
                    kind == "record" and r.type != "recording"
                ):
                    continue
                rules.append(_rule_json(ctx, g.name, r))
            groups.append(
                {
                    "name": g.name,
                    "file": g.file,
                    "interval": g.interval_s,
                    "limit": 0,
                    "rules": rules,
                    "evaluationTime": g.evaluation_time_s,
                    "lastEvaluation": _iso(g.last_evaluation),
                }
            )
        return success({"groups": groups})

    @router.get("/alerts", dependencies=[viewer])
    async def alerts() -> Response:
        return success({"alerts": [_alert_json(a) for a in ctx.board.alerts()]})

    @router.get("/query_exemplars", dependencies=[viewer])
    async def query_exemplars() -> Response:
        return success([])  # watchkeeper stores no exemplars

    @router.get("/status/buildinfo", dependencies=[viewer])
    async def buildinfo() -> Response:
        return success(
            {
                "version": __version__,
                "revision": "",
                "branch": "",
                "buildUser": "",
                "buildDate": "",
                "goVersion": f"python{platform.python_version()}",
            }
        )

    @router.get("/status/runtimeinfo", dependencies=[viewer])
    async def runtimeinfo() -> Response:
        return success(
            {
                "startTime": _iso(ctx.started_at),
                "CWD": "",
                "reloadConfigSuccess": True,
                "goroutineCount": 0,
                "storageRetention": "",
            }
        )

    return router


def _raw_success(data_json: str) -> Response:
    return Response(f'{{"status":"success","data":{data_json}}}', media_type="application/json")


def _int_param(name: str, text: str | None) -> int | None:
    if text is None or text == "":
        return None
    try:
        return int(text)
    except ValueError:
        raise ApiError(
            "bad_data", f'invalid parameter "{name}": {text!r} is not an integer'
        ) from None


def _iso(ts: float | None) -> str:
    if ts is None:
        return "0001-01-01T00:00:00Z"
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts * 1000) % 1000:03d}Z"


def _alert_json(a: Any) -> dict[str, Any]:
    from watchkeeper.web.prom_format import format_number

    return {
        "labels": dict(a.labels),
        "annotations": dict(a.annotations),
        "state": a.state,
        "activeAt": _iso(a.active_at),
        "value": format_number(a.value),
    }


def _rule_json(ctx: WebContext, group: str, r: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": r.name,
        "query": r.query,
        "labels": dict(r.labels),
        "health": r.health,
        "lastError": r.last_error,
        "evaluationTime": r.evaluation_time_s,
        "lastEvaluation": _iso(r.last_evaluation),
        "type": r.type,
    }
    if r.type == "alerting":
        active = ctx.board.rule_alerts(group, r.name)
        states = {a.state for a in active}
        out["state"] = "firing" if "firing" in states else "pending" if states else "inactive"
        out["duration"] = r.duration_s
        out["annotations"] = dict(r.annotations)
        out["alerts"] = [_alert_json(a) for a in active]
    return out
