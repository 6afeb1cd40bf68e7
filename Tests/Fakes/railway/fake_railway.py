#!/usr/bin/env python3
"""A fake Railway public GraphQL API (v2) for the tests of `release` (Python 3.11 + graphql-core 3.2).

Every document and its variables are validated against the official introspection schema, loaded
at startup from --schema (never copied into the project). Only the operations `release` uses are
implemented; others that are valid against the schema answer "not implemented in the fake". Test
routes (/__control, /__state, /__health/...) need no credentials. See README.md.

    fake_railway.py --schema PATH --port 0 --port-file FILE [--token TOKEN] [--project-token PTOKEN]
                    [--max-seconds 300]
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from datetime import datetime, timezone

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import fakeserver  # noqa: E402  (Tests/Fakes/fakeserver.py, shared by every fake)
from fakeserver import FakeError  # noqa: E402

try:
    import graphql
    from graphql import GraphQLError
    from graphql.execution.collect_fields import collect_fields
    from graphql.execution.values import get_variable_values
except ImportError as _error:  # pragma: no cover - depends on the machine
    sys.stderr.write("fake_railway: the Python package graphql-core is missing "
                     f"({_error}); install it with: pip install graphql-core\n")
    sys.exit(2)

API_PATH = "/graphql/v2"
DEFAULT_TOKEN = "test-token"
DEFAULT_PROJECT_TOKEN = "test-project-token"
DEFAULT_PROJECT_ID = "5f0c2d8e-3b1a-4c7e-9d2f-6a8b1c0e4d21"
RATE_LIMIT = 1000
WALK = ("QUEUED", "BUILDING", "DEPLOYING")
FAIL_STATUSES = ("FAILED", "CRASHED", "REMOVED", "SKIPPED")
IN_PROGRESS = ("QUEUED", "BUILDING", "DEPLOYING", "INITIALIZING", "WAITING")
MALFORMED_BODY = b"<html><body><h1>502 Bad Gateway</h1> upstream cut the answer {\"data\": {\"deploym"
REQUIRED_FIELDS = {
    "query": ("deployment", "deployments"),
    "mutation": ("serviceInstanceUpdate", "serviceInstanceDeployV2", "deploymentRollback"),
}


def now() -> str:
    moment = datetime.now(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def new_id() -> str:
    return str(uuid.uuid4())


def error_entry(message: str, code: str | None = None) -> dict:
    entry: dict = {"message": message}
    if code:
        entry["extensions"] = {"code": code}
    return entry


def load_schema(path: str) -> "graphql.GraphQLSchema":
    """The client schema of an introspection result ({"__schema"} or {"data": {"__schema"}})."""
    doc = fakeserver.load_json(path, "Railway's introspection schema")
    introspection = None
    if isinstance(doc, dict):
        if isinstance(doc.get("__schema"), dict):
            introspection = doc["__schema"]
        elif isinstance(doc.get("data"), dict) and isinstance(doc["data"].get("__schema"), dict):
            introspection = doc["data"]["__schema"]
    if introspection is None:
        raise SystemExit(f"fake_railway: {path} is not an introspection result (no __schema or data.__schema)")
    try:
        schema = graphql.build_client_schema({"__schema": introspection})
    except Exception as error:  # graphql-core raises TypeError/GraphQLError on bad input
        raise SystemExit(f"fake_railway: cannot build a schema from {path}: {error}")
    for kind, names in REQUIRED_FIELDS.items():
        root = schema.query_type if kind == "query" else schema.mutation_type
        missing = [name for name in names if root is None or name not in root.fields]
        if missing:
            raise SystemExit(f"fake_railway: {path} lacks {kind} fields {', '.join(missing)}")
    if schema.get_type("Deployment") is None:
        raise SystemExit(f"fake_railway: {path} has no Deployment type")
    return schema


def fail_status(key: str, value):
    """How the next deployment ends instead of SUCCESS (null: it succeeds)."""
    if value not in FAIL_STATUSES + (None,):
        raise fakeserver.ControlError(f"{key} takes one of {', '.join(FAIL_STATUSES)} or null")
    return value


# --------------------------------------------------------------------------------------------
# The fake's world: service instances and deployments.
# --------------------------------------------------------------------------------------------

class Deployment:
    def __init__(self, seq: int, service: str, environment: str, project: str, commit, image,
                 reason: str, terminal: str, rollback_of: str | None = None):
        self.id = new_id()
        self.seq = seq
        self.service = service
        self.environment = environment
        self.project = project
        self.commit = commit
        self.image = image
        self.reason = reason
        self.rollback_of = rollback_of
        self.path = list(WALK) + [terminal]
        self.index = 0
        self.polls = 0
        self.status = self.path[0]
        self.statuses = [self.status]
        self.succeeded = False
        self.created_at = self.updated_at = self.status_updated_at = now()

    @property
    def finished(self) -> bool:
        return self.status not in IN_PROGRESS

    def set_status(self, status: str) -> None:
        self.status = status
        self.statuses.append(status)
        self.updated_at = self.status_updated_at = now()
        if status == "SUCCESS":
            self.succeeded = True

    def source(self) -> dict:
        return {"commit": self.commit, "image": self.image}


class RailwayFake(fakeserver.PlatformFake):
    """Service instances and their deployments, answered through graphql-core."""

    name = "fake_railway"
    rate_limit = RATE_LIMIT
    content_type = fakeserver.JSON_UTF8
    malformed_body = MALFORMED_BODY
    SETTINGS = {"steps": 1, "fail_next_deploy": None, "healthcheck": False, "project_id": DEFAULT_PROJECT_ID,
                "known_services": None, "echo_credentials": False}

    def __init__(self, schema, token: str = DEFAULT_TOKEN, project_token: str = DEFAULT_PROJECT_TOKEN,
                 verbose: bool = False):
        self.schema = schema
        self.token = token
        self.project_token = project_token
        self.root = {
            "deployment": self.r_deployment,
            "deployments": self.r_deployments,
            "serviceInstanceUpdate": self.r_service_instance_update,
            "serviceInstanceDeployV2": self.r_deploy_v2,
            "serviceInstanceDeploy": self.r_deploy_v1,
            "deploymentRollback": self.r_rollback,
            "deploymentRedeploy": self.r_redeploy,
            "deploymentRestart": self.r_restart,
            "deploymentCancel": self.r_cancel,
        }
        super().__init__(verbose)

    def reset(self) -> None:
        with self.lock:
            super().reset()
            self.controls = dict(self.SETTINGS)
            self.broken_images: set[str] = set()
            self.broken_commits: set[str] = set()
            self.deployments: dict[str, Deployment] = {}
            self.seq = 0
            self.instances: dict[tuple[str, str], dict] = {}
            self.service_sources: dict[str, dict] = {}

    # ---- test settings ---------------------------------------------------------------------

    def control_keys(self) -> set[str]:
        return super().control_keys() | set(self.SETTINGS) | {"break_image", "break_commit"}

    def apply_controls(self, settings: dict) -> None:
        super().apply_controls(settings)
        for key, check in (("steps", fakeserver.count), ("healthcheck", fakeserver.flag),
                           ("echo_credentials", fakeserver.flag), ("project_id", fakeserver.text),
                           ("known_services", fakeserver.known), ("fail_next_deploy", fail_status)):
            if key in settings:
                self.controls[key] = check(key, settings[key])
        self.broken_images.update(fakeserver.strings("break_image", settings.get("break_image", [])))
        self.broken_commits.update(fakeserver.strings("break_commit", settings.get("break_commit", [])))

    def control_view(self) -> dict:
        known_services = self.controls["known_services"]
        return {**super().control_view(), **self.controls, "broken_images": sorted(self.broken_images),
                "broken_commits": sorted(self.broken_commits),
                "known_services": None if known_services is None else sorted(known_services)}

    def deployment_state(self, d: Deployment) -> dict:
        return {"id": d.id, "order": d.seq, "service": d.service, "environment": d.environment,
                "project": d.project, "status": d.status, "commit": d.commit, "image": d.image,
                "reason": d.reason, "rollback_of": d.rollback_of, "statuses": list(d.statuses),
                "created_at": d.created_at}

    def state(self) -> dict:
        with self.lock:
            return dict(
                super().state(),
                deployments=[self.deployment_state(d) for d in sorted(self.deployments.values(), key=lambda d: d.seq)],
                service_instances=[
                    {"service": s, "environment": e, "image": src.get("image"), "repo": src.get("repo")}
                    for (s, e), src in sorted(self.instances.items())],
                controls=self.control_view(),
            )

    def test_routes(self) -> list:
        return [("GET", r"/__health/([^/]+)/([^/]+)/?", self.health)]

    def health(self, request, service: str, environment: str) -> fakeserver.Answer:
        """200 ok while the newest live deployment of the service instance runs nothing broken."""
        with self.lock:
            live = [d for d in self.deployments.values()
                    if d.service == service and d.environment == environment and d.status == "SUCCESS"]
            if not live:
                return fakeserver.text_answer(503, "no deployment is live")
            d = max(live, key=lambda d: d.seq)
            if d.image is not None and d.image in self.broken_images:
                return fakeserver.text_answer(503, f"deployment {d.id} runs broken image {d.image}")
            if d.commit is not None and d.commit in self.broken_commits:
                return fakeserver.text_answer(503, f"deployment {d.id} runs broken commit {d.commit}")
            return fakeserver.text_answer(200, "ok")

    # ---- the walk of a deployment ----------------------------------------------------------

    def create_deployment(self, service: str, environment: str, commit, image, reason: str,
                          rollback_of: str | None = None) -> Deployment:
        known = self.controls["known_services"]
        if known is not None and service not in known:
            raise GraphQLError("Service not found", extensions={"code": "NOT_FOUND"})
        terminal = self.controls["fail_next_deploy"] or "SUCCESS"
        self.controls["fail_next_deploy"] = None
        self.seq += 1
        d = Deployment(self.seq, service, environment, self.controls["project_id"], commit, image, reason,
                       terminal, rollback_of)
        self.deployments[d.id] = d
        if self.controls["steps"] <= 0:
            self.finish(d)
        return d

    def finish(self, d: Deployment) -> None:
        d.index = len(d.path) - 1
        d.polls = 0
        d.set_status(d.path[-1])
        # As on Railway: a deployment takes the traffic once it runs, unless a service healthcheck
        # holds it back until it answers, and the previous one is taken down (REMOVED). One that
        # CRASHED ran and died: without a healthcheck it had already taken the traffic.
        took_traffic = d.status == "SUCCESS" or (d.status == "CRASHED" and not self.controls["healthcheck"])
        if took_traffic:
            for other in self.deployments.values():
                if (other is not d and other.status == "SUCCESS" and other.service == d.service
                        and other.environment == d.environment):
                    other.set_status("REMOVED")

    def poll(self, d: Deployment) -> None:
        """Counts one deployment(id) query; after `steps` of them the deployment moves on a state."""
        if d.finished:
            return
        steps = self.controls["steps"]
        d.polls += 1
        if steps <= 0 or d.polls >= steps:
            if d.index + 1 >= len(d.path) - 1:
                self.finish(d)
            else:
                d.index += 1
                d.polls = 0
                d.set_status(d.path[d.index])

    def find(self, ident: str) -> Deployment:
        d = self.deployments.get(ident)
        if d is None:
            raise GraphQLError("Deployment not found", extensions={"code": "NOT_FOUND"})
        return d

    # ---- GraphQL views ---------------------------------------------------------------------

    def view(self, d: Deployment) -> dict:
        """A snapshot of a deployment shaped as the schema's Deployment (other fields answer
        'not implemented in the fake' when asked for)."""
        static_url = f"svc-{d.service[:8]}-{d.environment[:8]}.up.railway.app".lower()
        meta = {"reason": d.reason}
        if d.commit is not None:
            meta["commitHash"] = d.commit
        if d.image is not None:
            meta["image"] = d.image
        if d.rollback_of is not None:
            meta["rollbackSourceDeploymentId"] = d.rollback_of
        return {
            "id": d.id, "status": d.status, "createdAt": d.created_at, "updatedAt": d.updated_at,
            "statusUpdatedAt": d.status_updated_at, "serviceId": d.service, "environmentId": d.environment,
            "projectId": d.project, "canRollback": d.succeeded, "canRedeploy": d.finished, "meta": meta,
            "staticUrl": static_url, "url": f"https://{static_url}", "snapshotId": None, "diagnosis": None,
            "deploymentStopped": d.status in ("REMOVED", "CRASHED", "FAILED", "SKIPPED"),
            "suggestAddServiceDomain": False, "instances": [], "sockets": [],
            "creator": {"id": "fake-user", "email": "release-tests@example.com", "name": "release tests",
                        "avatar": None},
            "environment": {"id": d.environment, "name": d.environment, "projectId": d.project,
                            "isEphemeral": False, "canAccess": True, "createdAt": d.created_at,
                            "updatedAt": d.created_at, "deletedAt": None, "meta": None},
            "service": {"id": d.service, "name": d.service, "projectId": d.project, "createdAt": d.created_at,
                        "updatedAt": d.created_at, "deletedAt": None, "icon": None, "groupId": None,
                        "isRestricted": False, "templateId": None, "templateServiceId": None,
                        "templateThreadSlug": None, "hasHiddenRegistryCredentialsFromTemplate": False,
                        "featureFlags": []},
        }

    # ---- resolvers (called by graphql.execute under self.lock) ------------------------------

    def r_deployment(self, info, id):
        d = self.find(id)
        view = self.view(d)
        seen = info.context.setdefault("polled", set())
        if d.id not in seen:  # one step per request, however many aliases ask for it
            seen.add(d.id)
            self.poll(d)
        return view

    def r_deployments(self, info, input, first=None, after=None, last=None, before=None):
        for name, value in (("first", first), ("last", last)):
            if value is not None and value < 0:
                raise GraphQLError(f"Argument '{name}' must not be negative", extensions={"code": "BAD_USER_INPUT"})
        items = sorted(self.deployments.values(), key=lambda d: -d.seq)
        for key, attr in (("projectId", "project"), ("environmentId", "environment"), ("serviceId", "service")):
            if input.get(key) is not None:
                items = [d for d in items if getattr(d, attr) == input[key]]
        status = input.get("status") or {}
        if status.get("in") is not None:
            items = [d for d in items if d.status in status["in"]]
        if status.get("notIn") is not None:
            items = [d for d in items if d.status not in status["notIn"]]
        ids = [d.id for d in items]
        start, end = 0, len(items)
        if after is not None:
            if after not in ids:
                raise GraphQLError("Invalid cursor for 'after'", extensions={"code": "BAD_USER_INPUT"})
            start = ids.index(after) + 1
        if before is not None:
            if before not in ids:
                raise GraphQLError("Invalid cursor for 'before'", extensions={"code": "BAD_USER_INPUT"})
            end = ids.index(before)
        window = items[start:end] if start < end else []
        has_next = end < len(items)
        has_previous = start > 0
        if first is not None and len(window) > first:
            window, has_next = window[:first], True
        if last is not None and len(window) > last:
            window, has_previous = window[len(window) - last:], True
        return {
            "edges": [{"cursor": d.id, "node": self.view(d)} for d in window],
            "pageInfo": {"hasNextPage": has_next, "hasPreviousPage": has_previous,
                         "startCursor": window[0].id if window else None,
                         "endCursor": window[-1].id if window else None},
        }

    def r_service_instance_update(self, info, serviceId, input, environmentId=None):
        known = self.controls["known_services"]
        if known is not None and serviceId not in known:
            raise GraphQLError("Service not found", extensions={"code": "NOT_FOUND"})
        source = input.get("source")
        if source is not None:
            if environmentId is None:  # service-wide: every instance, and the default for new ones
                targets = [key for key in self.instances if key[0] == serviceId]
                self.service_sources.setdefault(serviceId, {}).update(source)
            else:
                targets = [(serviceId, environmentId)]
            for key in targets:
                current = self.instances.setdefault(key, dict(self.service_sources.get(serviceId, {})))
                current.update(source)
        elif environmentId is not None:
            self.instances.setdefault((serviceId, environmentId), dict(self.service_sources.get(serviceId, {})))
        return True

    def instance_source(self, service: str, environment: str) -> dict:
        return self.instances.setdefault((service, environment), dict(self.service_sources.get(service, {})))

    def r_deploy_v2(self, info, environmentId, serviceId, commitSha=None):
        if commitSha is not None:
            d = self.create_deployment(serviceId, environmentId, commitSha, None, "deploy")
        else:
            image = self.instance_source(serviceId, environmentId).get("image")
            d = self.create_deployment(serviceId, environmentId, None, image, "deploy")
        return d.id

    def r_deploy_v1(self, info, environmentId, serviceId, commitSha=None, latestCommit=None):
        self.r_deploy_v2(info, environmentId, serviceId, commitSha)
        return True

    def r_rollback(self, info, id):
        old = self.find(id)
        if not old.succeeded:
            raise GraphQLError("Deployment cannot be rolled back", extensions={"code": "BAD_USER_INPUT"})
        self.create_deployment(old.service, old.environment, old.commit, old.image, "rollback", rollback_of=old.id)
        return True

    def r_redeploy(self, info, id, usePreviousImageTag=None):
        old = self.find(id)
        return self.view(self.create_deployment(old.service, old.environment, old.commit, old.image, "redeploy"))

    def r_restart(self, info, id):
        self.find(id)
        return True

    def r_cancel(self, info, id):
        d = self.find(id)
        if not d.finished:
            d.set_status("REMOVED")
        return True

    # ---- one GraphQL request ---------------------------------------------------------------

    def unrouted(self, request: fakeserver.Request) -> fakeserver.Answer | None:
        if request.path.rstrip("/") != API_PATH:
            return self.errors(404, f"No route {request.method} {request.path}", "NOT_FOUND")
        if request.method != "POST":
            return self.errors(405, f"{API_PATH} takes POST", "METHOD_NOT_ALLOWED", {"Allow": "POST"})
        return None

    def log_entry(self, request: fakeserver.Request) -> dict:
        """The request with the credential values replaced by <redacted>, which credential it
        carried (auth: bearer, project or null), and its query, variables and operationName."""
        headers = {}
        for name, value in request.headers.items():
            if name.lower() == "authorization":
                value = "Bearer <redacted>" if value.startswith("Bearer ") else "<redacted>"
            elif name.lower() == "project-access-token":
                value = "<redacted>"
            headers[name] = value
        entry = {"method": request.method, "path": request.target, "headers": headers,
                 "auth": self.authorized(request.headers), "status": None}
        body = request.logged_body()
        if isinstance(body, dict):
            entry.update(query=body.get("query"), variables=body.get("variables"), operationName=body.get("operationName"))
        else:
            entry["body"] = request.raw.decode("utf-8", "replace")
        return entry

    def api_headers(self, request: fakeserver.Request) -> dict:
        return {"X-Request-Id": request.id, "X-RateLimit-Limit": RATE_LIMIT, "X-RateLimit-Remaining": self.remaining,
                "X-RateLimit-Reset": int(time.time()) + 60}

    def rate_limited(self) -> FakeError:
        return FakeError(429, "RATE_LIMITED", "Rate limit exceeded. Please try again later.", {
            "Retry-After": self.faults.retry_after_header(), "X-RateLimit-Remaining": 0,
            "X-RateLimit-Reset": int(time.time() + float(self.faults.retry_after))})

    def server_error(self) -> FakeError:
        return FakeError(500, "INTERNAL_SERVER_ERROR", "Internal Server Error")

    def error_value(self, request: fakeserver.Request, error: FakeError):
        return {"data": None, "errors": [error_entry(error.message, error.code)]}

    def errors(self, status: int, message: str, code: str, headers: dict | None = None) -> fakeserver.Answer:
        """An answer of only `errors[]`, as Railway gives for a request it could not read."""
        return self.json(status, {"errors": [error_entry(message, code)]}, headers)

    def api(self, request: fakeserver.Request) -> fakeserver.Answer:
        try:
            body = request.json()
        except ValueError:
            return self.errors(400, "Unexpected token in JSON body: the request body is not JSON", "BAD_REQUEST")
        presented = request.header("Authorization") or request.header("Project-Access-Token")
        status, value = self.graphql_request(body, self.authorized(request.headers), presented)
        return self.json(status, value)

    def authorized(self, headers) -> str | None:
        bearer = headers.get("Authorization") or ""
        if bearer.startswith("Bearer ") and bearer[len("Bearer "):].strip() == self.token:
            return "bearer"
        if (headers.get("Project-Access-Token") or "").strip() == self.project_token:
            return "project"
        return None

    def graphql_request(self, body, auth: str | None, presented: str = "") -> tuple[int, dict]:
        """`presented`: the credential header the request carried, quoted when `echo_credentials`
        is on (as a careless platform might; the client must never show it)."""
        if not isinstance(body, dict):
            return 400, {"errors": [error_entry("POST body must be a JSON object", "BAD_REQUEST")]}
        if auth is None:
            echoed = f": {presented}" if self.controls["echo_credentials"] and presented else ""
            return 200, {"data": None, "errors": [error_entry(f"Not Authorized{echoed}", "UNAUTHORIZED")]}
        query = body.get("query")
        variables = body.get("variables")
        operation_name = body.get("operationName")
        if not isinstance(query, str) or not query.strip():
            return 400, {"errors": [error_entry("Must provide query string.", "BAD_REQUEST")]}
        if variables is not None and not isinstance(variables, dict):
            return 400, {"errors": [error_entry("Variables must be provided as an object.", "BAD_REQUEST")]}
        if operation_name is not None and not isinstance(operation_name, str):
            return 400, {"errors": [error_entry("operationName must be a string.", "BAD_REQUEST")]}
        try:
            document = graphql.parse(query)
        except GraphQLError as error:
            return 200, {"errors": [dict(error.formatted, extensions={"code": "GRAPHQL_PARSE_FAILED"})]}
        errors = graphql.validate(self.schema, document)
        if errors:
            return 200, {"errors": [dict(e.formatted, extensions={"code": "GRAPHQL_VALIDATION_FAILED"}) for e in errors]}
        operation = graphql.get_operation_ast(document, operation_name)
        if operation is None:
            message = (f"Unknown operation named '{operation_name}'." if operation_name
                       else "Must provide operation name if query contains multiple operations.")
            return 200, {"errors": [error_entry(message, "BAD_USER_INPUT")]}
        kind = operation.operation.value
        root_type = self.schema.get_root_type(operation.operation)
        if kind == "subscription" or root_type is None:
            return 200, {"errors": [error_entry(f"{kind} operations are not implemented in the fake", "NOT_IMPLEMENTED")]}
        coerced = get_variable_values(self.schema, operation.variable_definitions or [], variables or {})
        if isinstance(coerced, list):
            return 200, {"errors": [dict(e.formatted, extensions={"code": "BAD_USER_INPUT"}) for e in coerced]}
        fragments = {d.name.value: d for d in document.definitions if isinstance(d, graphql.FragmentDefinitionNode)}
        fields = collect_fields(self.schema, fragments, coerced, root_type, operation.selection_set)
        missing = sorted({nodes[0].name.value for nodes in fields.values()
                          if not nodes[0].name.value.startswith("__") and nodes[0].name.value not in self.root})
        if missing:
            return 200, {"data": None, "errors": [
                error_entry(f"{root_type.name}.{name} is not implemented in the fake", "NOT_IMPLEMENTED")
                for name in missing]}
        with self.lock:
            result = graphql.execute(self.schema, document, root_value=self.root, context_value={"auth": auth},
                                     variable_values=variables or {}, operation_name=operation_name,
                                     field_resolver=field_resolver)
        out: dict = {"data": result.data}
        if result.errors:
            out["errors"] = [e.formatted for e in result.errors]
        return 200, out


def field_resolver(source, info, **args):
    """Dicts answer by key (callables are called with the arguments); keys the fake never filled in
    answer 'not implemented in the fake'. Anything else uses graphql-core's default."""
    if isinstance(source, dict):
        name = info.field_name
        if name not in source:
            raise GraphQLError(f"{info.parent_type.name}.{name} is not implemented in the fake",
                               extensions={"code": "NOT_IMPLEMENTED"})
        value = source[name]
        return value(info, **args) if callable(value) else value
    return graphql.default_field_resolver(source, info, **args)


def main(argv=None) -> int:
    parser = fakeserver.argument_parser("Fake Railway public GraphQL API (v2) for tests.")
    parser.add_argument("--schema", required=True, help="path to Railway's introspection schema.json")
    parser.add_argument("--token", default=DEFAULT_TOKEN, help="the accepted account/workspace bearer token")
    parser.add_argument("--project-token", default=DEFAULT_PROJECT_TOKEN, help="the accepted Project-Access-Token")
    return fakeserver.serve(parser, argv, lambda args: RailwayFake(load_schema(args.schema), token=args.token,
                                                                   project_token=args.project_token, verbose=args.verbose))


if __name__ == "__main__":
    sys.exit(main())
