"""fake_railway.py against Railway's introspection schema: credentials, documents and variables
checked by graphql-core, the walk of a deployment, rollbacks, lists, faults and the test routes."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from conftest import Client

TOKEN = "tok-railway-tests"
PROJECT_TOKEN = "ptok-railway-tests"
PROJECT = "5f0c2d8e-3b1a-4c7e-9d2f-6a8b1c0e4d21"
SERVICE, ENVIRONMENT = "svc-0001-aaaa", "env-0001-prod"
FIELDS = "id status createdAt updatedAt serviceId environmentId projectId canRollback meta staticUrl url"
Q_DEPLOYMENT = "query Deployment($id: String!) { deployment(id: $id) { %s } }" % FIELDS
M_DEPLOY = ("mutation Deploy($environmentId: String!, $serviceId: String!, $commitSha: String) {"
            " serviceInstanceDeployV2(environmentId: $environmentId, serviceId: $serviceId, commitSha: $commitSha) }")
M_UPDATE = ("mutation Update($serviceId: String!, $environmentId: String, $input: ServiceInstanceUpdateInput!) {"
            " serviceInstanceUpdate(serviceId: $serviceId, environmentId: $environmentId, input: $input) }")
M_ROLLBACK = "mutation Rollback($id: String!) { deploymentRollback(id: $id) }"
Q_LIST = ("query List($input: DeploymentListInput!, $first: Int) { deployments(input: $input, first: $first) {"
          " edges { cursor node { id status meta } } pageInfo { hasNextPage endCursor } } }")
WALK = ["QUEUED", "BUILDING", "DEPLOYING", "SUCCESS"]


@pytest.fixture(scope="module")
def server(launch, specs):
    return launch("railway/fake_railway.py", "--schema", str(specs / "railway/schema.json"), "--token", TOKEN,
                  "--project-token", PROJECT_TOKEN)


class Railway(Client):
    """A GraphQL client of the fake."""

    def gql(self, query, variables=None, auth="token", operation_name=None):
        headers = {"token": {"Authorization": f"Bearer {TOKEN}"}, "project": {"Project-Access-Token": PROJECT_TOKEN},
                   None: {}}.get(auth, {"Authorization": f"Bearer {auth}"})
        body = {"query": query}
        if variables is not None:
            body["variables"] = variables
        if operation_name is not None:
            body["operationName"] = operation_name
        return self.server.request("POST", "/graphql/v2", body, headers=headers)

    def deploy(self, commit=None) -> str:
        reply = self.gql(M_DEPLOY, {"environmentId": ENVIRONMENT, "serviceId": SERVICE, "commitSha": commit})
        return reply.json["data"]["serviceInstanceDeployV2"]

    def walk(self, deployment, polls) -> list[dict]:
        return [self.gql(Q_DEPLOYMENT, {"id": deployment}).json["data"]["deployment"] for _ in range(polls)]

    def health(self):
        return self.server.request("GET", f"/__health/{SERVICE}/{ENVIRONMENT}")


@pytest.fixture
def railway(server) -> Railway:
    server.control(reset=True)
    return Railway(server)


# ---- credentials ----------------------------------------------------------------------------

def test_no_credentials_is_not_authorized_with_data_null(railway):
    reply = railway.gql(Q_DEPLOYMENT, {"id": "x"}, auth=None)
    assert reply.status == 200 and reply.json["data"] is None
    assert reply.json["errors"][0] == {"message": "Not Authorized", "extensions": {"code": "UNAUTHORIZED"}}
    assert railway.gql(Q_DEPLOYMENT, {"id": "x"}, auth="wrong").json["errors"][0]["message"] == "Not Authorized"


def test_echo_credentials_quotes_the_refused_header(railway):
    railway.control(echo_credentials=True)
    reply = railway.gql(Q_DEPLOYMENT, {"id": "x"}, auth="wrong-token")
    assert reply.json["errors"][0]["message"] == "Not Authorized: Bearer wrong-token"


def test_a_project_token_is_accepted(railway):
    reply = railway.gql(Q_DEPLOYMENT, {"id": "nope"}, auth="project")
    assert reply.status == 200 and reply.json["data"] is None
    assert reply.json["errors"][0]["message"] == "Deployment not found" and reply.json["errors"][0]["path"] == ["deployment"]


# ---- documents and variables against the schema ---------------------------------------------

@pytest.mark.parametrize("query, variables, says", [
    ("query ($id: String!) { deployment(id: $id) { id bogusField } }", {"id": "x"},
     "Cannot query field 'bogusField' on type 'Deployment'"),
    ("query { deployment { id } }", None, "argument 'id' of type 'String!' is required"),
    ("query { deployment(id: \"x\") { id ", None, "Syntax Error"),
    (Q_DEPLOYMENT, {"id": 42}, "String cannot represent a non string value"),
    (M_UPDATE, {"serviceId": SERVICE, "input": {"source": {"image": "x", "tag": "y"}}},
     "Field 'tag' is not defined by type 'ServiceSourceInput'"),
    (Q_DEPLOYMENT, {}, "Variable '$id' of required type 'String!' was not provided."),
], ids=["unknown field", "missing argument", "syntax error", "wrong variable type", "unknown input field",
        "missing variable"])
def test_documents_and_variables_outside_the_schema_are_refused(railway, query, variables, says):
    reply = railway.gql(query, variables)
    assert reply.status == 200 and "data" not in reply.json and says in reply.json["errors"][0]["message"], reply.text


def test_a_valid_operation_the_fake_does_not_model_says_so(railway):
    reply = railway.gql("query { me { id } }")
    assert reply.json["data"] is None and "not implemented in the fake" in reply.json["errors"][0]["message"]


@pytest.mark.parametrize("method, path, raw, status", [
    ("POST", "/graphql/v2", b"{not json", 400),
    ("POST", "/graphql/v2", b"[1]", 400),
    ("GET", "/graphql/v2", None, 405),
    ("POST", "/graphql/v1", b"{}", 404),
])
def test_requests_that_are_not_graphql_are_refused_with_errors(railway, method, path, raw, status):
    reply = railway.server.request(method, path, raw=raw, headers={"Authorization": f"Bearer {TOKEN}"})
    assert reply.status == status and reply.json["errors"], reply.text


# ---- deployments --------------------------------------------------------------------------------

def test_a_deployment_walks_one_state_per_query(railway):
    deployment = railway.deploy("abc1234")
    assert uuid.UUID(deployment)
    walk = railway.walk(deployment, 5)
    assert [w["status"] for w in walk] == WALK + ["SUCCESS"]
    last = walk[-1]
    assert set(last) == set(FIELDS.split()) and last["serviceId"] == SERVICE and last["environmentId"] == ENVIRONMENT
    assert last["projectId"] == PROJECT and last["meta"]["commitHash"] == "abc1234" and last["canRollback"] is True
    assert last["url"].startswith("https://")
    assert railway.health().text == "ok"


def test_aliases_and_fragments_answer_only_what_was_asked(railway):
    deployment = railway.deploy("abc1234")
    reply = railway.gql("query ($id: String!) { a: deployment(id: $id) { theId: id status } "
                        "b: deployment(id: $id) { ... on Deployment { __typename serviceId } } }", {"id": deployment})
    assert reply.json["data"] == {"a": {"theId": deployment, "status": "QUEUED"},
                                  "b": {"__typename": "Deployment", "serviceId": SERVICE}}
    assert railway.walk(deployment, 1)[0]["status"] == "BUILDING", "one step per request, however many aliases"


def test_an_image_deploy_supersedes_the_live_one(railway):
    first = railway.deploy("abc1234")
    railway.walk(first, 4)
    reply = railway.gql(M_UPDATE, {"serviceId": SERVICE, "environmentId": ENVIRONMENT,
                                   "input": {"source": {"image": "ghcr.io/acme/web:2.0"}}})
    assert reply.json == {"data": {"serviceInstanceUpdate": True}}
    walk = railway.walk(railway.deploy(), 4)
    assert walk[-1]["status"] == "SUCCESS" and walk[-1]["meta"]["image"] == "ghcr.io/acme/web:2.0"
    assert "commitHash" not in walk[-1]["meta"]
    assert railway.walk(first, 1)[0]["status"] == "REMOVED"
    state = railway.server.state()
    assert state["service_instances"] == [{"service": SERVICE, "environment": ENVIRONMENT,
                                           "image": "ghcr.io/acme/web:2.0", "repo": None}]
    assert [d["image"] for d in state["deployments"]] == [None, "ghcr.io/acme/web:2.0"]
    railway.control(break_image="ghcr.io/acme/web:2.0")
    assert railway.health().status == 503


def test_a_rollback_deploys_the_old_source_again(railway):
    first = railway.deploy("abc1234")
    railway.walk(first, 4)
    railway.walk(railway.deploy("def5678"), 4)
    assert railway.gql(M_ROLLBACK, {"id": first}).json == {"data": {"deploymentRollback": True}}
    node = railway.gql(Q_LIST, {"input": {"serviceId": SERVICE, "environmentId": ENVIRONMENT}, "first": 1}).json[
        "data"]["deployments"]["edges"][0]["node"]
    assert node["id"] != first and node["status"] == "QUEUED"
    assert node["meta"]["commitHash"] == "abc1234" and node["meta"]["reason"] == "rollback"
    assert [w["status"] for w in railway.walk(node["id"], 4)] == WALK
    reply = railway.gql(M_ROLLBACK, {"id": "00000000-0000-0000-0000-000000000000"})
    assert reply.json["data"] is None and reply.json["errors"][0]["message"] == "Deployment not found"


def test_fail_next_deploy_and_steps(railway):
    railway.control(fail_next_deploy="CRASHED", steps=2)
    walk = railway.walk(railway.deploy("bad9999"), 7)
    assert [w["status"] for w in walk] == ["QUEUED", "QUEUED", "BUILDING", "BUILDING", "DEPLOYING", "DEPLOYING",
                                           "CRASHED"]
    assert walk[-1]["canRollback"] is False
    assert railway.gql(M_ROLLBACK, {"id": walk[-1]["id"]}).json["errors"][0]["message"] == \
        "Deployment cannot be rolled back"


def test_a_crash_takes_the_traffic_unless_a_healthcheck_holds_it(railway):
    railway.control(steps=0)
    railway.deploy("abc1234")
    railway.control(fail_next_deploy="CRASHED")
    railway.deploy("bad9999")
    assert railway.health().status == 503, "without a healthcheck the crash took the traffic"
    live = railway.gql(Q_LIST, {"input": {"serviceId": SERVICE, "status": {"in": ["SUCCESS"]}}, "first": 1})
    assert live.json["data"]["deployments"]["edges"] == []
    railway.deploy("abc1234")
    railway.control(fail_next_deploy="CRASHED", healthcheck=True)
    railway.deploy("bad9999")
    assert railway.health().status == 200, "a healthcheck left the previous deployment live"


def test_known_services_refuses_others(railway):
    railway.control(known_services=["svc-other"])
    reply = railway.gql(M_DEPLOY, {"environmentId": ENVIRONMENT, "serviceId": SERVICE})
    assert reply.json["errors"][0]["message"] == "Service not found"


# ---- lists --------------------------------------------------------------------------------------

def test_the_list_is_newest_first_with_cursors(railway):
    railway.control(steps=0)
    made = [railway.deploy(f"c{n}") for n in range(4)]
    newest_first = list(reversed(made))
    connection = railway.gql(Q_LIST, {"input": {"projectId": PROJECT, "serviceId": SERVICE}, "first": 2}).json[
        "data"]["deployments"]
    assert [e["node"]["id"] for e in connection["edges"]] == newest_first[:2] and connection["pageInfo"]["hasNextPage"]
    rest = railway.gql("query ($c: String) { deployments(input: {serviceId: \"%s\"}, first: 10, after: $c)"
                       " { edges { node { id } } pageInfo { hasNextPage } } }" % SERVICE,
                       {"c": connection["pageInfo"]["endCursor"]}).json["data"]["deployments"]
    assert [e["node"]["id"] for e in rest["edges"]] == newest_first[2:] and not rest["pageInfo"]["hasNextPage"]
    assert railway.gql(Q_LIST, {"input": {"environmentId": "other-env"}}).json["data"]["deployments"]["edges"] == []


# ---- faults -------------------------------------------------------------------------------------

def test_rate_limit_next_answers_429_with_retry_after(railway):
    railway.control(rate_limit_next=1, retry_after=3)
    reply = railway.gql(Q_DEPLOYMENT, {"id": "x"})
    assert reply.status == 429 and reply.headers["retry-after"] == "3"
    assert reply.headers["x-ratelimit-remaining"] == "0" and reply.json["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    assert railway.gql(Q_DEPLOYMENT, {"id": "x"}).status == 200


def test_error_next_answers_500(railway):
    railway.control(error_next=1)
    reply = railway.gql(Q_DEPLOYMENT, {"id": "x"})
    assert reply.status == 500 and reply.json["errors"]


def test_malformed_next_answers_200_with_a_body_that_is_not_json(railway):
    railway.control(malformed_next=1)
    reply = railway.gql(Q_DEPLOYMENT, {"id": "x"})
    assert reply.status == 200 and reply.json is None and reply.text.startswith("<html>")


def test_hang_next_delays_the_answer(railway):
    railway.control(hang_next=1, hang_seconds=0.3)
    started = time.monotonic()
    assert railway.gql(Q_DEPLOYMENT, {"id": "x"}).status == 200
    assert time.monotonic() - started >= 0.3


def test_every_answer_carries_rate_limit_headers(railway):
    reply = railway.gql(Q_DEPLOYMENT, {"id": "x"})
    assert {"x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "x-request-id"} <= set(reply.headers)


# ---- test routes --------------------------------------------------------------------------------

def test_the_state_records_requests_without_credential_values(railway):
    railway.gql(Q_DEPLOYMENT, {"id": "nope"}, auth="project")
    railway.gql(Q_DEPLOYMENT, {"id": "nope"})
    requests = railway.server.state()["requests"]
    assert TOKEN not in json.dumps(requests) and PROJECT_TOKEN not in json.dumps(requests)
    assert [r["auth"] for r in requests] == ["project", "bearer"]
    assert requests[0]["variables"] == {"id": "nope"} and requests[0]["operationName"] is None
    assert "deployment(id: $id)" in requests[0]["query"]


def test_reset_clears_everything(railway):
    railway.control(steps=0)
    railway.deploy("abc1234")
    railway.control(reset=True)
    state = railway.server.state()
    assert state["deployments"] == [] and state["requests"] == [] and state["controls"]["steps"] == 1
    assert railway.health().status == 503


@pytest.mark.parametrize("settings", [{"stepz": 1}, {"fail_next_deploy": "EXPLODED"}, {"project_id": 5}])
def test_refused_settings_answer_400(railway, settings):
    assert railway.server.request("POST", "/__control", settings).status == 400
