"""fake_datadog.py against Datadog's OpenAPI 3.0 description (API v1): metric queries, monitors
and events answered in the description's shapes (`conforms`), what it does not describe refused
400, the API and application keys, every control, the rate-limit headers and the faults."""

from __future__ import annotations

import time
import urllib.parse

import pytest

import openapi
from conftest import Client

API_KEY = "dd-api-key-tests"
APP_KEY = "dd-app-key-tests"
P95 = "p95:trace.django.request{service:crm-api,version:1.4.2}"
WINDOW = {"from": "1767436320", "to": "1767436620"}


class Datadog(Client):
    """A client of the fake; `conforms` (conftest.Client) checks an answer against the description."""

    def call(self, method, path, body=None, *, params=None, api_key=API_KEY, app_key=APP_KEY, raw=None):
        headers = {name: value for name, value in (("DD-API-KEY", api_key), ("DD-APPLICATION-KEY", app_key)) if value}
        target = path + ("?" + urllib.parse.urlencode(params) if params else "")
        return self.server.request(method, target, body, headers=headers, raw=raw)

    def query(self, query, **options):
        return self.call("GET", "/api/v1/query", params={**WINDOW, "query": query}, **options)

    def event(self, body=None, **options):
        return self.call("POST", "/api/v1/events", body or {"title": "Deployed crm-api 1.4.2 to main",
                                                             "text": "release deploy main", "tags": ["env:main"]}, **options)

    @staticmethod
    def values(reply):
        """The values of the one series' points, or None when there is no series."""
        series = reply.json["series"]
        assert len(series) <= 1
        return [value for _, value in series[0]["pointlist"]] if series else None


@pytest.fixture(scope="module")
def client(launch, specs) -> Datadog:
    spec = str(specs / "datadog/v1-openapi.yaml")
    server = launch("datadog/fake_datadog.py", "--spec", spec, "--token", API_KEY, "--app-key", APP_KEY)
    return Datadog(server, openapi.Description(spec))


@pytest.fixture
def dd(client) -> Datadog:
    return client.reset()


# ---- credentials -------------------------------------------------------------------------------

@pytest.mark.parametrize("api_key, app_key", [(None, APP_KEY), ("wrong", APP_KEY), (API_KEY, None), (API_KEY, "wrong")],
                         ids=["no api key", "wrong api key", "no app key", "wrong app key"])
def test_queries_and_monitors_need_both_keys(dd, api_key, app_key):
    dd.control(monitors={"1234567": "OK"})
    for reply in (dd.query(P95, api_key=api_key, app_key=app_key),
                  dd.call("GET", "/api/v1/monitor/1234567", api_key=api_key, app_key=app_key)):
        assert reply.status == 403 and reply.json == {"errors": ["Forbidden"]}
        dd.conforms("GET", "/api/v1/query", reply)


def test_events_need_only_the_api_key(dd):
    assert dd.event(app_key=None).status == 202
    assert dd.event(api_key="wrong").status == 403 and dd.event(api_key=None).json == {"errors": ["Forbidden"]}


def test_keys_are_never_logged(dd):
    dd.query(P95)
    dd.call("GET", "/api/v1/query", params={**WINDOW, "query": P95, "api_key": API_KEY, "application_key": APP_KEY})
    requests = dd.server.state()["requests"]
    assert API_KEY not in str(requests) and APP_KEY not in str(requests)
    assert requests[-1]["status"] == 400 and requests[-1]["query"]["api_key"] == "[hidden]"


# ---- metric queries ------------------------------------------------------------------------------

def test_a_query_without_a_value_has_no_series(dd):
    reply = dd.query(P95)
    assert reply.status == 200 and reply.json["status"] == "ok" and reply.json["series"] == []
    assert reply.json["from_date"] == 1767436320000 and reply.json["to_date"] == 1767436620000
    dd.conforms("GET", "/api/v1/query", reply)


def test_values_are_taken_in_turn_and_the_last_repeats(dd):
    dd.control(values={"trace.django.request": [0.25, None, "NaN", 0.9]})
    answers = [dd.query(P95) for _ in range(5)]
    assert [dd.values(reply) for reply in answers] == [[0.25] * 5, None, [None] * 5, [0.9] * 5, [0.9] * 5]
    for reply in answers:
        dd.conforms("GET", "/api/v1/query", reply)
    series = answers[0].json["series"][0]
    assert series["metric"] == "trace.django.request" and series["scope"] == "service:crm-api,version:1.4.2"
    assert series["expression"] == P95 and series["length"] == 5 and series["interval"] == 60
    assert [stamp for stamp, _ in series["pointlist"]] == [1767436380000.0 + 60000 * n for n in range(5)]
    assert dd.control()["taken"] == {"trace.django.request": 5}


def test_a_pointlist_is_answered_as_given_and_other_queries_have_no_data(dd):
    dd.control(values={"version:1.4.2": {"pointlist": [0.1, None, 0.3]}})
    assert dd.values(dd.query(P95)) == [0.1, None, 0.3]
    assert dd.values(dd.query("avg:system.load.1{*}")) is None


def test_the_request_log_shows_the_window_asked(dd):
    dd.query(P95)
    entry = dd.server.state()["requests"][-1]
    assert entry == {"method": "GET", "path": "/api/v1/query", "query": {**WINDOW, "query": P95}, "body": None,
                     "operation": "QueryMetrics", "headers": entry["headers"], "status": 200}
    assert not {"DD-API-KEY", "DD-APPLICATION-KEY"} & set(entry["headers"])


@pytest.mark.parametrize("params, says", [
    ({"to": "1767436620", "query": P95}, "'from' is required"),
    ({"from": "yesterday", "to": "1767436620", "query": P95}, "'from'"),
    ({**WINDOW, "query": P95, "interval": "60"}, "unknown query parameter 'interval'"),
    ({"from": "1767436620", "to": "1767436320", "query": P95}, "Invalid time range"),
    ({**WINDOW, "query": "p95:trace.django.request{version:{{version}}}"}, "Error parsing query"),
    ({**WINDOW, "query": "avg:system.load.1{*"}, "Error parsing query"),
    ({**WINDOW, "query": "system.load.1"}, "scope"),
], ids=["no from", "from not a number", "undescribed parameter", "from after to", "template left", "unclosed", "no scope"])
def test_bad_queries_are_400(dd, params, says):
    reply = dd.call("GET", "/api/v1/query", params=params)
    assert reply.status == 400 and says in reply.json["errors"][0], reply.text
    dd.conforms("GET", "/api/v1/query", reply)


@pytest.mark.parametrize("method, path", [("GET", "/api/v1/nothing"), ("DELETE", "/api/v1/query"), ("GET", "/api/v2/query")])
def test_undescribed_paths_and_methods_are_400(dd, method, path):
    reply = dd.call(method, path)
    assert reply.status == 400 and reply.json["errors"][0].startswith("the API has no"), reply.text


def test_described_operations_the_fake_does_not_model_answer_501(dd):
    assert dd.call("GET", "/api/v1/monitor").status == 501


# ---- monitors ------------------------------------------------------------------------------------

def test_monitor_states_are_set_and_answered(dd):
    assert dd.call("GET", "/api/v1/monitor/1234567").status == 404
    dd.control(monitors={"1234567": "Alert", "42": {"overall_state": "No Data", "name": "crm-api SLO"}})
    reply = dd.call("GET", "/api/v1/monitor/1234567")
    assert reply.status == 200 and reply.json["id"] == 1234567 and reply.json["overall_state"] == "Alert"
    dd.conforms("GET", "/api/v1/monitor/1234567", reply)
    dd.control(monitors={"1234567": "Warn", "42": None})
    assert dd.call("GET", "/api/v1/monitor/1234567").json["overall_state"] == "Warn"
    missing = dd.call("GET", "/api/v1/monitor/42")
    assert missing.status == 404 and missing.json == {"errors": ["Monitor not found"]}
    assert dd.control()["monitors"] == {"1234567": "Warn"}
    assert dd.call("GET", "/api/v1/monitor/1234567", params={"group_states": "all"}).status == 200


def test_a_monitor_id_must_be_an_integer(dd):
    reply = dd.call("GET", "/api/v1/monitor/slo")
    assert reply.status == 400 and "monitor_id" in reply.json["errors"][0]


# ---- events --------------------------------------------------------------------------------------

def test_an_event_is_accepted_202_and_recorded(dd):
    body = {"title": "Deployed crm-api 1.4.2", "text": "to main", "tags": ["env:main", "version:1.4.2"],
            "alert_type": "success", "aggregation_key": "crm-api-main", "source_type_name": "release"}
    reply = dd.event(body)
    assert reply.status == 202 and reply.json["status"] == "ok"
    event = reply.json["event"]
    assert event["title"] == body["title"] and event["tags"] == body["tags"] and event["alert_type"] == "success"
    assert event["id_str"] == str(event["id"]) and abs(event["date_happened"] - time.time()) < 60
    dd.conforms("POST", "/api/v1/events", reply)
    recorded = dd.server.state()["events"]
    assert len(recorded) == 1 and recorded[0]["aggregation_key"] == "crm-api-main"
    assert dd.server.state()["requests"][-1]["body"] == body


@pytest.mark.parametrize("body, says", [
    ({"text": "no title"}, "title"), ({"title": "t", "text": "x" * 4001}, "text"),
    ({"title": "t", "text": "x", "alert_type": "fatal"}, "alert_type"), ({"title": "t", "text": "x", "tags": "env:main"}, "tags"),
], ids=["no title", "text too long", "unknown alert type", "tags not a list"])
def test_bad_events_are_400(dd, body, says):
    reply = dd.event(body)
    assert reply.status == 400 and says in reply.json["errors"][0], reply.text
    dd.conforms("POST", "/api/v1/events", reply)


def test_an_event_needs_a_json_body(dd):
    assert dd.call("POST", "/api/v1/events").status == 400
    assert dd.call("POST", "/api/v1/events", raw=b"{title").status == 400


# ---- rate limits, controls and faults ------------------------------------------------------------

def test_answers_carry_the_rate_limit_headers(dd):
    headers = dd.query(P95).headers
    assert headers["x-ratelimit-limit"] == "1600" and headers["x-ratelimit-period"] == "3600"
    assert headers["x-ratelimit-remaining"] == "1599" and headers["x-ratelimit-name"] == "query"
    assert 0 < int(headers["x-ratelimit-reset"]) <= 3600


def test_rate_limit_next_answers_429_with_the_reset(dd):
    dd.control(rate_limit_next=1, retry_after=12)
    reply = dd.query(P95)
    assert reply.status == 429 and "Rate limit" in reply.json["errors"][0] and "retry-after" not in reply.headers
    assert reply.headers["x-ratelimit-remaining"] == "0" and reply.headers["x-ratelimit-reset"] == "12"
    assert reply.headers["x-ratelimit-name"] == "query"
    dd.conforms("GET", "/api/v1/query", reply)
    assert dd.query(P95).status == 200


def test_fail_all_fails_every_request_until_cleared(dd):
    dd.control(fail_all=429, retry_after=3)
    for _ in range(3):
        reply = dd.query(P95)
        assert reply.status == 429 and reply.headers["x-ratelimit-reset"] == "3"
    dd.control(fail_all=502)
    assert dd.event().status == 502
    assert dd.event(api_key="wrong").status == 403
    dd.control(fail_all=None)
    assert dd.query(P95).status == 200


def test_one_shot_faults(dd):
    dd.control(error_next=1, malformed_next=1, hang_next=1, hang_seconds=0.3)
    started = time.monotonic()
    reply = dd.query(P95)
    assert reply.status == 500 and reply.json == {"errors": ["Internal Server Error"]}
    assert time.monotonic() - started >= 0.3
    garbled = dd.query(P95)
    assert garbled.status == 200 and garbled.json is None
    assert [entry["status"] for entry in dd.server.state()["requests"]] == [500, 200]


@pytest.mark.parametrize("settings", [
    {"values": {"x": [True]}}, {"values": {"x": "+Inf"}}, {"values": {"x": {"pointlist": []}}}, {"values": []},
    {"monitors": {"abc": "OK"}}, {"monitors": {"1": "Broken"}}, {"monitors": {"1": {"colour": "red"}}},
    {"monitors": {"1": {"type": "no such type"}}}, {"fail_all": "yes"},
])
def test_bad_controls_are_refused(dd, settings):
    reply = dd.server.request("POST", "/__control", settings)
    assert reply.status == 400 and "error" in reply.json


def test_reset_clears_everything(dd):
    dd.control(values={"x": 1}, monitors={"1": "OK"}, fail_all=500)
    dd.event()
    controls = dd.control(reset=True)
    assert controls["values"] == {} and controls["monitors"] == {} and controls["fail_all"] is None
    state = dd.server.state()
    assert state["events"] == [] and state["requests"] == [] and state["monitors"] == []
