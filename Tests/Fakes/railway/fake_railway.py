#!/usr/bin/env python3
"""A fake Railway public GraphQL API (v2) for the tests of `release` (Python 3.11 + graphql-core 3.2).

Every document and its variables are validated against the official introspection schema, loaded
at startup from --schema (never copied into the project). Only the operations `release` uses are
implemented; others that are valid against the schema answer "not implemented in the fake". Test
controls live under /__control, /__state and /__health and need no credentials. See README.md.

    fake_railway.py --schema PATH --port 0 --port-file FILE [--token TOKEN] [--project-token PTOKEN]
                    [--max-seconds 300]
    fake_railway.py --self-test --schema PATH
"""

from __future__ import annotations

import http.client
import json
import os
import re
import sys
import threading
import time
import urllib.parse
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import fakeserver  # noqa: E402  (Tests/Fakes/fakeserver.py, shared by every fake)

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
    try:
        with open(path, encoding="utf-8") as handle:
            doc = json.load(handle)
    except (OSError, ValueError) as error:
        raise SystemExit(f"fake_railway: cannot load the schema {path}: {error}")
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


class Fake:
    CONTROL_DEFAULTS = {
        "steps": 1, "fail_next_deploy": None, "healthcheck": False,
        "rate_limit_next": 0, "retry_after": 1, "error_next": 0, "malformed_next": 0,
        "hang_next": 0, "hang_seconds": 5.0, "project_id": DEFAULT_PROJECT_ID, "known_services": None,
        "echo_credentials": False,
    }

    def __init__(self, schema, token: str = DEFAULT_TOKEN, project_token: str = DEFAULT_PROJECT_TOKEN,
                 verbose: bool = False):
        self.schema = schema
        self.token = token
        self.project_token = project_token
        self.verbose = verbose
        self.lock = threading.RLock()
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
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.controls = dict(self.CONTROL_DEFAULTS)
            self.broken_images: set[str] = set()
            self.broken_commits: set[str] = set()
            self.deployments: dict[str, Deployment] = {}
            self.seq = 0
            self.instances: dict[tuple[str, str], dict] = {}
            self.service_sources: dict[str, dict] = {}
            self.requests: list[dict] = []
            self.remaining = RATE_LIMIT

    # ---- test controls ---------------------------------------------------------------------

    def take(self, name: str) -> bool:
        if self.controls[name] > 0:
            self.controls[name] -= 1
            return True
        return False

    def control_view(self) -> dict:
        view = dict(self.controls)
        view["broken_images"] = sorted(self.broken_images)
        view["broken_commits"] = sorted(self.broken_commits)
        return view

    def handle_control(self, body) -> dict:
        if not isinstance(body, dict):
            raise ValueError("POST /__control takes a JSON object")
        known = set(self.CONTROL_DEFAULTS) | {"reset", "break_image", "break_commit"}
        unknown = sorted(set(body) - known)
        if unknown:
            raise ValueError(f"unknown control keys {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        counts = ("steps", "rate_limit_next", "error_next", "malformed_next", "hang_next")
        numbers = ("retry_after", "hang_seconds")
        for key in counts:
            if key in body and (isinstance(body[key], bool) or not isinstance(body[key], int) or body[key] < 0):
                raise ValueError(f"{key} must be a non-negative integer")
        for key in numbers:
            if key in body and (isinstance(body[key], bool) or not isinstance(body[key], (int, float)) or body[key] < 0):
                raise ValueError(f"{key} must be a non-negative number")
        if "fail_next_deploy" in body and body["fail_next_deploy"] not in FAIL_STATUSES + (None,):
            raise ValueError(f"fail_next_deploy must be one of {', '.join(FAIL_STATUSES)} or null")
        if "healthcheck" in body and not isinstance(body["healthcheck"], bool):
            raise ValueError("healthcheck must be true or false")
        if "echo_credentials" in body and not isinstance(body["echo_credentials"], bool):
            raise ValueError("echo_credentials must be true or false")
        if "project_id" in body and not isinstance(body["project_id"], str):
            raise ValueError("project_id must be a string")
        if "known_services" in body and body["known_services"] is not None and not (
                isinstance(body["known_services"], list) and all(isinstance(s, str) for s in body["known_services"])):
            raise ValueError("known_services must be a list of strings or null")
        refs = {}
        for key in ("break_image", "break_commit"):
            if key in body:
                value = body[key]
                value = [value] if isinstance(value, str) else value
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise ValueError(f"{key} must be a string or a list of strings")
                refs[key] = value
        with self.lock:
            if body.get("reset"):
                self.reset()
            for key in self.CONTROL_DEFAULTS:
                if key in body:
                    self.controls[key] = body[key]
            self.broken_images.update(refs.get("break_image", []))
            self.broken_commits.update(refs.get("break_commit", []))
            return self.control_view()

    def deployment_state(self, d: Deployment) -> dict:
        return {"id": d.id, "order": d.seq, "service": d.service, "environment": d.environment,
                "project": d.project, "status": d.status, "commit": d.commit, "image": d.image,
                "reason": d.reason, "rollback_of": d.rollback_of, "statuses": list(d.statuses),
                "created_at": d.created_at}

    def state(self) -> dict:
        with self.lock:
            return {
                "deployments": [self.deployment_state(d) for d in sorted(self.deployments.values(), key=lambda d: d.seq)],
                "service_instances": [
                    {"service": s, "environment": e, "image": src.get("image"), "repo": src.get("repo")}
                    for (s, e), src in sorted(self.instances.items())],
                "requests": json.loads(json.dumps(self.requests)),
                "controls": self.control_view(),
            }

    def health(self, service: str, environment: str) -> tuple[int, str]:
        with self.lock:
            live = [d for d in self.deployments.values()
                    if d.service == service and d.environment == environment and d.status == "SUCCESS"]
            if not live:
                return 503, "no deployment is live"
            d = max(live, key=lambda d: d.seq)
            if d.image is not None and d.image in self.broken_images:
                return 503, f"deployment {d.id} runs broken image {d.image}"
            if d.commit is not None and d.commit in self.broken_commits:
                return 503, f"deployment {d.id} runs broken commit {d.commit}"
            return 200, "ok"

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


# --------------------------------------------------------------------------------------------
# HTTP.
# --------------------------------------------------------------------------------------------

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-railway/1"
    fake: Fake

    def log_message(self, fmt, *args):
        if self.fake.verbose:
            sys.stderr.write("fake_railway: " + (fmt % args) + "\n")

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def send(self, status: int, body: bytes, content_type: str = "application/json; charset=utf-8",
             headers: dict | None = None):
        fakeserver.write_response(self, status, body, content_type, headers)

    def send_json(self, status: int, value, headers: dict | None = None):
        self.send(status, (json.dumps(value) + "\n").encode(), headers=headers)

    def redacted_headers(self) -> dict:
        out = {}
        for name, value in self.headers.items():
            if name.lower() == "authorization":
                value = "Bearer <redacted>" if value.startswith("Bearer ") else "<redacted>"
            elif name.lower() == "project-access-token":
                value = "<redacted>"
            out[name] = value
        return out

    def dispatch(self):
        raw = self.read_body()
        path = urllib.parse.urlsplit(self.path).path
        if path.startswith("/__"):
            return self.dispatch_fake(path, raw)
        if path.rstrip("/") != API_PATH:
            return self.send_json(404, {"errors": [error_entry(f"No route {self.command} {path}", "NOT_FOUND")]})
        if self.command != "POST":
            return self.send_json(405, {"errors": [error_entry(f"{API_PATH} takes POST", "METHOD_NOT_ALLOWED")]},
                                  {"Allow": "POST"})
        fake = self.fake
        try:
            body = json.loads(raw) if raw else None
            parsed = True
        except ValueError:
            body, parsed = None, False
        entry = {"method": self.command, "path": self.path, "headers": self.redacted_headers(),
                 "auth": fake.authorized(self.headers), "status": None}
        if isinstance(body, dict):
            entry.update(query=body.get("query"), variables=body.get("variables"),
                         operationName=body.get("operationName"))
        else:
            entry["body"] = raw.decode("utf-8", "replace")
        with fake.lock:
            fake.requests.append(entry)
            fake.remaining = max(0, fake.remaining - 1)
            hang = fake.controls["hang_seconds"] if fake.take("hang_next") else 0
            fault = next((f for f in ("rate_limit_next", "error_next", "malformed_next") if fake.take(f)), None)
            retry_after = fake.controls["retry_after"]
            remaining = fake.remaining
        if hang:
            time.sleep(hang)
        reset_at = int(time.time()) + 60
        extra = {"X-Request-Id": new_id(), "X-RateLimit-Limit": RATE_LIMIT, "X-RateLimit-Remaining": remaining,
                 "X-RateLimit-Reset": reset_at}
        if fault == "rate_limit_next":
            seconds = int(retry_after) if float(retry_after).is_integer() else retry_after
            extra.update({"Retry-After": seconds, "X-RateLimit-Remaining": 0,
                          "X-RateLimit-Reset": int(time.time() + float(retry_after))})
            status, value = 429, {"data": None, "errors": [error_entry(
                "Rate limit exceeded. Please try again later.", "RATE_LIMITED")]}
        elif fault == "error_next":
            status, value = 500, {"data": None, "errors": [error_entry("Internal Server Error", "INTERNAL_SERVER_ERROR")]}
        elif not parsed:
            status, value = 400, {"errors": [error_entry("Unexpected token in JSON body: the request body is not JSON",
                                                          "BAD_REQUEST")]}
        else:
            try:
                presented = self.headers.get("Authorization") or self.headers.get("Project-Access-Token") or ""
                status, value = fake.graphql_request(body, entry["auth"], presented)
            except Exception as error:  # a bug in the fake: say so rather than hang the client
                status, value = 500, {"errors": [error_entry(f"fake_railway bug: {type(error).__name__}: {error}",
                                                             "FAKE_RAILWAY_BUG")]}
        entry["status"] = status
        if fault == "malformed_next":
            entry["status"] = 200
            entry["malformed"] = True
            return self.send(200, MALFORMED_BODY, headers=extra)
        self.send_json(status, value, extra)

    def dispatch_fake(self, path: str, raw: bytes):
        fake = self.fake
        if path == "/__control" and self.command == "POST":
            try:
                body = json.loads(raw or b"{}")
                return self.send_json(200, {"controls": fake.handle_control(body)})
            except ValueError as error:
                return self.send_json(400, {"error": str(error)})
        if path == "/__control" and self.command == "GET":
            with fake.lock:
                return self.send_json(200, {"controls": fake.control_view()})
        if path == "/__state" and self.command == "GET":
            return self.send_json(200, fake.state())
        m = re.match(r"^/__health/([^/]+)/([^/]+)/?$", path)
        if m and self.command == "GET":
            status, text = fake.health(urllib.parse.unquote(m.group(1)), urllib.parse.unquote(m.group(2)))
            return self.send(status, text.encode(), "text/plain; charset=utf-8")
        self.send_json(404, {"error": f"fake_railway has no test route {self.command} {path}"})

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = dispatch


class Server(ThreadingHTTPServer):
    request_queue_size = 64
    daemon_threads = True


def make_server(fake: Fake, port: int) -> ThreadingHTTPServer:
    handler = type("BoundHandler", (Handler,), {"fake": fake})
    return Server(("127.0.0.1", port), handler)




# --------------------------------------------------------------------------------------------
# Self-test.
# --------------------------------------------------------------------------------------------

DEPLOYMENT_FIELDS = "id status createdAt updatedAt serviceId environmentId projectId canRollback meta staticUrl url"
Q_DEPLOYMENT = "query Deployment($id: String!) { deployment(id: $id) { %s } }" % DEPLOYMENT_FIELDS
M_DEPLOY = ("mutation Deploy($environmentId: String!, $serviceId: String!, $commitSha: String) {"
            " serviceInstanceDeployV2(environmentId: $environmentId, serviceId: $serviceId, commitSha: $commitSha) }")
M_UPDATE = ("mutation Update($serviceId: String!, $environmentId: String, $input: ServiceInstanceUpdateInput!) {"
            " serviceInstanceUpdate(serviceId: $serviceId, environmentId: $environmentId, input: $input) }")
M_ROLLBACK = "mutation Rollback($id: String!) { deploymentRollback(id: $id) }"
Q_LIST = ("query List($input: DeploymentListInput!, $first: Int) { deployments(input: $input, first: $first) {"
          " edges { cursor node { id status meta } } pageInfo { hasNextPage endCursor } } }")
SVC, ENV = "svc-0001-aaaa", "env-0001-prod"


class SelfTest:
    def __init__(self, schema_path: str):
        self.fake = Fake(load_schema(schema_path))
        self.server = make_server(self.fake, 0)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.passed = 0
        self.failed = 0

    def http(self, method, path, body=None, headers=None, raw=None, timeout=10):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
            hdrs = {"Content-Type": "application/json", **(headers or {})}
            conn.request(method, path, body=data, headers=hdrs)
            response = conn.getresponse()
            text = response.read().decode("utf-8", "replace")
            try:
                value = json.loads(text)
            except ValueError:
                value = None
            return response.status, {k.lower(): v for k, v in response.getheaders()}, value, text
        finally:
            conn.close()

    def gql(self, query, variables=None, auth="token", operation_name=None):
        headers = {}
        if auth == "token":
            headers["Authorization"] = f"Bearer {DEFAULT_TOKEN}"
        elif auth == "project":
            headers["Project-Access-Token"] = DEFAULT_PROJECT_TOKEN
        elif auth:
            headers["Authorization"] = f"Bearer {auth}"
        body = {"query": query}
        if variables is not None:
            body["variables"] = variables
        if operation_name is not None:
            body["operationName"] = operation_name
        return self.http("POST", API_PATH, body, headers)

    def control(self, **body):
        s, _, v, _ = self.http("POST", "/__control", body)
        assert s == 200, (s, v)
        return v

    def check(self, name, ok, detail=None):
        if ok:
            self.passed += 1
            print(f"ok   {name}")
        else:
            self.failed += 1
            print(f"FAIL {name}: {json.dumps(detail, default=str)[:800] if detail is not None else ''}")

    def walk(self, dep_id, polls):
        out = []
        for _ in range(polls):
            s, _, v, _ = self.gql(Q_DEPLOYMENT, {"id": dep_id})
            out.append(v["data"]["deployment"] if s == 200 and v and v.get("data") else v)
        return out

    def run(self) -> int:
        try:
            self.tests()
        except Exception as error:  # count a crash of the checks as a failure
            import traceback
            traceback.print_exc()
            self.check(f"self-test ran to the end ({type(error).__name__}: {error})", False)
        print(f"{self.passed} passed, {self.failed} failed")
        self.server.shutdown()
        return 0 if self.failed == 0 and self.passed > 0 else 1

    def tests(self):
        # Auth.
        s, _, v, _ = self.gql(Q_DEPLOYMENT, {"id": "x"}, auth=None)
        self.check("no credentials -> 200 Not Authorized, data null", s == 200 and v["data"] is None
                   and v["errors"][0]["message"] == "Not Authorized"
                   and v["errors"][0]["extensions"]["code"] == "UNAUTHORIZED", (s, v))
        s, _, v, _ = self.gql(Q_DEPLOYMENT, {"id": "x"}, auth="wrong-token")
        self.check("wrong token -> Not Authorized", s == 200 and v["errors"][0]["message"] == "Not Authorized", (s, v))
        s, _, v, _ = self.gql(Q_DEPLOYMENT, {"id": "nope"}, auth="project")
        self.check("project token accepted; unknown id -> Deployment not found, data null",
                   s == 200 and v["data"] is None and v["errors"][0]["message"] == "Deployment not found"
                   and v["errors"][0]["path"] == ["deployment"], (s, v))

        # Document and variable validation.
        s, _, v, _ = self.gql("query ($id: String!) { deployment(id: $id) { id bogusField } }", {"id": "x"})
        self.check("unknown field -> graphql-core validation error", s == 200 and "data" not in v
                   and "Cannot query field 'bogusField' on type 'Deployment'" in v["errors"][0]["message"], (s, v))
        s, _, v, _ = self.gql("query { deployment { id } }")
        self.check("missing required argument -> validation error", s == 200
                   and "argument 'id' of type 'String!' is required" in v["errors"][0]["message"], (s, v))
        s, _, v, _ = self.gql("query { deployment(id: \"x\") { id ", None)
        self.check("syntax error -> parse error", s == 200 and "Syntax Error" in v["errors"][0]["message"], (s, v))
        s, _, v, _ = self.gql(Q_DEPLOYMENT, {"id": 42})
        self.check("wrong variable type (Int for String!) -> error", s == 200 and "data" not in v
                   and "String cannot represent a non string value" in v["errors"][0]["message"], (s, v))
        s, _, v, _ = self.gql(M_UPDATE, {"serviceId": SVC, "input": {"source": {"image": "x", "tag": "y"}}})
        self.check("unknown input field in variables -> error", s == 200
                   and "Field 'tag' is not defined by type 'ServiceSourceInput'" in v["errors"][0]["message"], (s, v))
        s, _, v, _ = self.gql(Q_DEPLOYMENT, {})
        self.check("missing variable -> error", s == 200
                   and "Variable '$id' of required type 'String!' was not provided." in v["errors"][0]["message"], (s, v))
        s, _, v, _ = self.gql("query { me { id } }")
        self.check("valid but unimplemented operation -> not implemented in the fake", s == 200 and v["data"] is None
                   and "not implemented in the fake" in v["errors"][0]["message"], (s, v))
        s, _, v, _ = self.http("POST", API_PATH, raw=b"{not json", headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"})
        self.check("unparseable JSON -> 400 errors[]", s == 400 and v["errors"], (s, v))

        # Deploy by commit: QUEUED -> BUILDING -> DEPLOYING -> SUCCESS, one step per query.
        s, _, v, _ = self.gql(M_DEPLOY, {"environmentId": ENV, "serviceId": SVC, "commitSha": "abc1234"})
        dep1 = v["data"]["serviceInstanceDeployV2"] if s == 200 and v.get("data") else None
        self.check("serviceInstanceDeployV2 -> uuid", isinstance(dep1, str) and uuid.UUID(dep1), (s, v))
        walk = self.walk(dep1, 5)
        self.check("deploy walks QUEUED, BUILDING, DEPLOYING, SUCCESS",
                   [w["status"] for w in walk] == ["QUEUED", "BUILDING", "DEPLOYING", "SUCCESS", "SUCCESS"], walk)
        last = walk[-1]
        self.check("deployment fields", set(last) == set(DEPLOYMENT_FIELDS.split()) and last["serviceId"] == SVC
                   and last["environmentId"] == ENV and last["projectId"] == DEFAULT_PROJECT_ID
                   and last["meta"]["commitHash"] == "abc1234" and last["canRollback"] is True
                   and last["url"].startswith("https://"), last)
        s, _, v, _ = self.gql("query ($id: String!) { a: deployment(id: $id) { theId: id status } "
                              "b: deployment(id: $id) { ... on Deployment { __typename serviceId } } }", {"id": dep1})
        self.check("aliases, fragments and only the requested subfields", s == 200 and v["data"] == {
            "a": {"theId": dep1, "status": "SUCCESS"}, "b": {"__typename": "Deployment", "serviceId": SVC}}, (s, v))
        s, _, _, text = self.http("GET", f"/__health/{SVC}/{ENV}")
        self.check("health ok for the live commit", s == 200 and text == "ok", (s, text))

        # Image update, then deploy: the new one records the image and supersedes the old one.
        s, _, v, _ = self.gql(M_UPDATE, {"serviceId": SVC, "environmentId": ENV,
                                         "input": {"source": {"image": "ghcr.io/acme/web:2.0"}}})
        self.check("serviceInstanceUpdate -> true", s == 200 and v == {"data": {"serviceInstanceUpdate": True}}, (s, v))
        s, _, v, _ = self.gql(M_DEPLOY, {"environmentId": ENV, "serviceId": SVC})
        dep2 = v["data"]["serviceInstanceDeployV2"]
        walk = self.walk(dep2, 4)
        self.check("image deploy reaches SUCCESS with meta.image", walk[-1]["status"] == "SUCCESS"
                   and walk[-1]["meta"]["image"] == "ghcr.io/acme/web:2.0" and "commitHash" not in walk[-1]["meta"], walk)
        s, _, v, _ = self.gql(Q_DEPLOYMENT, {"id": dep1})
        self.check("previous SUCCESS became REMOVED", v["data"]["deployment"]["status"] == "REMOVED", v)
        state = self.http("GET", "/__state")[2]
        self.check("state: instance image and deployments", state["service_instances"] == [
            {"service": SVC, "environment": ENV, "image": "ghcr.io/acme/web:2.0", "repo": None}]
            and [d["image"] for d in state["deployments"]] == [None, "ghcr.io/acme/web:2.0"], state["service_instances"])
        self.control(break_image="ghcr.io/acme/web:2.0")
        s, _, _, text = self.http("GET", f"/__health/{SVC}/{ENV}")
        self.check("health 503 for a broken image", s == 503, (s, text))

        # Rollback to the commit deployment: a new deployment with the old source.
        s, _, v, _ = self.gql(M_ROLLBACK, {"id": dep1})
        self.check("deploymentRollback -> true", s == 200 and v == {"data": {"deploymentRollback": True}}, (s, v))
        s, _, v, _ = self.gql(Q_LIST, {"input": {"serviceId": SVC, "environmentId": ENV}, "first": 1})
        node = v["data"]["deployments"]["edges"][0]["node"]
        self.check("rollback created a new deployment with the old commit", node["id"] not in (dep1, dep2)
                   and node["status"] == "QUEUED" and node["meta"]["commitHash"] == "abc1234"
                   and node["meta"]["reason"] == "rollback", node)
        walk = self.walk(node["id"], 4)
        self.check("rollback walks to SUCCESS", [w["status"] for w in walk] == ["QUEUED", "BUILDING", "DEPLOYING", "SUCCESS"], walk)
        s, _, _, text = self.http("GET", f"/__health/{SVC}/{ENV}")
        self.check("health ok again after rollback", s == 200, (s, text))
        s, _, v, _ = self.gql(M_ROLLBACK, {"id": "00000000-0000-0000-0000-000000000000"})
        self.check("rollback of an unknown id -> Deployment not found", s == 200 and v["data"] is None
                   and v["errors"][0]["message"] == "Deployment not found", (s, v))

        # fail_next_deploy and steps.
        self.control(fail_next_deploy="CRASHED", steps=2)
        s, _, v, _ = self.gql(M_DEPLOY, {"environmentId": ENV, "serviceId": SVC, "commitSha": "bad9999"})
        walk = self.walk(v["data"]["serviceInstanceDeployV2"], 7)
        self.check("fail_next_deploy CRASHED with steps=2", [w["status"] for w in walk] ==
                   ["QUEUED", "QUEUED", "BUILDING", "BUILDING", "DEPLOYING", "DEPLOYING", "CRASHED"], walk)
        self.check("a crashed deployment cannot be rolled back to", walk[-1]["canRollback"] is False, walk[-1])
        s, _, _, text = self.http("GET", f"/__health/{SVC}/{ENV}")
        self.check("a crash without a healthcheck took the traffic: nothing serves", s == 503, (s, text))
        s, _, v, _ = self.gql(Q_LIST, {"input": {"serviceId": SVC, "status": {"in": ["SUCCESS"]}}, "first": 1})
        self.check("...and no deployment is SUCCESS", v["data"]["deployments"]["edges"] == [], v)
        s, _, v, _ = self.gql(M_DEPLOY, {"environmentId": ENV, "serviceId": SVC, "commitSha": "abc1234"})
        self.walk(v["data"]["serviceInstanceDeployV2"], 7)
        self.control(fail_next_deploy="CRASHED", healthcheck=True)
        s, _, v, _ = self.gql(M_DEPLOY, {"environmentId": ENV, "serviceId": SVC, "commitSha": "bad9999"})
        self.walk(v["data"]["serviceInstanceDeployV2"], 7)
        s, _, _, text = self.http("GET", f"/__health/{SVC}/{ENV}")
        self.check("a healthcheck holds the traffic: a crash leaves the previous deployment live", s == 200, (s, text))
        self.control(steps=1, healthcheck=False)

        # Deployments list: newest first, first, pageInfo.
        s, _, v, _ = self.gql(Q_LIST, {"input": {"projectId": DEFAULT_PROJECT_ID, "serviceId": SVC}, "first": 2})
        conn = v["data"]["deployments"]
        all_ids = [d["id"] for d in sorted(self.http("GET", "/__state")[2]["deployments"], key=lambda d: -d["order"])]
        self.check("deployments newest first, honouring first", [e["node"]["id"] for e in conn["edges"]] == all_ids[:2]
                   and conn["pageInfo"]["hasNextPage"] is True, conn)
        s, _, v, _ = self.gql("query ($c: String) { deployments(input: {serviceId: \"%s\"}, first: 10, after: $c)"
                              " { edges { node { id } } pageInfo { hasNextPage } } }" % SVC, {"c": conn["pageInfo"]["endCursor"]})
        self.check("after cursor gives the rest", [e["node"]["id"] for e in v["data"]["deployments"]["edges"]] == all_ids[2:]
                   and v["data"]["deployments"]["pageInfo"]["hasNextPage"] is False, v)
        s, _, v, _ = self.gql(Q_LIST, {"input": {"environmentId": "other-env"}})
        self.check("filter by environment", v["data"]["deployments"]["edges"] == [], v)

        # Faults.
        self.control(rate_limit_next=1, retry_after=3)
        s, h, v, _ = self.gql(Q_DEPLOYMENT, {"id": dep1})
        self.check("429 with Retry-After and errors[]", s == 429 and h.get("retry-after") == "3"
                   and v["errors"][0]["extensions"]["code"] == "RATE_LIMITED", (s, h, v))
        s, _, v, _ = self.gql(Q_DEPLOYMENT, {"id": dep1})
        self.check("next request after 429 is fine", s == 200 and v["data"]["deployment"]["id"] == dep1, (s, v))
        self.control(error_next=1)
        s, _, v, _ = self.gql(Q_DEPLOYMENT, {"id": dep1})
        self.check("error_next -> 500", s == 500 and v["errors"], (s, v))
        self.control(malformed_next=1)
        s, h, v, text = self.gql(Q_DEPLOYMENT, {"id": dep1})
        self.check("malformed_next -> 200 with a non-JSON body", s == 200 and v is None and text.startswith("<html>"), (s, text))
        self.control(hang_next=1, hang_seconds=0.3)
        started = time.monotonic()
        s, _, v, _ = self.gql(Q_DEPLOYMENT, {"id": dep1})
        self.check("hang_next delays the answer", s == 200 and time.monotonic() - started >= 0.3, s)

        # State records requests without credentials.
        state = self.http("GET", "/__state")[2]
        reqs = state["requests"]
        secrets = json.dumps(reqs)
        self.check("state records requests without credential values", reqs and DEFAULT_TOKEN not in secrets
                   and DEFAULT_PROJECT_TOKEN not in secrets and reqs[2]["auth"] == "project"
                   and reqs[2]["variables"] == {"id": "nope"} and reqs[2]["operationName"] is None
                   and "deployment(id: $id)" in reqs[2]["query"], reqs[:3])
        self.control(reset=True)
        self.control(echo_credentials=True)
        s, _, v, _ = self.gql(Q_DEPLOYMENT, {"id": "x"}, auth="wrong-token")
        self.check("echo_credentials: Not Authorized quotes the header",
                   s == 200 and v["errors"][0]["message"] == "Not Authorized: Bearer wrong-token", (s, v))
        self.control(reset=True)
        state = self.http("GET", "/__state")[2]
        self.check("reset clears everything", state["deployments"] == [] and state["requests"] == []
                   and state["controls"]["steps"] == 1, state)
        s, _, text_v, text = self.http("GET", f"/__health/{SVC}/{ENV}")
        self.check("health 503 with no deployment", s == 503, (s, text))
        s, _, v, _ = self.http("POST", "/__control", {"stepz": 1})
        self.check("unknown control key -> 400", s == 400, (s, v))


# --------------------------------------------------------------------------------------------

def main(argv=None) -> int:
    parser = fakeserver.argument_parser("Fake Railway public GraphQL API (v2) for tests.")
    parser.add_argument("--schema", required=True, help="path to Railway's introspection schema.json")
    parser.add_argument("--token", default=DEFAULT_TOKEN, help="the accepted account/workspace bearer token")
    parser.add_argument("--project-token", default=DEFAULT_PROJECT_TOKEN, help="the accepted Project-Access-Token")
    args = parser.parse_args(argv)
    fakeserver.limit_lifetime(args.max_seconds)
    if args.self_test:
        return SelfTest(args.schema).run()
    if not args.port_file:
        parser.error("--port-file is required (unless --self-test)")
    fake = Fake(load_schema(args.schema), token=args.token, project_token=args.project_token, verbose=args.verbose)
    return fakeserver.serve(make_server(fake, args.port), "fake_railway", args.port_file)


if __name__ == "__main__":
    sys.exit(main())
