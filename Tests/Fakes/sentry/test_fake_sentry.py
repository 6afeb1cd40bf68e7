"""fake_sentry.py against Sentry's OpenAPI 3.0.3 description: releases (201, then 208), deploys,
a release's new issues and error events answered in the description's shapes (`conforms`), what
it does not describe refused 400, the bearer token, every control and the faults."""

from __future__ import annotations

import urllib.parse

import pytest

import openapi
from conftest import Client

TOKEN = "sntrys-tests"
ORG = "/api/0/organizations/acme"
RELEASE = "crm-api@1.4.2"
QUOTED = urllib.parse.quote(RELEASE, safe="")
WINDOW = {"start": "2026-01-02T13:30:00", "end": "2026-01-02T13:40:00"}


class Sentry(Client):
    """A client of the fake; `conforms` (conftest.Client) checks an answer against the description."""

    def call(self, method, path, body=None, *, params=None, token=TOKEN, raw=None):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        target = path + ("?" + urllib.parse.urlencode(params, doseq=True) if params else "")
        return self.server.request(method, target, body, headers=headers, raw=raw)

    def release(self, version=RELEASE, projects=("crm-api",), **fields):
        return self.call("POST", f"{ORG}/releases/", {"version": version, "projects": list(projects), **fields})

    def deploy(self, version=QUOTED, environment="main", **fields):
        return self.call("POST", f"{ORG}/releases/{version}/deploys/", {"environment": environment, **fields})

    def issues(self, version=RELEASE, *, token=TOKEN, **params):
        return self.call("GET", f"{ORG}/issues/", params={"query": f'firstRelease:"{version}" level:error', **WINDOW, **params},
                         token=token)

    def errors(self, version=RELEASE, *, token=TOKEN, **params):
        return self.call("GET", f"{ORG}/events/", params={"dataset": "errors", "field": "count()",
                                                          "query": f'release:"{version}"', **WINDOW, **params}, token=token)


@pytest.fixture(scope="module")
def client(launch, specs) -> Sentry:
    spec = str(specs / "sentry/openapi-derefed.json")
    return Sentry(launch("sentry/fake_sentry.py", "--spec", spec, "--token", TOKEN), openapi.Description(spec))


@pytest.fixture
def sentry(client) -> Sentry:
    return client.reset()


# ---- credentials -------------------------------------------------------------------------------

def test_requests_need_the_bearer_token(sentry):
    missing = sentry.call("POST", f"{ORG}/releases/", {"version": RELEASE, "projects": []}, token=None)
    assert missing.status == 401 and missing.json == {"detail": "Authentication credentials were not provided."}
    wrong = sentry.issues(token="wrong")
    assert wrong.status == 401 and wrong.json == {"detail": "Invalid token"}
    assert sentry.server.state()["releases"] == []


def test_the_token_is_not_logged(sentry):
    sentry.release()
    entry = sentry.server.state()["requests"][-1]
    assert "Authorization" not in entry["headers"] and TOKEN not in str(entry)


# ---- releases and deploys ------------------------------------------------------------------------

def test_a_new_release_is_201_and_an_existing_one_208(sentry):
    created = sentry.release(ref="abc123")
    assert created.status == 201 and created.json["version"] == RELEASE and created.json["shortVersion"] == "1.4.2"
    assert created.json["projects"][0]["slug"] == "crm-api" and created.json["deployCount"] == 0
    sentry.conforms("POST", f"{ORG}/releases/", created)
    again = sentry.release()
    assert again.status == 208 and again.json["id"] == created.json["id"]
    assert len(sentry.server.state()["releases"]) == 1
    other_org = sentry.call("POST", "/api/0/organizations/other/releases/", {"version": RELEASE, "projects": ["x"]})
    assert other_org.status == 201


def test_a_deploy_is_201_and_recorded_on_its_release(sentry):
    sentry.release()
    reply = sentry.deploy(name="release 42", dateStarted="2026-01-02T13:30:00Z")
    assert reply.status == 201 and reply.json["environment"] == "main" and reply.json["name"] == "release 42"
    assert reply.json["dateStarted"] == "2026-01-02T13:30:00Z" and reply.json["dateFinished"].endswith("Z")
    sentry.conforms("POST", f"{ORG}/releases/{QUOTED}/deploys/", reply)
    second = sentry.deploy(environment="dev")
    assert second.status == 201 and second.json["name"] is None
    release = sentry.call("GET", f"{ORG}/releases/{QUOTED}/")
    assert release.json["deployCount"] == 2 and release.json["lastDeploy"]["environment"] == "dev"
    sentry.conforms("GET", f"{ORG}/releases/{QUOTED}/", release)
    listed = sentry.call("GET", f"{ORG}/releases/{QUOTED}/deploys/")
    assert [deploy["environment"] for deploy in listed.json] == ["dev", "main"]
    sentry.conforms("GET", f"{ORG}/releases/{QUOTED}/deploys/", listed)
    state = sentry.server.state()["releases"][0]
    assert state["organization"] == "acme" and [d["environment"] for d in state["deploys"]] == ["main", "dev"]
    assert state["deploys"][0]["projects"] == ["crm-api"]


def test_a_deploy_of_an_unknown_release_is_404(sentry):
    reply = sentry.deploy()
    assert reply.status == 404 and reply.json == {"detail": "The requested resource does not exist"}
    assert sentry.call("GET", f"{ORG}/releases/{QUOTED}/").status == 404


@pytest.mark.parametrize("body, answer", [
    ({"projects": ["crm-api"]}, {"version": ["This field is required."]}),
    ({"version": RELEASE}, {"projects": ["This field is required."]}),
    ({"version": "x" * 201, "projects": []}, "version"),
    ({"version": RELEASE, "projects": "crm-api"}, "projects"),
    ({"version": "a/b", "projects": []}, {"version": ["Release with name a/b is not allowed"]}),
    ([RELEASE], "non_field_errors"),
], ids=["no version", "no projects", "version too long", "projects not a list", "slash in version", "not an object"])
def test_bad_releases_are_400_by_field(sentry, body, answer):
    reply = sentry.call("POST", f"{ORG}/releases/", body)
    assert reply.status == 400, reply.text
    assert reply.json == answer if isinstance(answer, dict) else list(reply.json) == [answer]


def test_a_deploy_needs_an_environment(sentry):
    sentry.release()
    reply = sentry.call("POST", f"{ORG}/releases/{QUOTED}/deploys/", {"name": "x"})
    assert reply.status == 400 and reply.json == {"environment": ["This field is required."]}
    assert sentry.call("POST", f"{ORG}/releases/{QUOTED}/deploys/", raw=b"{oops").json["detail"].startswith("the request body")


@pytest.mark.parametrize("method, path", [
    ("POST", f"{ORG}/releases"), ("PATCH", f"{ORG}/releases/"), ("GET", "/api/0/nothing/"), ("POST", f"{ORG}/issues/"),
], ids=["no trailing slash", "wrong method", "unknown path", "post issues"])
def test_undescribed_paths_and_methods_are_400(sentry, method, path):
    reply = sentry.call(method, path, {"version": RELEASE, "projects": []})
    assert reply.status == 400 and reply.json["detail"].startswith("the API has no"), reply.text


def test_described_operations_the_fake_does_not_model_answer_501(sentry):
    assert sentry.call("GET", f"{ORG}/releases/").status == 501


# ---- new issues ----------------------------------------------------------------------------------

def test_new_issues_of_a_release_are_listed(sentry):
    sentry.control(new_issues={RELEASE: [3, None, 0, 120]})
    first = sentry.issues()
    assert first.status == 200 and len(first.json) == 3 and {issue["level"] for issue in first.json} == {"error"}
    sentry.conforms("GET", f"{ORG}/issues/", first)
    assert 'results="false"' in first.headers["link"].split(",")[1]
    assert sentry.issues().json == [] and sentry.issues().json == []
    many = sentry.issues()
    assert len(many.json) == 100 and 'rel="next"; results="true"; cursor="0:100:0"' in many.headers["link"]
    rest = sentry.issues(cursor="0:100:0")
    assert len(rest.json) == 20 and rest.json[0]["shortId"] == "CRM-API-101"
    assert sentry.control()["taken"]["new_issues"] == {RELEASE: 5}


def test_other_releases_and_other_searches_have_no_new_issues(sentry):
    sentry.control(new_issues={RELEASE: 2})
    assert sentry.issues(version="crm-api@1.4.1").json == []
    assert sentry.call("GET", f"{ORG}/issues/", params={"query": "is:unresolved"}).json == []
    assert len(sentry.call("GET", f"{ORG}/issues/", params={"query": f"first-release:{RELEASE}"}).json) == 2


def test_the_project_issues_list_answers_too(sentry):
    sentry.control(new_issues={RELEASE: 1})
    path = "/api/0/projects/acme/crm-api/issues/"
    reply = sentry.call("GET", path, params={"query": f"firstRelease:{RELEASE}", "statsPeriod": "24h"})
    assert reply.status == 200 and len(reply.json) == 1 and reply.json[0]["project"]["slug"] == "crm-api"
    sentry.conforms("GET", path, reply)


@pytest.mark.parametrize("params, says", [
    ({"start": "2026-01-02T13:30:00"}, "both required"), ({"start": "today", "end": "tomorrow"}, "ISO 8601"),
    ({"statsPeriod": "5 minutes"}, "statsPeriod"), ({"start": WINDOW["end"], "end": WINDOW["start"]}, "before"),
    ({"limit": "all"}, "'limit'"), ({"sort": "oldest"}, "'sort'"), ({"statsperiod": "1h"}, "unknown query parameter"),
    ({"cursor": "next"}, "cursor"),
])
def test_bad_issue_searches_are_400(sentry, params, says):
    reply = sentry.call("GET", f"{ORG}/issues/", params={"query": f"firstRelease:{RELEASE}", **params})
    assert reply.status == 400 and says in reply.json["detail"], reply.text


# ---- error events --------------------------------------------------------------------------------

def test_error_events_of_a_release_are_counted(sentry):
    sentry.control(errors={RELEASE: [12, None, 0]})
    reply = sentry.errors()
    assert reply.status == 200 and reply.json["data"] == [{"count()": 12}]
    assert reply.json["meta"]["fields"] == {"count()": "integer"}
    sentry.conforms("GET", f"{ORG}/events/", reply)
    assert sentry.errors().json["data"] == []
    assert sentry.errors().json["data"] == [{"count()": 0}] == sentry.errors(statsPeriod="10m").json["data"]
    assert sentry.errors(version="crm-api@1.4.1").json["data"] == []
    assert sentry.errors(dataset="spans").json["data"] == []


def test_the_request_log_shows_the_span_asked(sentry):
    sentry.errors(project="12")
    entry = sentry.server.state()["requests"][-1]
    assert entry == {"method": "GET", "path": f"{ORG}/events/", "query": {"dataset": "errors", "field": "count()",
                     "query": f'release:"{RELEASE}"', **WINDOW, "project": "12"}, "body": None,
                     "operation": "listOrganizationEvents", "headers": entry["headers"], "status": 200}


@pytest.mark.parametrize("params, status", [
    ({"dataset": "errors"}, 400), ({"field": "count()"}, 400), ({"field": "count()", "dataset": "metrics"}, 400),
    ({"field": ["count()", "title"], "dataset": "errors"}, 501),
], ids=["no field", "no dataset", "unknown dataset", "other fields"])
def test_event_queries_need_field_and_dataset(sentry, params, status):
    assert sentry.call("GET", f"{ORG}/events/", params={"query": f"release:{RELEASE}", **params}).status == status


# ---- controls and faults -------------------------------------------------------------------------

@pytest.mark.parametrize("settings", [
    {"new_issues": [1]}, {"new_issues": {RELEASE: -1}}, {"errors": {RELEASE: []}}, {"errors": {RELEASE: "3"}},
    {"errors": {RELEASE: [True]}}, {"fail_all": 600},
])
def test_bad_controls_are_refused(sentry, settings):
    reply = sentry.server.request("POST", "/__control", settings)
    assert reply.status == 400 and "error" in reply.json


def test_reset_clears_everything(sentry):
    sentry.control(new_issues={RELEASE: 1}, errors={RELEASE: 1}, fail_all=500)
    controls = sentry.control(reset=True)
    assert controls["new_issues"] == {} and controls["errors"] == {} and controls["fail_all"] is None
    assert sentry.server.state()["releases"] == [] and sentry.server.state()["requests"] == []


def test_answers_carry_the_rate_limit_headers(sentry):
    headers = sentry.errors().headers
    assert headers["x-sentry-rate-limit-limit"] == "40" and headers["x-sentry-rate-limit-remaining"] == "39"


def test_fail_all_fails_every_request_until_cleared(sentry):
    sentry.control(fail_all=429, retry_after=4)
    for _ in range(2):
        reply = sentry.release()
        assert reply.status == 429 and reply.headers["retry-after"] == "4" and "too frequently" in reply.json["detail"]
        assert reply.headers["x-sentry-rate-limit-remaining"] == "0"
    sentry.control(fail_all=503)
    assert sentry.errors().status == 503 and sentry.issues(token="wrong").status == 401
    sentry.control(fail_all=None)
    assert sentry.release().status == 201


def test_one_shot_faults(sentry):
    sentry.control(rate_limit_next=1, error_next=1, malformed_next=1)
    assert sentry.release().status == 429
    assert sentry.release().status == 500
    garbled = sentry.release()
    assert garbled.status == 200 and garbled.json is None
    assert sentry.release().status == 208  # the garbled answer's release was created
    assert [entry["status"] for entry in sentry.server.state()["requests"]] == [429, 500, 200, 208]
