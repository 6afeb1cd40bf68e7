"""fake_digitalocean.py against DigitalOcean's OpenAPI description: routes, request bodies, the
walk of a deployment, rollbacks with their pin, lists, faults and the test routes. Answers are
checked against the description's response schemas where the tests say so (`conforms`)."""

from __future__ import annotations

import json
import time

import pytest

import fake_digitalocean
from conftest import Client
from fake_digitalocean import LIVE_PHASES

TOKEN = "tok-digitalocean-tests"


class DigitalOcean(Client):
    """A client of the fake; `conforms` (conftest.Client) checks an answer against the description."""

    def call(self, method, path, body=None, *, token=TOKEN, raw=None):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.server.request(method, path, body, headers=headers, raw=raw)

    def app(self, app_id="app-dev") -> dict:
        return self.call("GET", f"/v2/apps/{app_id}").json["app"]

    def walk(self, app_id, deployment, limit=12) -> tuple[list[str], dict]:
        """The phases of a deployment GET by GET until it leaves the live phases, and its last view."""
        phases = []
        for _ in range(limit):
            reply = self.call("GET", f"/v2/apps/{app_id}/deployments/{deployment}")
            phases.append(reply.json["deployment"]["phase"])
            if phases[-1] not in LIVE_PHASES:
                break
        return phases, reply.json["deployment"]

    def put_tag(self, app_id, tag):
        spec = self.app(app_id)["spec"]
        spec["services"][0]["image"]["tag"] = tag
        return self.call("PUT", f"/v2/apps/{app_id}", {"spec": spec})

    def deploy_tag(self, app_id, tag) -> str:
        """A new image tag walked to its end; the deployment's id."""
        deployment = self.put_tag(app_id, tag).json["app"]["pending_deployment"]["id"]
        self.walk(app_id, deployment)
        return deployment


@pytest.fixture(scope="module")
def client(launch, specs) -> DigitalOcean:
    """The fake as the Swift tests start it, and the OpenAPI description it follows."""
    folder = str(specs / "digitalocean/specification")
    return DigitalOcean(launch("digitalocean/fake_digitalocean.py", "--spec", folder, "--token", TOKEN),
                        fake_digitalocean.OpenAPISpec(folder))


@pytest.fixture
def do(client) -> DigitalOcean:
    return client.reset()


# ---- credentials and routes ----------------------------------------------------------------

def test_requests_without_the_token_are_refused(do):
    reply = do.call("GET", "/v2/apps/app-dev", token=None)
    assert reply.status == 401 and reply.json == {"id": "unauthorized", "message": "Unable to authenticate you.",
                                                  "request_id": reply.json["request_id"]}
    assert {"ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"} <= set(reply.headers)
    assert reply.headers["content-type"].startswith("application/json")
    assert do.call("GET", "/v2/apps/app-dev", token="wrong").status == 401


def test_echo_credentials_quotes_the_refused_header(do):
    do.control(echo_credentials=True)
    reply = do.call("GET", "/v2/apps/app-dev", token="wrong")
    assert reply.json["message"] == "Unable to authenticate you with Bearer wrong."


def test_faults_count_only_authenticated_requests(do):
    do.control(error_next=1)
    assert do.call("GET", "/v2/apps/app-dev", token="wrong").status == 401
    assert do.call("GET", "/v2/apps/app-dev").status == 500


@pytest.mark.parametrize("method, path, status", [
    ("GET", "/v2/nothing/here", 404), ("PATCH", "/v2/apps/app-dev", 404), ("GET", "/v2/apps/nope", 404),
    ("GET", "/v2/apps/regions", 501),
], ids=["unknown path", "wrong method", "unknown app", "operation not modelled"])
def test_only_the_descriptions_paths_are_routes(do, method, path, status):
    reply = do.call(method, path)
    assert reply.status == status, reply.text


def test_the_seeded_app_has_an_active_deployment(do):
    reply = do.call("GET", "/v2/apps/app-dev")
    app = reply.json["app"]
    assert app["spec"]["name"] == "crm-dev" and app["active_deployment"]["phase"] == "ACTIVE"
    assert "in_progress_deployment" not in app and "ratelimit-remaining" in reply.headers
    do.conforms("GET", "/v2/apps/app-dev", reply)


# ---- request bodies ---------------------------------------------------------------------------

@pytest.mark.parametrize("body, status, says", [
    ({"spec": {"region": "nyc"}}, 422, "name"),
    ({"spec": {"name": "crm-dev", "services": [{"name": "api", "http_port": "eighty"}]}}, 422,
     "services[0].http_port"),
    ({"nospec": True}, 422, "spec"),
    ({"spec": {"name": "crm-dev", "services": [{"name": "api", "image": {
        "registry_type": "DOCR", "repository": "r", "tag": "1", "digest": "sha256:1"}}]}}, 422, "digest"),
], ids=["no name", "http_port a string", "no spec", "tag and digest"])
def test_app_specs_outside_the_description_are_refused(do, body, status, says):
    reply = do.call("PUT", "/v2/apps/app-dev", body)
    assert reply.status == status and reply.json["id"] == "unprocessable_entity" and says in reply.json["message"]


def test_a_body_that_is_not_json_is_a_bad_request(do):
    reply = do.call("PUT", "/v2/apps/app-dev", raw=b"{not json")
    assert reply.status == 400 and reply.json["id"] == "bad_request"


def test_a_deployment_body_of_the_wrong_type_is_refused(do):
    assert do.call("POST", "/v2/apps/app-dev/deployments", {"force_build": "yes"}).status == 422


# ---- deployments --------------------------------------------------------------------------------

def test_a_new_tag_walks_to_active_and_supersedes_the_old_deployment(do):
    first = do.app()["active_deployment"]["id"]
    reply = do.put_tag("app-dev", "1.0.0")
    app = reply.json["app"]
    pending = app["pending_deployment"]
    assert reply.status == 200 and pending["phase"] == "PENDING_BUILD"
    assert pending["spec"]["services"][0]["image"]["tag"] == "1.0.0" and app["in_progress_deployment"]["id"] == pending["id"]
    do.conforms("PUT", "/v2/apps/app-dev", reply)
    phases, final = do.walk("app-dev", pending["id"])
    assert phases == ["BUILDING", "PENDING_DEPLOY", "DEPLOYING", "ACTIVE"]
    progress = final["progress"]
    assert progress["success_steps"] == progress["total_steps"] > 0 and progress["error_steps"] == 0
    app = do.app()
    assert app["active_deployment"]["id"] == pending["id"] and "in_progress_deployment" not in app
    old = do.call("GET", f"/v2/apps/app-dev/deployments/{first}")
    assert old.json["deployment"]["phase"] == "SUPERSEDED"
    do.conforms("GET", "/v2/apps/app-dev/deployments/x", old)


def test_steps_hold_a_phase_for_more_gets(do):
    do.control(steps={"BUILDING": 2})
    reply = do.call("POST", "/v2/apps/app-dev/deployments", {"force_build": True})
    assert reply.status == 200 and reply.json["deployment"]["phase"] == "PENDING_BUILD"
    do.conforms("POST", "/v2/apps/app-dev/deployments", reply)
    phases, _ = do.walk("app-dev", reply.json["deployment"]["id"])
    assert phases == ["BUILDING", "BUILDING", "PENDING_DEPLOY", "DEPLOYING", "ACTIVE"]


def test_fail_next_deployment_ends_in_error_with_a_reason(do):
    active = do.app()["active_deployment"]["id"]
    do.control(fail_next_deployment=True)
    failing = do.put_tag("app-dev", "1.0.2").json["app"]["pending_deployment"]
    phases, final = do.walk("app-dev", failing["id"])
    reasons = [s.get("reason", {}).get("message") for step in final["progress"]["steps"]
               for s in [step] + step["steps"] if s["status"] == "ERROR"]
    assert phases[-1] == "ERROR" and "Health checks failed" in reasons and final["progress"]["error_steps"] > 0
    do.conforms("GET", "/v2/apps/app-dev/deployments/x", do.call("GET", f"/v2/apps/app-dev/deployments/{failing['id']}"))
    assert do.app()["active_deployment"]["id"] == active


def test_cancel_next_deployment_ends_canceled(do):
    do.control(cancel_next_deployment=True)
    deployment = do.call("POST", "/v2/apps/app-dev/deployments", {}).json["deployment"]["id"]
    assert do.walk("app-dev", deployment)[0][-1] == "CANCELED"


# ---- rollbacks ----------------------------------------------------------------------------------

def test_rollback_validation(do):
    good = do.deploy_tag("app-dev", "1.0.0")
    do.control(fail_next_deployment=True)
    failed = do.deploy_tag("app-dev", "1.0.2")
    reply = do.call("POST", "/v2/apps/app-dev/rollback/validate", {"deployment_id": good})
    assert reply.json["valid"] is True and "error" not in reply.json
    assert reply.json["warnings"][0]["code"] == "image_source_missing_digest"
    do.conforms("POST", "/v2/apps/app-dev/rollback/validate", reply)
    reply = do.call("POST", "/v2/apps/app-dev/rollback/validate", {"deployment_id": failed})
    assert reply.json["valid"] is False and reply.json["error"]["code"] == "incompatible_result"
    assert do.call("POST", "/v2/apps/app-dev/rollback/validate", {"deployment_id": "nope"}).status == 404
    assert do.call("POST", "/v2/apps/app-dev/rollback/validate", {"deployment_id": 7}).status == 422


def test_commit_and_revert_need_a_pinned_app(do):
    for action in ("commit", "revert"):
        reply = do.call("POST", f"/v2/apps/app-dev/rollback/{action}")
        assert reply.status == 409 and reply.json["id"] == "conflict"


def test_a_rollback_pins_the_app_until_committed(do):
    target = do.deploy_tag("app-dev", "1.0.0")
    do.deploy_tag("app-dev", "1.0.1")
    reply = do.call("POST", "/v2/apps/app-dev/rollback", {"deployment_id": target})
    rollback = reply.json["deployment"]
    assert rollback["cause"] == "rollback" and rollback["cloned_from"] == target
    assert rollback["spec"]["services"][0]["image"]["tag"] == "1.0.0"
    reply = do.call("GET", "/v2/apps/app-dev")
    assert reply.json["app"]["pinned_deployment"]["id"] == rollback["id"]
    assert reply.json["app"]["spec"]["services"][0]["image"]["tag"] == "1.0.0"
    do.conforms("GET", "/v2/apps/app-dev", reply)
    assert do.put_tag("app-dev", "2.0.0").status == 409
    assert do.call("POST", "/v2/apps/app-dev/deployments", {"force_build": False}).status == 409
    reply = do.call("POST", "/v2/apps/app-dev/rollback/validate", {"deployment_id": target})
    assert reply.json["valid"] is False and reply.json["error"]["code"] == "app_pinned"
    assert do.walk("app-dev", rollback["id"])[0][-1] == "ACTIVE"
    reply = do.call("POST", "/v2/apps/app-dev/rollback/commit")
    assert reply.status == 200 and reply.json == {}
    assert "pinned_deployment" not in do.app()


def test_a_reverted_rollback_restores_the_spec_before_it(do):
    target = do.deploy_tag("app-dev", "1.0.0")
    do.deploy_tag("app-dev", "1.1.0")
    rollback = do.call("POST", "/v2/apps/app-dev/rollback", {"deployment_id": target}).json["deployment"]
    do.walk("app-dev", rollback["id"])
    reply = do.call("POST", "/v2/apps/app-dev/rollback/revert")
    reverted = reply.json["deployment"]
    assert reply.status == 200 and reverted["spec"]["services"][0]["image"]["tag"] == "1.1.0"
    app = do.app()
    assert "pinned_deployment" not in app and app["spec"]["services"][0]["image"]["tag"] == "1.1.0"
    assert do.walk("app-dev", reverted["id"])[0][-1] == "ACTIVE"


def test_skip_pin_leaves_the_app_unpinned(do):
    target = do.deploy_tag("app-dev", "1.0.0")
    do.deploy_tag("app-dev", "1.1.0")
    assert do.call("POST", "/v2/apps/app-dev/rollback", {"deployment_id": target, "skip_pin": True}).status == 200
    assert "pinned_deployment" not in do.app()


def test_invalid_rollback_refuses_rollbacks_until_cleared(do):
    target = do.deploy_tag("app-dev", "1.0.0")
    do.control(invalid_rollback={"code": "exceeded_revision_limit", "message": "too old"})
    reply = do.call("POST", "/v2/apps/app-dev/rollback/validate", {"deployment_id": target})
    assert reply.json["valid"] is False and reply.json["error"] == {"code": "exceeded_revision_limit",
                                                                    "message": "too old"}
    reply = do.call("POST", "/v2/apps/app-dev/rollback", {"deployment_id": target})
    assert reply.status == 400 and reply.json["id"] == "bad_request"
    do.control(invalid_rollback=False)
    assert do.call("POST", "/v2/apps/app-dev/rollback/validate", {"deployment_id": target}).json["valid"] is True


# ---- lists --------------------------------------------------------------------------------------

def test_the_deployment_list_is_newest_first_and_paged(do):
    for tag in ("1.0.0", "1.0.1", "1.0.2", "1.0.3", "1.0.4"):
        do.deploy_tag("app-dev", tag)
    everything = [d["id"] for d in do.server.state()["apps"]["app-dev"]["deployments"]]
    reply = do.call("GET", "/v2/apps/app-dev/deployments?page=1&per_page=3")
    assert [d["id"] for d in reply.json["deployments"]] == everything[:3]
    assert reply.json["meta"]["total"] == len(everything) == 6 and "next" in reply.json["links"]["pages"]
    do.conforms("GET", "/v2/apps/app-dev/deployments", reply)
    reply = do.call("GET", "/v2/apps/app-dev/deployments?page=2&per_page=3")
    assert [d["id"] for d in reply.json["deployments"]] == everything[3:] and "prev" in reply.json["links"]["pages"]
    assert do.call("GET", "/v2/apps/app-dev/deployments?per_page=500").status == 400


# ---- faults -------------------------------------------------------------------------------------

def test_rate_limit_next_answers_429_with_retry_after(do):
    do.control(rate_limit_next=True, retry_after=7)
    reply = do.call("GET", "/v2/apps/app-dev")
    assert reply.status == 429 and reply.json["id"] == "too_many_requests" and reply.headers["retry-after"] == "7"
    assert reply.headers["ratelimit-remaining"] == "0" and "ratelimit-reset" in reply.headers
    assert do.call("GET", "/v2/apps/app-dev").status == 200


def test_error_next_answers_500(do):
    do.control(error_next=True)
    reply = do.call("GET", "/v2/apps/app-dev")
    assert reply.status == 500 and reply.json["id"] == "server_error"


def test_malformed_next_cuts_a_successful_answer(do):
    do.control(malformed_next=True)
    reply = do.call("GET", "/v2/apps/app-dev")
    assert reply.status == 200 and reply.json is None and reply.text.endswith("<html>garbled")
    assert do.server.state()["requests"][-1]["malformed"] is True


def test_hang_next_delays_the_answer(do):
    do.control(hang_next=True, hang_seconds=0.4)
    started = time.monotonic()
    assert do.call("GET", "/v2/apps/app-dev").status == 200
    assert time.monotonic() - started >= 0.4


# ---- test routes --------------------------------------------------------------------------------

def test_health_follows_broken_image_tags(do):
    do.control(break_image_tag="1.0.1")
    health = do.server.request("GET", "/__health/app-main")
    assert health.status == 200 and health.text == "ok\n"
    do.deploy_tag("app-main", "1.0.1")
    assert do.server.request("GET", "/__health/app-main").status == 503
    assert do.server.request("GET", "/__health/nope").status == 404


def test_create_app_adds_an_app_with_an_active_deployment(do):
    do.control(create_app={"id": "app-x", "spec": fake_digitalocean.default_spec("crm-x")})
    assert do.app("app-x")["active_deployment"]["phase"] == "ACTIVE"
    reply = do.server.request("POST", "/__control", {"create_app": {"id": "app-y", "spec": {"region": "nyc"}}})
    assert reply.status == 400 and "spec" in reply.json["error"]


def test_advance_moves_a_deployment_without_a_get(do):
    deployment = do.put_tag("app-dev", "1.0.0").json["app"]["pending_deployment"]["id"]
    do.control(advance={"app_id": "app-dev", "times": 2})
    assert do.server.state()["apps"]["app-dev"]["deployments"][0]["phase"] == "PENDING_DEPLOY"
    assert do.walk("app-dev", deployment)[0] == ["DEPLOYING", "ACTIVE"]


def test_the_state_lists_apps_and_requests_without_the_token(do):
    do.call("GET", "/v2/apps/app-dev")
    state = do.server.state()
    assert "app-dev" in state["apps"] and state["requests"] and TOKEN not in json.dumps(state)
    assert state["requests"][0]["operation_id"] == "apps_get" and state["requests"][0]["authorized"] is True
    assert all("authorization" not in {k.lower() for k in r["headers"]} for r in state["requests"])


def test_reset_restores_the_seeded_apps(do):
    do.control(create_app={"id": "app-x", "spec": fake_digitalocean.default_spec("crm-x")})
    do.call("GET", "/v2/apps/app-x")
    do.control(reset=True)
    state = do.server.state()
    assert sorted(state["apps"]) == ["app-dev", "app-main"] and state["requests"] == []


def test_unknown_control_keys_answer_400(do):
    assert do.server.request("POST", "/__control", {"nope": 1}).status == 400
