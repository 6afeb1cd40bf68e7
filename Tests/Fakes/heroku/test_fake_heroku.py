"""fake_heroku.py against Heroku's Platform API hyper-schema: what it refuses, how builds and
releases walk, the faults, and the test routes. Every JSON answer of an API route is checked
against the link's targetSchema (or its definition) by the client below."""

from __future__ import annotations

import re
import time
import urllib.parse
import uuid

import pytest

import fake_heroku
from conftest import Client
from fake_heroku import ACCEPT, DOCKER_ACCEPT

TOKEN = "tok-heroku-tests"
SOURCE = "https://example.com/source.tgz?token=xyz"
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
IMAGE = "sha256:" + "ab" * 32


class Heroku(Client):
    """A client of the fake that checks every JSON answer of an API route against the schema."""

    def call(self, method, path, body=None, *, accept=ACCEPT, token=TOKEN, agent="fake-heroku-tests", headers=None,
             raw=None):
        sent = {"Accept": accept, "Authorization": token and f"Bearer {token}", "User-Agent": agent}
        reply = self.server.request(method, path, body, raw=raw,
                                    headers={**{k: v for k, v in sent.items() if v is not None}, **(headers or {})})
        if 200 <= reply.status < 300 and reply.json is not None:
            link = self.description.match(method, path.split("?")[0])[-1][0]
            if link.key == ("release", "Create") and isinstance(body, dict) and "release" in body:
                link = self.description.link("release", "Rollback")
            assert self.description.response_errors(reply.json, link) == [], f"{method} {path}: {reply.text}"
        return reply

    def get(self, path, **options):
        return self.call("GET", path, **options)

    def poll(self, path, times):
        return [self.get(path).json for _ in range(times)]

    def deploy(self, app, version) -> tuple[dict, dict]:
        """A build of `version` walked to success, and its release walked live."""
        build = self.call("POST", f"/apps/{app}/builds", {"source_blob": {"url": SOURCE, "version": version}}).json
        for _ in range(10):
            build = self.get(f"/apps/{app}/builds/{build['id']}").json
            if build["status"] != "pending":
                break
        release = self.get(f"/apps/{app}/releases/{build['release']['id']}").json
        for _ in range(10):
            if release["status"] != "pending":
                break
            release = self.get(f"/apps/{app}/releases/{release['id']}").json
        return build, release


@pytest.fixture(scope="module")
def client(launch, specs) -> Heroku:
    """The fake as the Swift tests start it, and the hyper-schema it follows."""
    path = str(specs / "heroku/platform-api-schema.json")
    return Heroku(launch("heroku/fake_heroku.py", "--schema", path, "--token", TOKEN), fake_heroku.Schema(path))


@pytest.fixture
def heroku(client) -> Heroku:
    return client.reset()


def test_every_link_the_fake_models_is_in_the_schema(client):
    schema = client.description
    assert set(fake_heroku.HerokuFake(schema).handlers) <= {link.key for link in schema.links}


# ---- credentials and headers ----------------------------------------------------------------

def test_requests_without_the_token_are_refused(heroku):
    reply = heroku.get("/apps/app-one/releases", token=None)
    assert reply.status == 401 and reply.json == {"id": "unauthorized", "message": "Invalid credentials provided."}
    assert {"ratelimit-remaining", "request-id"} <= set(reply.headers)
    assert reply.headers["content-type"] == "application/json"
    assert heroku.get("/apps/app-one/releases", token="wrong").status == 401


def test_echo_credentials_quotes_the_refused_header(heroku):
    heroku.control(echo_credentials=True)
    reply = heroku.get("/apps/app-one/releases", token="wrong")
    assert reply.status == 401 and reply.json["message"] == "Invalid credentials provided: Bearer wrong"


@pytest.mark.parametrize("options", [{"accept": "application/json"}, {"accept": DOCKER_ACCEPT}, {"agent": None}],
                         ids=["plain Accept", "docker Accept outside formation", "no User-Agent"])
def test_accept_and_user_agent_are_required(heroku, options):
    reply = heroku.get("/apps/app-one/releases", **options)
    assert reply.status == 400 and reply.json["id"] == "bad_request"


# ---- routes from the schema's links -----------------------------------------------------------

@pytest.mark.parametrize("method, path, status, ident", [
    ("GET", "/apps/app-one/nothing-here", 404, "not_found"),
    ("PUT", "/apps/app-one/builds", 404, "not_found"),
    ("GET", "/apps/Bad_Name/releases", 404, "not_found"),
    ("DELETE", "/apps/app-one/build-cache", 501, "not_implemented"),
], ids=["unknown path", "wrong method", "app name outside the schema's pattern", "link not modelled"])
def test_only_the_schemas_links_are_routes(heroku, method, path, status, ident):
    reply = heroku.call(method, path)
    assert reply.status == status and reply.json["id"] == ident, reply.text


def test_an_app_is_created_on_first_use(heroku):
    reply = heroku.get("/apps/app-one")
    assert reply.status == 200 and reply.json["name"] == "app-one" and UUID.match(reply.json["id"])


# ---- request bodies against each link's schema -----------------------------------------------

@pytest.mark.parametrize("body", [
    {},
    {"source_blob": {"url": SOURCE}, "bogus": 1},
    {"source_blob": "x"},
    {"source_blob": {"url": 5}},
    {"source_blob": {"url": SOURCE, "branch": "main"}},
    [1],
], ids=["no source_blob", "unknown property", "source_blob not an object", "url not a string",
        "unknown key inside (strictProperties)", "an array"])
def test_build_bodies_outside_the_schema_are_refused(heroku, body):
    reply = heroku.call("POST", "/apps/app-one/builds", body)
    assert reply.status == 422 and reply.json["id"] == "invalid_params", reply.text


def test_a_body_that_is_not_json_is_a_bad_request(heroku):
    assert heroku.call("POST", "/apps/app-one/builds", raw=b"{not json").status == 400


@pytest.mark.parametrize("body", [{"slug": str(uuid.uuid4()), "release": str(uuid.uuid4())}, {"release": 1},
                                  {"description": "x"}],
                         ids=["slug and release", "release not a string", "neither"])
def test_a_release_body_must_fit_create_or_rollback(heroku, body):
    reply = heroku.call("POST", "/apps/app-one/releases", body)
    assert reply.status == 422 and reply.json["id"] == "invalid_params", reply.text


def test_the_errors_name_the_place_and_the_rule(client):
    schema = client.description
    errors = schema.body_errors({"source_blob": {"url": 5, "branch": "x"}, "bogus": 1}, schema.link("build", "Create"))
    assert errors == ["body: Additional properties are not allowed ('bogus' was unexpected)",
                      "source_blob: 'branch' is not permitted here (strictProperties)",
                      "source_blob.url: 5 is not of type 'string'"]


def test_responses_are_checked_against_the_target_schema(client):
    schema = client.description
    errors = schema.response_errors({"id": "x"}, schema.link("build", "Info"))
    assert "body: 'created_at' is a required property" in errors


# ---- builds and releases ----------------------------------------------------------------------

def test_a_build_stays_pending_then_succeeds_with_a_slug_and_a_release(heroku):
    reply = heroku.call("POST", "/apps/app-one/builds", {"source_blob": {"url": SOURCE, "version": "abc1234"}})
    build = reply.json
    assert reply.status == 201 and build["status"] == "pending" and build["release"] is None and build["slug"] is None
    assert UUID.match(build["id"]) and ISO.match(build["created_at"]) and build["source_blob"]["version"] == "abc1234"
    assert reply.headers["content-type"] == "application/json" and int(reply.headers["ratelimit-remaining"]) > 0
    polls = heroku.poll(f"/apps/app-one/builds/{build['id']}", 3)
    assert [p["status"] for p in polls] == ["pending", "pending", "succeeded"]
    slug = heroku.get(f"/apps/app-one/slugs/{polls[-1]['slug']['id']}").json
    assert slug["commit"] == "abc1234"
    releases = heroku.poll(f"/apps/app-one/releases/{polls[-1]['release']['id']}", 3)
    assert [r["status"] for r in releases] == ["pending", "pending", "succeeded"]
    assert not releases[0]["current"] and releases[-1]["current"]
    assert releases[-1]["version"] == 1 and releases[-1]["slug"] == {"id": slug["id"]}
    assert releases[-1]["description"] == "Deploy abc1234" and releases[-1]["app"]["name"] == "app-one"
    assert heroku.get("/apps/app-one/releases/1").json["id"] == releases[-1]["id"], "a release by its version"


def test_unknown_builds_and_releases_are_not_found(heroku):
    assert heroku.get(f"/apps/app-one/releases/{uuid.uuid4()}").json["id"] == "not_found"
    assert heroku.get(f"/apps/app-one/builds/{uuid.uuid4()}").status == 404


def test_a_new_release_becomes_current_and_the_old_one_not(heroku):
    heroku.control(pending_polls=0)
    heroku.deploy("app-one", "abc1234")
    _, second = heroku.deploy("app-one", "def5678")
    assert second["version"] == 2 and second["current"] and not heroku.get("/apps/app-one/releases/1").json["current"]


def test_a_slug_is_promoted_to_another_app(heroku):
    heroku.control(pending_polls=0)
    build, _ = heroku.deploy("app-one", "abc1234")
    heroku.control(pending_polls=1)
    reply = heroku.call("POST", "/apps/app-two/releases", {"slug": build["slug"]["id"], "description": "Promote 1.0"})
    promoted = reply.json
    assert reply.status == 201 and promoted["status"] == "pending" and promoted["version"] == 1
    assert promoted["slug"] == build["slug"] and promoted["description"] == "Promote 1.0" and not promoted["current"]
    polls = heroku.poll(f"/apps/app-two/releases/{promoted['id']}", 2)
    assert [p["status"] for p in polls] == ["pending", "succeeded"] and polls[-1]["current"]
    assert heroku.call("POST", "/apps/app-two/releases", {"slug": str(uuid.uuid4())}).status == 404


def test_a_rollback_is_a_new_release_of_the_old_slug(heroku):
    heroku.control(pending_polls=0)
    _, first = heroku.deploy("app-one", "abc1234")
    heroku.deploy("app-one", "def5678")
    reply = heroku.call("POST", "/apps/app-one/releases", {"release": first["id"]})
    rollback = reply.json
    assert reply.status == 201 and rollback["version"] == 3 and rollback["slug"] == first["slug"]
    assert rollback["description"] == "Rollback to v1"
    assert heroku.get(f"/apps/app-one/releases/{rollback['id']}").json["current"]
    assert not heroku.get("/apps/app-one/releases/2").json["current"]
    assert heroku.call("POST", "/apps/app-one/releases", {"release": str(uuid.uuid4())}).status == 404


def test_fail_next_build_fails_one_build(heroku):
    heroku.control(fail_next_build=True, pending_polls=0)
    build = heroku.call("POST", "/apps/app-one/builds", {"source_blob": {"url": SOURCE, "version": "bad0001"}}).json
    build = heroku.get(f"/apps/app-one/builds/{build['id']}").json
    assert build["status"] == "failed" and build["release"] is None and build["slug"] is None
    after, release = heroku.deploy("app-one", "good002")
    assert after["status"] == "succeeded" and release["version"] == 1 and release["current"]


def test_fail_next_release_never_goes_live(heroku):
    heroku.control(pending_polls=0)
    build, live = heroku.deploy("app-one", "abc1234")
    heroku.control(fail_next_release=True)
    failed = heroku.call("POST", "/apps/app-one/releases", {"slug": build["slug"]["id"]}).json
    failed = heroku.get(f"/apps/app-one/releases/{failed['id']}").json
    assert failed["status"] == "failed" and not failed["current"] and not failed["eligible_for_rollback"]
    assert heroku.get(f"/apps/app-one/releases/{live['id']}").json["current"]
    assert heroku.call("POST", "/apps/app-one/releases", {"release": failed["id"]}).status == 422


# ---- docker releases through the formation ---------------------------------------------------

@pytest.mark.parametrize("updates, accept", [
    ([{"type": "web", "docker_image": IMAGE}], ACCEPT),
    ([{"type": "web", "other": 1}], DOCKER_ACCEPT),
    ([{"type": "web", "docker_image": "latest"}], DOCKER_ACCEPT),
], ids=["docker_image without the docker Accept", "unknown key", "docker_image not an image id"])
def test_formation_updates_are_checked(heroku, updates, accept):
    reply = heroku.call("PATCH", "/apps/app-three/formation", {"updates": updates}, accept=accept)
    assert reply.status == 422 and reply.json["id"] == "invalid_params", reply.text


def test_a_docker_image_in_the_formation_makes_a_release(heroku):
    heroku.control(pending_polls=1)
    reply = heroku.call("PATCH", "/apps/app-three/formation", {"updates": [{"type": "web", "docker_image": IMAGE}]},
                        accept=DOCKER_ACCEPT)
    assert reply.status == 200 and reply.json[0]["type"] == "web"
    latest = heroku.get("/apps/app-three/releases", headers={"Range": "version ..; max=1, order=desc"}).json[0]
    assert latest["slug"] is None and latest["status"] == "pending" and latest["version"] == 1
    polls = heroku.poll(f"/apps/app-three/releases/{latest['id']}", 2)
    assert polls[-1]["status"] == "succeeded" and polls[-1]["current"]
    reply = heroku.call("PATCH", "/apps/app-three/formation", {"updates": [{"type": "web", "quantity": 2}]})
    assert reply.status == 200 and reply.json[0]["quantity"] == 2
    assert len(heroku.get("/apps/app-three/releases").json) == 1, "a plain formation change makes no release"
    assert heroku.get("/apps/app-three/formation/web").json["quantity"] == 2


# ---- lists --------------------------------------------------------------------------------------

def test_the_release_list_honours_range_and_next_range(heroku):
    heroku.control(pending_polls=0)
    for version in ("a1", "a2", "a3", "a4", "a5"):
        heroku.deploy("app-one", version)
    reply = heroku.get("/apps/app-one/releases", headers={"Range": "version ..; max=2, order=desc"})
    assert reply.status == 206 and [r["version"] for r in reply.json] == [5, 4]
    assert reply.headers["next-range"] == "version ]4..; max=2, order=desc"
    reply = heroku.get("/apps/app-one/releases", headers={"Range": reply.headers["next-range"]})
    assert reply.status == 206 and [r["version"] for r in reply.json] == [3, 2]
    reply = heroku.get("/apps/app-one/releases", headers={"Range": reply.headers["next-range"]})
    assert reply.status == 200 and [r["version"] for r in reply.json] == [1] and "next-range" not in reply.headers
    assert [r["version"] for r in heroku.get("/apps/app-one/releases").json] == [1, 2, 3, 4, 5]
    assert heroku.get("/apps/app-one/releases", headers={"Range": "bogus ..; max=2"}).status == 400


# ---- faults -------------------------------------------------------------------------------------

def test_rate_limit_next_answers_429_with_retry_after(heroku):
    heroku.control(rate_limit_next=2, retry_after=3)
    replies = [heroku.get("/apps/app-one") for _ in range(3)]
    assert [r.status for r in replies] == [429, 429, 200]
    assert replies[0].headers["retry-after"] == "3" and replies[0].headers["ratelimit-remaining"] == "0"
    assert replies[0].json["id"] == "rate_limit"


def test_error_next_answers_500(heroku):
    heroku.control(error_next=1)
    reply = heroku.get("/apps/app-one")
    assert reply.status == 500 and reply.json["id"] == "internal_server_error"


def test_malformed_next_answers_200_with_a_body_that_is_not_json(heroku):
    heroku.control(malformed_next=1)
    reply = heroku.get("/apps/app-one")
    assert reply.status == 200 and reply.json is None and reply.text
    assert reply.headers["content-type"] == "application/json"
    assert heroku.get("/apps/app-one").json["name"] == "app-one"


def test_hang_next_delays_the_answer(heroku):
    heroku.control(hang_next=1, hang_seconds=0.3)
    started = time.monotonic()
    assert heroku.get("/apps/app-one").status == 200
    assert time.monotonic() - started >= 0.3


# ---- test routes --------------------------------------------------------------------------------

def test_health_follows_the_current_release(heroku):
    heroku.control(pending_polls=0)
    assert heroku.get("/__apps/app-one/health").status == 503, "no current release"
    heroku.deploy("app-one", "good002")
    heroku.deploy("app-two", "other01")
    assert heroku.get("/__apps/app-one/health").text == "ok"
    heroku.control(break_slug_of_source_version="good002")
    assert heroku.get("/__apps/app-one/health").status == 503
    assert heroku.get("/__apps/app-two/health").status == 200


def test_health_follows_broken_docker_images(heroku):
    heroku.control(pending_polls=0, break_docker_image=IMAGE)
    heroku.call("PATCH", "/apps/app-three/formation", {"updates": [{"type": "web", "docker_image": IMAGE}]},
                accept=DOCKER_ACCEPT)
    heroku.get(f"/apps/app-three/releases/{heroku.get('/apps/app-three/releases').json[0]['id']}")
    assert heroku.get("/__apps/app-three/health").status == 503


def test_output_streams_tell_the_status(heroku):
    heroku.control(pending_polls=0)
    build, release = heroku.deploy("app-one", "abc1234")
    stream = urllib.parse.urlsplit(build["output_stream_url"])
    assert stream.netloc == f"127.0.0.1:{heroku.server.port}"
    assert heroku.server.request("GET", stream.path).text.endswith("Build succeeded\n")
    assert "Release v1 succeeded" in heroku.server.request("GET", f"/__streams/releases/{release['id']}").text
    assert heroku.server.request("GET", "/__streams/builds/nope").status == 404


def test_the_state_records_requests_without_authorization(heroku):
    heroku.control(pending_polls=0)
    build, _ = heroku.deploy("app-one", "abc1234")
    heroku.call("POST", "/apps/app-two/releases", {"slug": build["slug"]["id"], "description": "Promote 1.0"})
    state = heroku.server.state()
    posts = [r for r in state["requests"] if r["method"] == "POST" and r["path"] == "/apps/app-two/releases"]
    assert posts[0]["body"] == {"slug": build["slug"]["id"], "description": "Promote 1.0"} and posts[0]["status"] == 201
    assert all("authorization" not in {k.lower() for k in r["headers"]} for r in state["requests"])
    assert state["apps"]["app-one"]["current_release"]["version"] == 1 and build["slug"]["id"] in state["slugs"]


def test_reset_and_known_apps(heroku):
    heroku.get("/apps/app-one")
    heroku.control(reset=True, known_apps=["only-app"])
    assert heroku.get("/apps/app-one/releases").status == 404
    reply = heroku.get("/apps/only-app/releases")
    assert reply.status == 200 and reply.json == []
    assert heroku.server.state()["apps"].keys() == {"only-app"}
