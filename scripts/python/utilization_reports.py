"""Run MADSci's own /utilization/* route handlers in-process over a given list of stored events.

Used by test/conformance/utilization.test.ts to compare our reports with upstream's on a large
generated history without going through HTTP and a database (upstream's analyzers query the whole
collection once per activity event that names a node; through FerretDB that takes minutes).

What runs is upstream's code, unchanged: the route methods of ``EventManager``
(``get_session_utilization``, ``get_utilization_periods``, ``get_user_utilization_report``) are
called as functions with every query parameter given explicitly, on a stand-in ``self`` whose
``events`` is ``MongoSemanticsCollection`` below and whose other attributes are upstream's own
methods (``_get_session_analyzer``, ``_parse_session_time_parameters``). Run it with TZ=UTC, as
the Python server in the tests runs (naive period times are read as the server's local time).

``MongoSemanticsCollection`` is a test adapter for the database, read only: it answers the
``find(filter).sort(key, dir).limit(n)`` and ``count_documents`` calls the analyzers make with
MongoDB's semantics (values of different types never compare, so the analyzers' first query form
with ``datetime`` bounds matches nothing on string timestamps, exactly as on MongoDB; dotted paths;
``$in``, ``$or``, ``$and``, comparisons; arrays match by element; missing fields sort first).
Unknown operators raise. Results of identical queries are cached (the collection never changes);
each result is a fresh top-level dict (upstream adds keys to the documents it gets) whose nested
values are shared, and the script checks at the end that no analyzer changed the stored documents.

The stdlib loggers of ``madsci.event_manager`` keep the level they have in the real server (the
root default, WARNING). Upstream passes keyword arguments to stdlib logging calls (SPEC §9 D8), so
a warning or error path raises ``TypeError`` there exactly as it does in the server.

stdin:  {"documents": [<stored event document>, ...],
         "jobs": [{"name": str, "route": "sessions" | "user" | "periods", "params": {...}}, ...]}
        params are the route's query parameters (start_time, end_time, analysis_type,
        user_timezone, include_users); missing ones take the route's defaults.
stdout: {"results": {name: {"answer": <the route's JSON answer>,
                            "with_users": <periods only: add_user_utilization_to_report's return>}},
         "stats": {"documents", "queries", "distinct_queries", "scanned", "seconds", "route_errors"}}
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
import time
import types
from datetime import datetime
from typing import Any, Callable, Dict, Iterator, List, Optional


# ---------------------------------------------------------------------------------------------
# A read-only collection with MongoDB's query semantics


class UnsupportedQuery(Exception):
    """The analyzers asked for something this adapter does not implement."""


_MISSING = object()


def _type_class(value: Any) -> Optional[str]:
    """MongoDB's comparison bracket of a value (values of different brackets never compare)."""
    if value is None or value is _MISSING:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, datetime):
        return "date"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    raise UnsupportedQuery(f"unsupported value type {type(value).__name__}")


def _get_path(doc: Any, path: str) -> Any:
    current = doc
    for part in path.split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        else:
            return _MISSING
    return current


def _candidates(value: Any) -> List[Any]:
    """A field value and, for an array, its elements (MongoDB matches either)."""
    if isinstance(value, list):
        return [value, *value]
    return [value]


def _equal(a: Any, b: Any) -> bool:
    if a is _MISSING:
        return b is None
    return _type_class(a) == _type_class(b) and a == b


def _compare(a: Any, b: Any, op: str) -> bool:
    if a is _MISSING or a is None or _type_class(a) != _type_class(b):
        return False
    if op == "$gt":
        return a > b
    if op == "$gte":
        return a >= b
    if op == "$lt":
        return a < b
    return a <= b


def _value_predicate(condition: Any) -> Callable[[Any], bool]:
    """A test of one field's value (``_MISSING`` when absent) for a query condition."""
    if isinstance(condition, dict) and condition and all(k.startswith("$") for k in condition):
        tests = [_operator_predicate(op, arg) for op, arg in condition.items()]
        return lambda value: all(t(value) for t in tests)
    if isinstance(condition, str):
        # Fast path for the common case: a string equals a string, or an array holds it.
        return lambda value: value == condition if type(value) is str else isinstance(value, list) and condition in value
    return lambda value: any(_equal(v, condition) for v in _candidates(value))


def _operator_predicate(op: str, arg: Any) -> Callable[[Any], bool]:
    if op in ("$gt", "$gte", "$lt", "$lte"):
        return lambda value: any(_compare(v, arg, op) for v in _candidates(value))
    if op == "$eq":
        return _value_predicate(arg)
    if op == "$ne":
        eq = _value_predicate(arg)
        return lambda value: not eq(value)
    if op in ("$in", "$nin"):
        strings = frozenset(x for x in arg if isinstance(x, str))
        others = [x for x in arg if not isinstance(x, str)]

        def contained(value: Any) -> bool:
            return any((type(v) is str and v in strings) or any(_equal(v, x) for x in others) for v in _candidates(value))

        return contained if op == "$in" else (lambda value: not contained(value))
    if op == "$exists":
        return lambda value: (value is not _MISSING) == bool(arg)
    raise UnsupportedQuery(f"operator {op}")


def _compile(query: Dict[str, Any]) -> Callable[[Dict[str, Any]], bool]:
    """A document test for a MongoDB filter (implicit AND of its keys)."""
    tests: List[Callable[[Dict[str, Any]], bool]] = []
    for key, condition in query.items():
        if key in ("$or", "$and"):
            subs = [_compile(sub) for sub in condition]
            if key == "$or":
                tests.append(lambda doc, subs=subs: any(t(doc) for t in subs))
            else:
                tests.append(lambda doc, subs=subs: all(t(doc) for t in subs))
        elif key.startswith("$"):
            raise UnsupportedQuery(f"top-level operator {key}")
        else:
            test = _value_predicate(condition)
            tests.append(lambda doc, path=key, test=test: test(_get_path(doc, path)))
    return lambda doc: all(t(doc) for t in tests)


def _sort_key(value: Any) -> tuple:
    order = {"null": 0, "number": 1, "string": 2, "object": 3, "array": 4, "bool": 5, "date": 6}
    return (order[_type_class(value)], None if value is _MISSING or value is None else value)


def _query_key(query: Any) -> str:
    # repr keeps types apart ('2025-01-06T00:00:00' vs datetime.datetime(2025, 1, 6, 0, 0)).
    return repr(query)


class MongoSemanticsCursor:
    def __init__(self, collection: "MongoSemanticsCollection", query: Dict[str, Any]) -> None:
        self._collection = collection
        self._query = query
        self._sort: Optional[tuple] = None
        self._limit = 0

    def sort(self, key: Any, direction: int = 1) -> "MongoSemanticsCursor":
        if isinstance(key, list):
            if len(key) != 1:
                raise UnsupportedQuery("compound sort")
            key, direction = key[0]
        self._sort = (key, direction)
        return self

    def limit(self, count: int) -> "MongoSemanticsCursor":
        self._limit = count
        return self

    def __iter__(self) -> Iterator[Dict[str, Any]]:
        docs = self._collection._matching(self._query)
        if self._sort:
            key, direction = self._sort
            docs = sorted(docs, key=lambda d: _sort_key(_get_path(d, key)), reverse=direction == -1)
        if self._limit:
            docs = docs[: self._limit]
        # A fresh top-level dict per result, as a driver returns: the user report adds
        # `parsed_timestamp` to the documents it is given.
        return iter([dict(d) for d in docs])


class MongoSemanticsCollection:
    def __init__(self, documents: List[Dict[str, Any]]) -> None:
        self._documents = documents  # natural order = insertion order
        self._cache: Dict[str, List[Dict[str, Any]]] = {}
        self.queries = 0
        self.scanned = 0

    def _matching(self, query: Dict[str, Any]) -> List[Dict[str, Any]]:
        self.queries += 1
        key = _query_key(query)
        hit = self._cache.get(key)
        if hit is None:
            self.scanned += len(self._documents)
            test = _compile(query)
            hit = [d for d in self._documents if test(d)]
            self._cache[key] = hit
        return hit

    def find(self, filter: Optional[Dict[str, Any]] = None, projection: Any = None) -> MongoSemanticsCursor:  # noqa: A002
        if projection is not None:
            raise UnsupportedQuery("projection")
        return MongoSemanticsCursor(self, filter or {})

    def count_documents(self, filter: Dict[str, Any]) -> int:  # noqa: A002
        return len(self._matching(filter))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)  # protocol probes (copy, pickle, ...) see a plain object
        raise UnsupportedQuery(f"collection method {name}")


# ---------------------------------------------------------------------------------------------
# Upstream's route handlers on a stand-in `self`


class RecordingLogger:
    """Stands in for the server's EventClient logger in the route handlers: records what they log."""

    def __init__(self) -> None:
        self.records: List[Dict[str, Any]] = []

    def _record(self, level: str, message: str, **kwargs: Any) -> None:
        self.records.append({"level": level, "message": message, "error": str(kwargs.get("error", ""))})

    def error(self, message: str, **kwargs: Any) -> None:
        self._record("error", message, **kwargs)

    def warning(self, message: str, **kwargs: Any) -> None:
        self._record("warning", message, **kwargs)

    def info(self, message: str, **kwargs: Any) -> None:
        self._record("info", message, **kwargs)


def route_self(collection: MongoSemanticsCollection, logger: RecordingLogger) -> Any:
    from madsci.event_manager.event_server import EventManager  # noqa: PLC0415

    server = types.SimpleNamespace(events=collection, logger=logger)
    server._get_session_analyzer = types.MethodType(EventManager._get_session_analyzer, server)
    server._parse_session_time_parameters = types.MethodType(EventManager._parse_session_time_parameters, server)
    return server


def run_job(job: Dict[str, Any], collection: MongoSemanticsCollection, logger: RecordingLogger) -> Dict[str, Any]:
    from madsci.event_manager.event_server import EventManager  # noqa: PLC0415
    from madsci.event_manager.time_series_analyzer import TimeSeriesAnalyzer  # noqa: PLC0415
    from madsci.event_manager.utilization_analyzer import UtilizationAnalyzer  # noqa: PLC0415

    server = route_self(collection, logger)
    p = job.get("params", {})
    common = {"csv_format": False, "save_to_file": False, "output_path": None}
    route = job["route"]
    if route == "sessions":
        answer = EventManager.get_session_utilization(server, start_time=p.get("start_time"), end_time=p.get("end_time"), **common)
        return {"answer": asyncio.run(answer)}
    if route == "user":
        answer = EventManager.get_user_utilization_report(server, start_time=p.get("start_time"), end_time=p.get("end_time"), **common)
        return {"answer": asyncio.run(answer)}
    if route == "periods":
        analysis_type = p.get("analysis_type", "daily")
        user_timezone = p.get("user_timezone", "America/Chicago")
        answer = EventManager.get_utilization_periods(
            server,
            start_time=p.get("start_time"),
            end_time=p.get("end_time"),
            analysis_type=analysis_type,
            user_timezone=user_timezone,
            include_users=p.get("include_users", True),
            **common,
        )
        out: Dict[str, Any] = {"answer": asyncio.run(answer)}
        # What the route means to answer (D7): the report with add_user_utilization_to_report's
        # return value, which the route drops. Built by the same calls the route makes.
        ts = TimeSeriesAnalyzer(UtilizationAnalyzer(collection))
        report = ts.generate_utilization_report_with_times(p.get("start_time"), p.get("end_time"), analysis_type, user_timezone)
        if report and "error" not in report:
            report = ts.add_user_utilization_to_report(report)
        out["with_users"] = report
        return out
    raise ValueError(f"unknown route {route!r}")


def fingerprint(documents: List[Dict[str, Any]]) -> str:
    return hashlib.sha256(json.dumps(documents, sort_keys=True, default=str).encode()).hexdigest()


def main() -> None:
    started = time.monotonic()
    request = json.load(sys.stdin)
    documents = request["documents"]
    before = fingerprint(documents)
    collection = MongoSemanticsCollection(documents)
    logger = RecordingLogger()
    results = {job["name"]: run_job(job, collection, logger) for job in request["jobs"]}
    if fingerprint(documents) != before:
        raise RuntimeError("an upstream analyzer modified the stored documents; the shared-document cache is not safe")
    stats = {
        "documents": len(documents),
        "queries": collection.queries,
        "distinct_queries": len(collection._cache),
        "scanned": collection.scanned,
        "seconds": round(time.monotonic() - started, 3),
        "route_errors": logger.records,
    }
    sys.stdout.write(json.dumps({"results": results, "stats": stats}, default=str) + "\n")


if __name__ == "__main__":
    main()
