#!/usr/bin/env python3
"""A fake Datadog API v1 (metric queries, monitors, events) for the tests of `release`'s signals
and deploy markers.

Every API request is checked against Datadog's OpenAPI 3.0 description, read at startup from
--spec (v1-openapi.yaml; nothing is copied here) by ../openapi.py: what it does not describe
answers 400 `{"errors": [...]}`. DD-API-KEY is required everywhere and DD-APPLICATION-KEY where
the operation's security names appKeyAuth (queries, monitors), else 403 `{"errors": ["Forbidden"]}`.
Query values and monitor states are set by the tests (POST /__control). See README.md.

    fake_datadog.py --spec FILE --port 0 --port-file FILE [--token API_KEY] [--app-key APP_KEY]
"""

from __future__ import annotations

import math
import os
import re
import sys
import time
from datetime import datetime, timezone

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import fakeserver  # noqa: E402  (Tests/Fakes/fakeserver.py, shared by every fake)
import openapi  # noqa: E402  (Tests/Fakes/openapi.py: requests checked against the description)
from fakeserver import FakeError  # noqa: E402

DEFAULT_API_KEY = "test-api-key"
DEFAULT_APP_KEY = "test-app-key"
CREDENTIALS = ("DD-API-KEY", "DD-APPLICATION-KEY")
RATE_LIMIT = 1600
RATE_LIMIT_PERIOD = 3600
MAX_POINTS = 10
QUERY_METRIC = re.compile(r"(?:[a-z0-9_]+:)?([A-Za-z][A-Za-z0-9_.]*)\s*\{")
RATE_LIMIT_NAMES = {"/api/v1/query": "query", "/api/v1/monitor": "monitor", "/api/v1/events": "events"}


def iso(stamp: float) -> str:
    return datetime.fromtimestamp(stamp, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def query_problem(query: str) -> str | None:
    """What Datadog's query parser would refuse, roughly: None when it looks like a metric query.
    Checks: not empty, balanced `()` and `{}`, a `{scope}` after a metric, no template left in it."""
    if not query.strip():
        return "the query is empty"
    if "{{" in query or "}}" in query:
        return "Rule 'scope_expr' didn't match: a template ({{...}}) is left in the query"
    depth = {"(": 0, "{": 0}
    for char in query:
        if char in "({":
            depth[char] += 1
        elif char in ")}":
            opener = "(" if char == ")" else "{"
            depth[opener] -= 1
            if depth[opener] < 0:
                return f"unexpected {char!r}"
    if any(depth.values()):
        return "unbalanced brackets"
    if not QUERY_METRIC.search(query):
        return "Rule 'scope_expr' didn't match: a metric needs a {scope}, e.g. avg:system.load.1{*}"
    return None


def check_value(key: str, value) -> None:
    """A value a query can be answered: a number, null (no data), "NaN" (a point without a value)
    or {"pointlist": [number or null, ...]}."""
    if value is None or value == "NaN" or (isinstance(value, (int, float)) and not isinstance(value, bool)):
        return
    if isinstance(value, dict) and set(value) == {"pointlist"} and isinstance(value["pointlist"], list) \
            and value["pointlist"] and all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))
                                           for v in value["pointlist"]):
        return
    raise fakeserver.ControlError(f"{key}: a value is a number, null, \"NaN\" or {{\"pointlist\": [numbers or null]}}")


def point(value):
    """A point's value: NaN has none (null), as Datadog leaves gaps."""
    if value is None or value == "NaN" or (isinstance(value, float) and math.isnan(value)):
        return None
    return value


class DatadogFake(fakeserver.PlatformFake):
    """Query values, monitors, events, controls and recorded requests, behind one lock."""

    name = "fake_datadog"
    rate_limit = RATE_LIMIT
    CONTROL_KEYS = ("values", "monitors")
    MONITOR_FIELDS = ("overall_state", "name", "query", "type", "message", "tags", "priority")

    def __init__(self, description: openapi.Description, api_key: str = DEFAULT_API_KEY,
                 app_key: str = DEFAULT_APP_KEY, verbose: bool = False):
        self.description = description
        self.api_key, self.app_key = api_key, app_key
        self.states = description.root["components"]["schemas"]["MonitorOverallStates"]["enum"]
        self.monitor_types = description.root["components"]["schemas"]["MonitorType"]["enum"]
        super().__init__(verbose)

    # ---- controls ------------------------------------------------------------------------------

    def reset(self) -> None:
        with self.lock:
            super().reset()
            self.values = fakeserver.ScriptedValues.of_queries(check_value)
            self.monitors: dict[int, dict] = {}
            self.events: list[dict] = []
            self.period_started = time.time()

    def control_keys(self) -> set[str]:
        return super().control_keys() | set(self.CONTROL_KEYS)

    def control_view(self) -> dict:
        return dict(super().control_view(), values=self.values.view(), taken=self.values.taken_view(),
                    monitors={str(id_): monitor["overall_state"] for id_, monitor in self.monitors.items()},
                    rate_limit_remaining=self.remaining)

    def apply_controls(self, settings: dict) -> None:
        super().apply_controls(settings)
        if "values" in settings:
            self.values.apply(settings["values"])
        if "monitors" in settings:
            self._control_monitors(settings["monitors"])

    def _control_monitors(self, table) -> None:
        """Merges {"monitor id": overall state | {"overall_state", "name", "query", ...} | null}."""
        if not isinstance(table, dict):
            raise fakeserver.ControlError("monitors takes {\"1234567\": \"OK\" | {\"overall_state\", ...} | null}")
        for key, given in table.items():
            if not re.fullmatch(r"[1-9][0-9]{0,17}", str(key)):
                raise fakeserver.ControlError(f"monitors: {key!r} is not a monitor id (a positive integer)")
            monitor_id = int(key)
            if given is None:
                self.monitors.pop(monitor_id, None)
                continue
            settings = {"overall_state": given} if isinstance(given, str) else given
            if not isinstance(settings, dict) or not set(settings) <= set(self.MONITOR_FIELDS):
                raise fakeserver.ControlError(f"monitors[{key!r}] takes a state or {{{', '.join(self.MONITOR_FIELDS)}}}")
            monitor = self.monitors.get(monitor_id) or self.new_monitor(monitor_id)
            monitor.update(settings)
            problem = self.description.validate(self.description.schema("Monitor"), monitor)
            if problem or monitor["overall_state"] not in self.states:
                raise fakeserver.ControlError(f"monitors[{key!r}]: {problem or 'overall_state is one of ' + str(self.states)}")
            monitor["modified"] = iso(time.time())
            self.monitors[monitor_id] = monitor

    def new_monitor(self, monitor_id: int) -> dict:
        stamp = iso(time.time())
        return {"id": monitor_id, "name": f"monitor {monitor_id}", "type": "query alert",
                "query": "avg(last_5m):avg:trace.http.request.errors{service:crm-api} > 0.02", "message": "",
                "tags": [], "options": {"notify_no_data": False, "thresholds": {"critical": 0.02}},
                "overall_state": "OK", "created": stamp, "modified": stamp, "multi": False, "priority": None,
                "restricted_roles": None, "deleted": None,
                "creator": {"email": "ops@example.com", "handle": "ops@example.com", "name": "Ops"}}

    def state(self) -> dict:
        with self.lock:
            return dict(super().state(), controls=self.control_view(), events=list(self.events),
                        monitors=[dict(monitor) for monitor in self.monitors.values()])

    # ---- the pipeline --------------------------------------------------------------------------

    def log_entry(self, request: fakeserver.Request) -> dict:
        return {"method": request.method, "path": request.path,
                "query": openapi.flat_query(request, hidden=("api_key", "application_key")),
                "body": request.logged_body(), "operation": None, "headers": request.headers_without(*CREDENTIALS),
                "status": None}

    def refused(self, request: fakeserver.Request) -> None:
        """DD-API-KEY on every request, DD-APPLICATION-KEY where the operation's security asks for it."""
        if request.header("DD-API-KEY") != self.api_key:
            raise FakeError(403, "forbidden", "Forbidden")
        try:
            operation, _ = self.description.match(request.method, request.path)
        except openapi.Invalid:
            return  # refused as undescribed by `api`
        if "appKeyAuth" in operation.security_schemes() and request.header("DD-APPLICATION-KEY") != self.app_key:
            raise FakeError(403, "forbidden", "Forbidden")

    def error_value(self, request, error: FakeError):
        return {"errors": [error.message]}

    def api_headers(self, request: fakeserver.Request) -> dict:
        """Datadog's rate-limit headers on every answer: the budget left, seconds until it renews, its name."""
        reset = RATE_LIMIT_PERIOD - int(time.time() - self.period_started) % RATE_LIMIT_PERIOD
        name = next((name for prefix, name in RATE_LIMIT_NAMES.items() if request.path.startswith(prefix)), "api")
        return self.limit_headers(self.remaining, reset, name)

    def limit_headers(self, remaining: int, reset: int, name: str | None = None) -> dict:
        headers = {"X-RateLimit-Limit": str(self.rate_limit), "X-RateLimit-Period": str(RATE_LIMIT_PERIOD),
                   "X-RateLimit-Remaining": str(remaining), "X-RateLimit-Reset": str(reset)}
        return {**headers, "X-RateLimit-Name": name} if name else headers

    def rate_limited(self) -> FakeError:
        """429 with Datadog's rate-limit headers (no Retry-After): X-RateLimit-Reset is `retry_after`."""
        reset = max(1, math.ceil(self.faults.retry_after))
        return FakeError(429, "rate_limited", f"Rate limit of {self.rate_limit} requests in {RATE_LIMIT_PERIOD} seconds "
                         "reached. Please try again later.", self.limit_headers(0, reset))

    def server_error(self) -> FakeError:
        return FakeError(500, "internal_server_error", "Internal Server Error")

    def api(self, request: fakeserver.Request) -> fakeserver.Answer:
        try:
            call = self.description.check(request)
        except openapi.Invalid as invalid:
            raise FakeError(400, "bad_request", invalid.message)
        with self.lock:
            request.log["operation"] = call.operation.id
        if call.operation.id == "QueryMetrics":
            return self.json(200, self.query_metrics(call.query))
        if call.operation.id == "GetMonitor":
            with self.lock:
                monitor = self.monitors.get(int(call.path_params["monitor_id"]))
                if monitor is None:
                    raise FakeError(404, "not_found", "Monitor not found")
                return self.json(200, dict(monitor))
        if call.operation.id == "CreateEvent":
            return self.json(202, {"status": "ok", "event": self.create_event(call.body)})
        raise FakeError(501, "not_implemented", f"the fake does not model {call.operation.method} {call.operation.template}")

    # ---- the API -------------------------------------------------------------------------------

    def query_metrics(self, params: dict) -> dict:
        start, end, query = params["from"], params["to"], params["query"]
        if start > end:
            raise FakeError(400, "bad_request", "Invalid time range: 'from' must be before 'to'")
        problem = query_problem(query)
        if problem:
            raise FakeError(400, "bad_request", f"Error parsing query: unable to parse {query}: {problem}")
        with self.lock:
            value = self.values.take_contained(query)  # None: no key in it, no data
        series = [] if value is None else [self.series(query, start, end, value)]
        return {"status": "ok", "res_type": "time_series", "query": query, "message": "", "from_date": start * 1000,
                "to_date": end * 1000, "group_by": [], "series": series}

    def series(self, query: str, start: int, end: int, value) -> dict:
        """One series over [start, end]: the value at every point, or the pointlist given."""
        listed = value["pointlist"] if isinstance(value, dict) else [value] * max(1, min(MAX_POINTS, (end - start) // 60))
        interval = max(1, (end - start) // len(listed))
        stamps = [(end - interval * (len(listed) - 1 - index)) * 1000.0 for index in range(len(listed))]
        found = QUERY_METRIC.search(query)
        scope = query[found.end():query.index("}", found.end())] if found else "*"
        return {"metric": found.group(1) if found else query, "display_name": found.group(1) if found else query,
                "expression": query, "scope": scope or "*", "tag_set": [], "aggr": query.split(":")[0] if ":" in query else None,
                "start": int(stamps[0]), "end": int(stamps[-1]) + interval * 1000 - 1, "interval": interval,
                "length": len(listed), "query_index": 0,
                "pointlist": [[stamp, point(v)] for stamp, v in zip(stamps, listed)]}

    def create_event(self, body: dict) -> dict:
        with self.lock:
            event_id = 7_000_000_000_000_000_000 + len(self.events) + 1
            event = {"id": event_id, "id_str": str(event_id), "title": body["title"], "text": body["text"],
                     "date_happened": body.get("date_happened") or int(time.time()), "tags": list(body.get("tags") or []),
                     "priority": body.get("priority") or "normal", "alert_type": body.get("alert_type") or "info",
                     "url": f"https://app.datadoghq.com/event/event?id={event_id}"}
            for key in ("host", "device_name", "source_type_name"):
                if key in body:
                    event[key] = body[key]
            self.events.append({**event, "aggregation_key": body.get("aggregation_key"),
                                "related_event_id": body.get("related_event_id")})
            return event


def main(argv=None) -> int:
    parser = fakeserver.argument_parser("Fake Datadog API v1 (metric queries, monitors, events) for tests.")
    parser.add_argument("--spec", required=True, help="Datadog's v1-openapi.yaml")
    parser.add_argument("--token", default=DEFAULT_API_KEY, help="the API key accepted in DD-API-KEY")
    parser.add_argument("--app-key", default=DEFAULT_APP_KEY, help="the application key accepted in DD-APPLICATION-KEY")
    return fakeserver.serve(parser, argv, lambda args: DatadogFake(openapi.Description(args.spec), args.token,
                                                                   args.app_key, args.verbose))


if __name__ == "__main__":
    sys.exit(main())
