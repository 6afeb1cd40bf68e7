#!/usr/bin/env python3
"""A fake Prometheus HTTP API (instant queries and alerts) for the tests of `release`'s signals.

Every API request is checked against Prometheus's OpenAPI 3.1 description, read at startup from
--spec (openapi-3.1.yaml; servers: /api/v1; nothing is copied here) by ../openapi.py: what it
does not describe answers 400 `bad_data`. Query values and alert states are set by the tests
(POST /__control). See README.md beside this file.

    fake_prometheus.py --spec FILE --port 0 --port-file FILE [--token TOKEN] [--max-seconds 300]
"""

from __future__ import annotations

import math
import os
import re
import sys
import time
from datetime import datetime, timezone
from decimal import Decimal

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import fakeserver  # noqa: E402  (Tests/Fakes/fakeserver.py, shared by every fake)
import openapi  # noqa: E402  (Tests/Fakes/openapi.py: requests checked against the description)
from fakeserver import FakeError  # noqa: E402

ALERT_STATES = ("firing", "pending")
SPECIAL_VALUES = {"NaN": "NaN", "Inf": "+Inf", "+Inf": "+Inf", "-Inf": "-Inf"}
DURATION = re.compile(r"(\d+(ms|y|w|d|h|m|s))+")
STRING = re.compile(r'"(\\.|[^"\\\n])*"|\'(\\.|[^\'\\\n])*\'|`[^`]*`')
MATCHER = re.compile(r'\s*(([A-Za-z_][A-Za-z0-9_]*|"\s*")\s*(=~|!~|!=|=)\s*)?"\s*"\s*')  # strings blanked
PAIRS = {"(": ")", "[": "]", "{": "}"}


# --------------------------------------------------------------------------------------------
# PromQL and values.
# --------------------------------------------------------------------------------------------

def promql_problem(query: str) -> str | None:
    """What Prometheus's parser would refuse in a query, roughly: None when it looks like PromQL.
    Checks: not empty, quotes closed, brackets balanced, `[range]` and `[range:step]` durations,
    `{label matchers}`."""
    if not query.strip():
        return "1:1: parse error: no expression found in input"
    blanked = STRING.sub(lambda found: '"' + " " * (len(found.group()) - 2) + '"', query)
    for quote in "\"'`":
        if blanked.count(quote) % 2:
            return f"1:{blanked.rindex(quote) + 1}: parse error: unterminated quoted string"
    stack = []
    for index, char in enumerate(blanked):
        if char in PAIRS:
            stack.append((char, index))
        elif char in PAIRS.values():
            if not stack or PAIRS[stack[-1][0]] != char:
                return f"1:{index + 1}: parse error: unexpected {char!r}"
            opener, start = stack.pop()
            inside = blanked[start + 1:index]
            if opener == "[":
                parts = inside.split(":")
                bad = [part for n, part in enumerate(parts) if not DURATION.fullmatch(part.strip())
                       and not (n == 1 and not part.strip())]
                if len(parts) > 2 or bad:
                    return f"1:{start + 2}: parse error: bad number or duration syntax: {inside.strip()!r}"
            elif opener == "{" and inside.strip() and not all(MATCHER.fullmatch(item) for item in inside.split(",")
                                                                if item.strip()):
                return f"1:{start + 2}: parse error: unexpected character inside braces: {inside.strip()!r}"
    if stack:
        char, index = stack[-1]
        return f"1:{index + 1}: parse error: unclosed left {'parenthesis' if char == '(' else 'bracket'}"
    return None


def sample_value(value) -> str:
    """A number as Prometheus writes a sample (strconv 'f', -1): "0.01", "1", "NaN", "+Inf"."""
    if isinstance(value, str):
        return SPECIAL_VALUES.get(value, value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    text = format(Decimal(repr(float(value))), "f")
    return text[:-2] if text.endswith(".0") else text


def check_value(key: str, value) -> None:
    """A value a query can be answered: a number, null (no data), "NaN", "+Inf", "-Inf", a number
    as a string, or {"series": [{"metric": {...}, "value": v}, ...]} for several series."""
    if value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)):
        return
    if isinstance(value, str):
        try:
            float(value)
            return
        except ValueError:
            pass
    if isinstance(value, dict) and set(value) == {"series"} and isinstance(value["series"], list):
        for series in value["series"]:
            if not isinstance(series, dict) or not isinstance(series.get("metric", {}), dict) or "value" not in series \
                    or series["value"] is None:
                raise fakeserver.ControlError(f"{key}: each series is {{\"metric\": {{...}}, \"value\": number}}")
            check_value(key, series["value"])
        return
    raise fakeserver.ControlError(f"{key}: a value is a number, null, \"NaN\", \"+Inf\", \"-Inf\" or {{\"series\": [...]}}")


def parse_time(text: str) -> float:
    """A `time` parameter as Prometheus reads it: Unix seconds or RFC 3339; ValueError otherwise."""
    try:
        return float(text)
    except ValueError:
        pass
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc).timestamp()


def unix(value: float):
    value = round(value, 3)
    return int(value) if value.is_integer() else value


# --------------------------------------------------------------------------------------------
# The fake.
# --------------------------------------------------------------------------------------------

class PrometheusFake(fakeserver.PlatformFake):
    """Query values, alerts, controls and recorded requests, behind one lock."""

    name = "fake_prometheus"
    CONTROL_KEYS = ("values", "alerts")

    def __init__(self, description: openapi.Description, token: str | None = None, verbose: bool = False):
        self.description = description
        self.token = token
        super().__init__(verbose)

    # ---- controls ------------------------------------------------------------------------------

    def reset(self) -> None:
        with self.lock:
            super().reset()
            self.values = fakeserver.ScriptedValues.of_queries(check_value)
            self.alerts: dict[str, dict] = {}

    def control_keys(self) -> set[str]:
        return super().control_keys() | set(self.CONTROL_KEYS)

    def control_view(self) -> dict:
        return dict(super().control_view(), values=self.values.view(), taken=self.values.taken_view(),
                    alerts={name: alert["state"] for name, alert in self.alerts.items()})

    def apply_controls(self, settings: dict) -> None:
        super().apply_controls(settings)
        if "values" in settings:
            self.values.apply(settings["values"])
        if "alerts" in settings:
            self._control_alerts(settings["alerts"])

    def _control_alerts(self, table) -> None:
        """Merges {alertname: "firing" | "pending" | {state, labels, annotations, value} | null}."""
        if not isinstance(table, dict):
            raise fakeserver.ControlError("alerts takes {\"AlertName\": \"firing\" | \"pending\" | {...} | null}")
        for name, given in table.items():
            if given is None:
                self.alerts.pop(name, None)
                continue
            alert = {"state": given} if isinstance(given, str) else given
            if not isinstance(alert, dict) or alert.get("state") not in ALERT_STATES \
                    or not set(alert) <= {"state", "labels", "annotations", "value"} \
                    or not all(isinstance(alert.get(key, {}), dict) for key in ("labels", "annotations")):
                raise fakeserver.ControlError(f"alerts[{name!r}] takes \"firing\", \"pending\", null or "
                                              "{\"state\", \"labels\"?, \"annotations\"?, \"value\"?}")
            self.alerts[name] = {"labels": {}, "annotations": {}, "value": "1e+00", **alert,
                                 "activeAt": self.alerts.get(name, {}).get("activeAt") or now_rfc3339()}

    def state(self) -> dict:
        with self.lock:
            return dict(super().state(), controls=self.control_view(), alerts=self.rendered_alerts())

    # ---- the pipeline --------------------------------------------------------------------------

    def log_entry(self, request: fakeserver.Request) -> dict:
        return {"method": request.method, "path": request.path, "query": openapi.flat_query(request),
                "body": request.logged_body(), "params": None, "operation": None,
                "headers": request.headers_without("Authorization"), "status": None}

    def refused(self, request: fakeserver.Request) -> None:
        if self.token is not None and request.header("Authorization") != f"Bearer {self.token}":
            raise FakeError(401, "unauthorized", "Unauthorized: a valid bearer token is required",
                            {"WWW-Authenticate": 'Bearer realm="prometheus"'})

    def error_value(self, request, error: FakeError):
        return {"status": "error", "errorType": error.code, "error": error.message}

    def rate_limited(self) -> FakeError:
        return FakeError(429, "too_many_requests", "too many requests", {"Retry-After": self.faults.retry_after_header()})

    def server_error(self) -> FakeError:
        return FakeError(500, "internal", "internal server error")

    def failing(self, status: int) -> FakeError:
        if status == 503:
            return FakeError(503, "unavailable", "Service Unavailable")
        return super().failing(status)

    def api(self, request: fakeserver.Request) -> fakeserver.Answer:
        try:
            call = self.description.check(request)
        except openapi.Invalid as invalid:
            raise FakeError(400, "bad_data", f"invalid parameter {invalid.name!r}: {invalid.message}"
                            if invalid.where == "parameter" else invalid.message)
        params = {**call.query, **(call.body or {})}
        with self.lock:
            request.log.update(params=params, operation=call.operation.id)
        if call.operation.id in ("query", "query-post"):
            return self.json(200, self.instant_query(params))
        if call.operation.id == "alerts":
            with self.lock:
                return self.json(200, {"status": "success", "data": {"alerts": self.rendered_alerts()}})
        raise FakeError(501, "not_implemented", f"the fake does not model {call.operation.method} /api/v1{call.operation.template}")

    # ---- the API -------------------------------------------------------------------------------

    def instant_query(self, params: dict) -> dict:
        query = str(params["query"])
        problem = promql_problem(query)
        if problem:
            raise FakeError(400, "bad_data", f'invalid parameter "query": {problem}')
        at = time.time()
        if "time" in params:
            try:
                at = parse_time(str(params["time"]))
            except ValueError:
                raise FakeError(400, "bad_data", f'invalid parameter "time": cannot parse "{params["time"]}" to a valid timestamp')
        with self.lock:
            value = self.values.take_contained(query)  # None: no key in it, no data
        if value is None:
            result = []
        elif isinstance(value, dict):
            result = [{"metric": dict(series.get("metric") or {}), "value": [unix(at), sample_value(series["value"])]}
                      for series in value["series"]]
        else:
            result = [{"metric": {}, "value": [unix(at), sample_value(value)]}]
        return {"status": "success", "data": {"resultType": "vector", "result": result}}

    def rendered_alerts(self) -> list[dict]:
        return [{"labels": {"alertname": name, **alert["labels"]}, "annotations": dict(alert["annotations"]),
                 "state": alert["state"], "activeAt": alert["activeAt"], "value": str(alert["value"])}
                for name, alert in self.alerts.items()]


def now_rfc3339() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def main(argv=None) -> int:
    parser = fakeserver.argument_parser("Fake Prometheus HTTP API for tests.")
    parser.add_argument("--spec", required=True, help="Prometheus's openapi-3.1.yaml")
    parser.add_argument("--token", default=None, help="the bearer token to require (default: none required)")
    return fakeserver.serve(parser, argv, lambda args: PrometheusFake(openapi.Description(args.spec), args.token, args.verbose))


if __name__ == "__main__":
    sys.exit(main())
