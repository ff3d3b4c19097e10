"""query room: PromQL over the store.

``instant_query(store, expr, at_ms)`` and ``range_query(store, expr, start_ms,
end_ms, step_ms)`` evaluate PromQL with Prometheus's semantics;
``parse_selector`` turns ``foo{job="api"}`` into matchers.
"""

from watchkeeper.query.api import instant_query, range_query
from watchkeeper.query.memory import MemoryStore
from watchkeeper.query.selector import SelectorError, parse_selector
from watchkeeper.query.values import (
    Matrix,
    QueryError,
    QueryResult,
    RangeSeries,
    Scalar,
    String,
    Vector,
    VectorSample,
)

__all__ = [
    "Matrix",
    "MemoryStore",
    "QueryError",
    "QueryResult",
    "RangeSeries",
    "Scalar",
    "SelectorError",
    "String",
    "Vector",
    "VectorSample",
    "instant_query",
    "parse_selector",
    "range_query",
]
