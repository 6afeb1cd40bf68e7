"""fake_prometheus.py against Prometheus's OpenAPI 3.1 description: instant queries (GET and
form POST) and alerts answered in the description's shapes (`conforms`), what it does not
describe refused 400 bad_data, the bearer token, every control and the faults."""

from __future__ import annotations

import urllib.parse

import pytest

import openapi
from conftest import Client

TOKEN = "tok-prometheus-tests"
ERROR_RATIO = ('sum(rate(http_requests_total{status=~"5..",version="1.4.2"}[300s])) '
               '/ sum(rate(http_requests_total{version="1.4.2"}[300s]))')


class Prometheus(Client):
    """A client of the fake; `conforms` (conftest.Client) checks an answer against the description."""

    def call(self, method, path, *, params=None, form=None, token=TOKEN, raw=None, content_type=None):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        target = path + ("?" + urllib.parse.urlencode(params) if params else "")
        if form is not None:
            raw = urllib.parse.urlencode(form).encode()
            content_type = content_type or "application/x-www-form-urlencoded"
        if content_type:
            headers["Content-Type"] = content_type
        return self.server.request(method, target, headers=headers, raw=raw)

    def query(self, query, *, token=TOKEN, **params):
        return self.call("GET", "/api/v1/query", params={"query": query, **params}, token=token)

    def value(self, reply):
        """The one sample's value, or None for an empty vector."""
        result = reply.json["data"]["result"]
        assert len(result) <= 1
        return result[0]["value"][1] if result else None


@pytest.fixture(scope="module")
def client(launch, specs) -> Prometheus:
    spec = str(specs / "prometheus/openapi-3.1.yaml")
    return Prometheus(launch("prometheus/fake_prometheus.py", "--spec", spec, "--token", TOKEN), openapi.Description(spec))


@pytest.fixture
def prom(client) -> Prometheus:
    return client.reset()


@pytest.fixture(scope="module")
def open_prom(launch, specs) -> Prometheus:
    """The fake started without --token: no credentials required."""
    spec = str(specs / "prometheus/openapi-3.1.yaml")
    return Prometheus(launch("prometheus/fake_prometheus.py", "--spec", spec), openapi.Description(spec))


# ---- credentials -------------------------------------------------------------------------------

@pytest.mark.parametrize("token", [None, "wrong"], ids=["none", "wrong"])
def test_a_wrong_or_missing_token_is_refused_401(prom, token):
    reply = prom.call("GET", "/api/v1/query", params={"query": "up"}, token=token)
    assert reply.status == 401 and reply.json["status"] == "error" and reply.json["errorType"] == "unauthorized"
    assert reply.headers["www-authenticate"].startswith("Bearer")


def test_without_token_flag_no_credentials_are_needed(open_prom):
    open_prom.control(reset=True)
    assert open_prom.query("up", token=None).status == 200


def test_the_token_is_not_logged(prom):
    prom.query("up")
    entry = prom.server.state()["requests"][-1]
    assert "Authorization" not in entry["headers"] and TOKEN not in str(entry)


# ---- instant queries -----------------------------------------------------------------------------

def test_a_query_without_a_value_is_an_empty_vector(prom):
    reply = prom.query("up", time="1767436620")
    assert reply.status == 200 and reply.json == {"status": "success", "data": {"resultType": "vector", "result": []}}
    prom.conforms("GET", "/api/v1/query", reply)


def test_values_are_taken_in_turn_and_the_last_repeats(prom):
    prom.control(values={"http_requests_total": [0.01, 0.5, None, "NaN", 1e-7, 3]})
    answers = [prom.query(ERROR_RATIO, time="1767436620") for _ in range(7)]
    assert [prom.value(reply) for reply in answers] == ["0.01", "0.5", None, "NaN", "0.0000001", "3", "3"]
    first = answers[0].json["data"]["result"][0]
    assert first == {"metric": {}, "value": [1767436620, "0.01"]}
    for reply in answers:
        prom.conforms("GET", "/api/v1/query", reply)
    assert prom.control()["taken"] == {"http_requests_total": 7}


def test_the_first_matching_key_answers_and_others_get_no_data(prom):
    prom.control(values={"status=~": 0.2, "http_requests_total": 9, "+Inf": "+Inf"})
    assert prom.value(prom.query(ERROR_RATIO)) == "0.2"
    assert prom.value(prom.query("sum(http_requests_total)")) == "9"
    assert prom.value(prom.query("latency_seconds")) is None


def test_series_give_several_samples(prom):
    prom.control(values={"by (version)": {"series": [{"metric": {"version": "1.4.2"}, "value": 0.1},
                                                     {"metric": {"version": "1.4.1"}, "value": "-Inf"}]}})
    reply = prom.query("sum by (version) (rate(x[5m]))", time="2026-01-02T13:37:00Z")
    assert reply.json["data"]["result"] == [{"metric": {"version": "1.4.2"}, "value": [1767361020, "0.1"]},
                                           {"metric": {"version": "1.4.1"}, "value": [1767361020, "-Inf"]}]
    prom.conforms("GET", "/api/v1/query", reply)


def test_a_form_post_is_answered_like_a_get(prom):
    prom.control(values={"http_requests_total": 0.03})
    reply = prom.call("POST", "/api/v1/query", form={"query": ERROR_RATIO, "time": "1767436620.5"})
    assert reply.status == 200 and reply.json["data"]["result"][0]["value"] == [1767436620.5, "0.03"]
    prom.conforms("POST", "/api/v1/query", reply)
    entry = prom.server.state()["requests"][-1]
    assert entry["params"] == {"query": ERROR_RATIO, "time": "1767436620.5"} and entry["operation"] == "query-post"


def test_the_request_log_shows_the_window_asked(prom):
    prom.query(ERROR_RATIO, time="1767436620")
    entry = prom.server.state()["requests"][-1]
    assert entry["method"] == "GET" and entry["path"] == "/api/v1/query" and entry["status"] == 200
    assert entry["query"] == {"query": ERROR_RATIO, "time": "1767436620"} == entry["params"]
    assert "[300s]" in entry["params"]["query"] and entry["operation"] == "query"


# ---- refused requests ----------------------------------------------------------------------------

@pytest.mark.parametrize("method, path, params, says", [
    ("GET", "/api/v1/nothing", {"query": "up"}, "no path"),
    ("DELETE", "/api/v1/query", {"query": "up"}, "no operation DELETE"),
    ("GET", "/api/v1/query", {}, "'query' is required"),
    ("GET", "/api/v1/query", {"query": "up", "limit": "many"}, "'limit'"),
    ("GET", "/api/v1/query", {"query": "up", "window": "5m"}, "unknown query parameter 'window'"),
    ("GET", "/query", {"query": "up"}, "no path"),
], ids=["unknown path", "wrong method", "no query", "limit not a number", "undescribed parameter", "no /api/v1"])
def test_what_the_description_does_not_describe_is_400_bad_data(prom, method, path, params, says):
    reply = prom.call(method, path, params=params)
    assert reply.status == 400 and reply.json["errorType"] == "bad_data" and says in reply.json["error"], reply.text
    prom.conforms("GET", "/api/v1/query", reply)


@pytest.mark.parametrize("query, says", [
    ("rate(x[{{window}}])", "parse error"), ("sum(rate(x[5m])))", "unexpected ')'"), ("x[5q]", "duration"),
    ('x{a="b"', "unclosed"), ('x{a="b}', "unterminated"), ("", "no expression"),
])
def test_bad_promql_is_400_bad_data(prom, query, says):
    reply = prom.query(query)
    assert reply.status == 400 and reply.json["errorType"] == "bad_data", reply.text
    assert reply.json["error"].startswith('invalid parameter "query": ') and says in reply.json["error"]


def test_a_bad_time_is_400_bad_data(prom):
    reply = prom.query("up", time="yesterday")
    assert reply.status == 400 and 'invalid parameter "time"' in reply.json["error"]


def test_a_post_needs_a_form_body_with_a_query(prom):
    assert prom.call("POST", "/api/v1/query").status == 400
    assert prom.call("POST", "/api/v1/query", form={"time": "1"}).status == 400
    reply = prom.call("POST", "/api/v1/query", raw=b'{"query": "up"}', content_type="application/json")
    assert reply.status == 400 and "application/x-www-form-urlencoded" in reply.json["error"]


def test_described_operations_the_fake_does_not_model_answer_501(prom):
    reply = prom.call("GET", "/api/v1/targets")
    assert reply.status == 501 and reply.json["errorType"] == "not_implemented"


# ---- alerts --------------------------------------------------------------------------------------

def test_alerts_are_set_merged_and_removed(prom):
    assert prom.call("GET", "/api/v1/alerts").json == {"status": "success", "data": {"alerts": []}}
    prom.control(alerts={"CrmApiHighErrorRate": "pending", "Watchdog": {"state": "firing", "labels": {"severity": "none"},
                                                                       "annotations": {"summary": "always"}}})
    prom.control(alerts={"CrmApiHighErrorRate": "firing"})
    reply = prom.call("GET", "/api/v1/alerts")
    alerts = {alert["labels"]["alertname"]: alert for alert in reply.json["data"]["alerts"]}
    assert alerts["CrmApiHighErrorRate"]["state"] == "firing" and alerts["Watchdog"]["labels"]["severity"] == "none"
    assert alerts["Watchdog"]["annotations"] == {"summary": "always"} and alerts["Watchdog"]["value"] == "1e+00"
    prom.conforms("GET", "/api/v1/alerts", reply)
    prom.control(alerts={"Watchdog": None})
    assert [a["labels"]["alertname"] for a in prom.call("GET", "/api/v1/alerts").json["data"]["alerts"]] == \
        ["CrmApiHighErrorRate"]
    assert prom.server.state()["alerts"][0]["state"] == "firing"


# ---- controls and faults -------------------------------------------------------------------------

@pytest.mark.parametrize("settings", [
    {"values": [1]}, {"values": {"x": []}}, {"values": {"x": [True]}}, {"values": {"x": "many"}},
    {"values": {"x": {"series": [{"metric": {}}]}}}, {"alerts": {"A": "inactive"}}, {"alerts": ["A"]},
    {"fail_all": 200}, {"nothing": 1},
])
def test_bad_controls_are_refused(prom, settings):
    reply = prom.server.request("POST", "/__control", settings)
    assert reply.status == 400 and "error" in reply.json


def test_reset_clears_values_alerts_and_requests(prom):
    prom.control(values={"x": 1}, alerts={"A": "firing"}, fail_all=500)
    prom.query("x")
    controls = prom.control(reset=True)
    assert controls["values"] == {} and controls["alerts"] == {} and controls["fail_all"] is None
    assert prom.server.state()["requests"] == []


def test_fail_all_fails_every_request_until_cleared(prom):
    prom.control(fail_all=503)
    for _ in range(3):
        reply = prom.query("up")
        assert reply.status == 503 and reply.json == {"status": "error", "errorType": "unavailable",
                                                      "error": "Service Unavailable"}
    prom.control(fail_all=429, retry_after=7)
    reply = prom.call("GET", "/api/v1/alerts")
    assert reply.status == 429 and reply.headers["retry-after"] == "7"
    prom.control(fail_all=None)
    assert prom.query("up").status == 200


def test_fail_all_comes_after_the_token_check(prom):
    prom.control(fail_all=500)
    assert prom.query("up", token="wrong").status == 401
    reply = prom.query("up")
    assert reply.status == 500 and reply.json["errorType"] == "internal"


def test_one_shot_faults(prom):
    prom.control(rate_limit_next=1, retry_after=2, error_next=1, malformed_next=1)
    limited = prom.query("up")
    assert limited.status == 429 and limited.headers["retry-after"] == "2"
    assert prom.query("up").status == 500
    garbled = prom.query("up")
    assert garbled.status == 200 and garbled.json is None
    assert prom.query("up").status == 200
    statuses = [entry["status"] for entry in prom.server.state()["requests"]]
    assert statuses == [429, 500, 200, 200]


def test_hang_next_delays_the_answer(prom):
    import time
    prom.control(hang_next=1, hang_seconds=0.4)
    started = time.monotonic()
    assert prom.query("up").status == 200
    assert time.monotonic() - started >= 0.4
