#!/usr/bin/env python3
"""A fake DigitalOcean App Platform API (apps, deployments, rollbacks) for the tests of `release`.

Every API request is checked against the official OpenAPI 3 description read at startup from
--spec DIR (DigitalOcean-public.v2.yaml and the files it $refs; nothing is copied here): the
method and path must match one of the description's `paths`, and a JSON body must satisfy the
operation's requestBody schema. See README.md beside this file.

    fake_digitalocean.py --spec DIR --port 0 --port-file FILE [--token TOKEN] [--max-seconds 300]
"""

from __future__ import annotations

import copy
import os
import re
import sys
import threading
import time
import urllib.parse
import uuid
from datetime import datetime, timezone

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import fakeserver  # noqa: E402  (Tests/Fakes/fakeserver.py, shared by every fake)
from fakeserver import FakeError  # noqa: E402

_missing = []
try:
    import yaml
except ImportError:  # pragma: no cover
    _missing.append("PyYAML")
try:
    import jsonschema
    import jsonschema.exceptions
except ImportError:  # pragma: no cover
    _missing.append("jsonschema")
try:
    from openapi_schema_validator import OAS30Validator, OAS31Validator
except ImportError:  # pragma: no cover
    _missing.append("openapi-schema-validator")
if _missing:
    sys.stderr.write("fake_digitalocean.py needs Python modules that are not installed. Run:\n"
                     f"    python3 -m pip install {' '.join(_missing)}\n")
    sys.exit(2)

DEFAULT_TOKEN = "test-token"
ENTRY_FILE = "DigitalOcean-public.v2.yaml"
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
RATE_LIMIT = 5000

LIVE_PHASES = ["PENDING_BUILD", "BUILDING", "PENDING_DEPLOY", "DEPLOYING"]
WALK = LIVE_PHASES + ["ACTIVE"]
ALL_PHASES = ["UNKNOWN", "PENDING_BUILD", "BUILDING", "PENDING_DEPLOY", "DEPLOYING", "ACTIVE",
              "SUPERSEDED", "ERROR", "CANCELED"]
COMPONENT_KINDS = {  # spec key -> (building message, deploying message)
    "services": ("Building service", "Deploying service"),
    "workers": ("Building worker", "Deploying worker"),
    "jobs": ("Building job", "Deploying job"),
    "static_sites": ("Building static site", "Deploying static site"),
    "functions": ("Building functions", "Deploying functions"),
}
REGIONS = {
    "atl": ("Atlanta", "usa", "North America", ["atl1"]),
    "nyc": ("New York", "usa", "North America", ["nyc1", "nyc3"]),
    "sfo": ("San Francisco", "usa", "North America", ["sfo3"]),
    "tor": ("Toronto", "canada", "North America", ["tor1"]),
    "ams": ("Amsterdam", "netherlands", "Europe", ["ams3"]),
    "fra": ("Frankfurt", "germany", "Europe", ["fra1"]),
    "lon": ("London", "uk", "Europe", ["lon1"]),
    "blr": ("Bangalore", "india", "Asia", ["blr1"]),
    "sgp": ("Singapore", "singapore", "Asia", ["sgp1"]),
    "syd": ("Sydney", "australia", "Australia", ["syd1"]),
}


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def default_spec(name: str) -> dict:
    return {"name": name, "region": "nyc",
            "services": [{"name": "api",
                          "image": {"registry_type": "DOCR", "repository": "crm-api", "tag": "0.0.0"},
                          "http_port": 8080, "instance_count": 1}]}


# --------------------------------------------------------------------------------------------
# The OpenAPI description
# --------------------------------------------------------------------------------------------

class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """Safe YAML loading that keeps timestamps as strings (they are JSON strings in the API)."""


_Loader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}


class SpecError(Exception):
    pass


class Route:
    def __init__(self, method: str, template: str, operation: dict, op_file: str):
        self.method = method.upper()
        self.template = template
        self.operation = operation
        self.op_file = op_file
        self.operation_id = operation.get("operationId", f"{self.method} {template}")
        parts = template.strip("/").split("/")
        self.literal_segments = sum(1 for p in parts if not p.startswith("{"))
        self.param_names = [p[1:-1] for p in parts if p.startswith("{") and p.endswith("}")]
        pattern = "".join("/" + ("([^/]+)" if p.startswith("{") else re.escape(p)) for p in parts)
        self.regex = re.compile("^" + pattern + "$")


class OpenAPISpec:
    """Loads the description and resolves `$ref`s across files (relative paths + JSON pointers)."""

    def __init__(self, directory: str):
        self.directory = os.path.abspath(directory)
        self.entry = os.path.join(self.directory, ENTRY_FILE)
        if not os.path.isfile(self.entry):
            raise SpecError(f"{self.entry} does not exist; pass --spec the folder that holds {ENTRY_FILE}")
        self._documents: dict[str, object] = {}
        self._inlined: dict[tuple, object] = {}
        self._request_schemas: dict[str, tuple] = {}
        self._response_schemas: dict[tuple, object] = {}
        self._lock = threading.RLock()
        root = self.load(self.entry)
        self.version = str(root.get("openapi", "3.0.0"))
        self.validator_class = OAS31Validator if self.version.startswith("3.1") else OAS30Validator
        self.routes: list[Route] = []
        for template, item in (root.get("paths") or {}).items():
            item, item_file = self.deref(item, self.entry)
            for method, operation in item.items():
                if method.lower() not in HTTP_METHODS:
                    continue
                operation, op_file = self.deref(operation, item_file)
                self.routes.append(Route(method, template, operation, op_file))
        # Most literal segments first, so /v2/apps/regions wins over /v2/apps/{id}.
        self.routes.sort(key=lambda r: (-r.literal_segments, r.template))
        if not self.routes:
            raise SpecError(f"{self.entry} has no paths")
        for route in self.routes:  # resolve the App Platform bodies now: a broken $ref fails at startup
            if route.template.startswith("/v2/apps"):
                self.request_schema(route)

    def load(self, path: str):
        path = os.path.normpath(path)
        with self._lock:
            if path not in self._documents:
                try:
                    with open(path, encoding="utf-8") as handle:
                        self._documents[path] = yaml.load(handle, Loader=_Loader)
                except OSError as error:
                    raise SpecError(f"cannot read {path}: {error}") from error
                except yaml.YAMLError as error:
                    raise SpecError(f"{path} is not valid YAML: {error}") from error
            return self._documents[path]

    def _ref_target(self, ref: str, base_file: str) -> tuple[str, str]:
        file_part, _, pointer = ref.partition("#")
        target_file = os.path.normpath(os.path.join(os.path.dirname(base_file), urllib.parse.unquote(file_part))) \
            if file_part else base_file
        return target_file, pointer

    def resolve_ref(self, ref: str, base_file: str):
        target_file, pointer = self._ref_target(ref, base_file)
        node = self.load(target_file)
        for token in [t for t in pointer.split("/") if t != ""]:
            token = urllib.parse.unquote(token).replace("~1", "/").replace("~0", "~")
            if isinstance(node, list):
                node = node[int(token)]
            elif isinstance(node, dict) and token in node:
                node = node[token]
            else:
                raise SpecError(f"$ref {ref!r} in {base_file} points at nothing")
        return node, target_file

    def deref(self, node, base_file: str):
        """Follows `$ref`s at the top of a node; answers (node, file it lives in)."""
        seen = set()
        while isinstance(node, dict) and "$ref" in node:
            key = self._ref_target(node["$ref"], base_file)
            if key in seen:
                raise SpecError(f"$ref loop at {node['$ref']} in {base_file}")
            seen.add(key)
            node, base_file = self.resolve_ref(node["$ref"], base_file)
        return node, base_file

    def inline(self, node, base_file: str, stack: tuple = ()):
        """A copy of a schema with every `$ref` replaced by its target (a cycle becomes {})."""
        if isinstance(node, list):
            return [self.inline(item, base_file, stack) for item in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node and isinstance(node["$ref"], str):
            key = self._ref_target(node["$ref"], base_file)
            if key in stack:
                resolved = {}
            elif key in self._inlined:
                resolved = self._inlined[key]
            else:
                target, target_file = self.resolve_ref(node["$ref"], base_file)
                resolved = self.inline(target, target_file, stack + (key,))
                self._inlined[key] = resolved
            siblings = {k: v for k, v in node.items() if k != "$ref"}
            if siblings:
                return {"allOf": [resolved, self.inline(siblings, base_file, stack)]}
            return resolved
        return {key: self.inline(value, base_file, stack) for key, value in node.items()
                if key not in ("example", "examples", "x-codeSamples")}

    def match(self, method: str, path: str):
        """(route, path params) for a method + template match, else (None, whether the path exists)."""
        path_known = False
        for route in self.routes:
            found = route.regex.match(path)
            if not found:
                continue
            path_known = True
            if route.method == method.upper():
                params = {name: urllib.parse.unquote(value) for name, value in zip(route.param_names, found.groups())}
                return route, params
        return None, path_known

    def request_schema(self, route: Route):
        """(schema or None, body required?) for the operation's application/json requestBody."""
        with self._lock:
            if route.operation_id not in self._request_schemas:
                body, body_file = self.deref(route.operation.get("requestBody"), route.op_file)
                schema, required = None, False
                if isinstance(body, dict):
                    required = bool(body.get("required", False))
                    media = (body.get("content") or {}).get("application/json")
                    if isinstance(media, dict) and "schema" in media:
                        schema = self.inline(media["schema"], body_file)
                self._request_schemas[route.operation_id] = (schema, required)
            return self._request_schemas[route.operation_id]

    def response_schema(self, route: Route, status: int):
        with self._lock:
            key = (route.operation_id, status)
            if key not in self._response_schemas:
                responses = route.operation.get("responses") or {}
                response = responses.get(str(status), responses.get(status, responses.get("default")))
                response, response_file = self.deref(response, route.op_file)
                schema = None
                if isinstance(response, dict):
                    media = (response.get("content") or {}).get("application/json")
                    if isinstance(media, dict) and "schema" in media:
                        schema = self.inline(media["schema"], response_file)
                self._response_schemas[key] = schema
            return self._response_schemas[key]

    def validate(self, schema, value):
        """None when value satisfies schema, else a one-line description of the worst error."""
        validator = self.validator_class(schema)
        error = jsonschema.exceptions.best_match(validator.iter_errors(value))
        return None if error is None else fakeserver.schema_problem(error)


# --------------------------------------------------------------------------------------------
# State
# --------------------------------------------------------------------------------------------

class DigitalOceanFake(fakeserver.PlatformFake):
    """All apps, deployments, pins, controls and recorded requests, behind one lock."""

    name = "fake_digitalocean"
    rate_limit = RATE_LIMIT
    hang_seconds = 10.0
    content_type = fakeserver.JSON_UTF8
    CONTROL_KEYS = ("steps", "fail_next_deployment", "cancel_next_deployment", "invalid_rollback",
                    "break_image_tag", "break_image_digest", "create_app", "advance_on_app_get", "advance",
                    "echo_credentials")

    def __init__(self, spec: OpenAPISpec, token: str = DEFAULT_TOKEN, verbose: bool = False):
        self.spec = spec
        self.token = token
        super().__init__(verbose)

    # ----- controls -------------------------------------------------------------------------

    def reset(self):
        with self.lock:
            super().reset()
            self.apps: dict[str, dict] = {}
            self.deployments: dict[str, dict] = {}
            self.sequence = 0
            self.steps = {phase: 1 for phase in LIVE_PHASES}
            self.fail_next: list[dict] = []
            self.cancel_next: list[dict] = []
            self.invalid_rollback = None
            self.broken_tags: set = set()
            self.broken_digests: set = set()
            self.advance_on_app_get = False
            self.echo_credentials = False
            for app_id, name in (("app-dev", "crm-dev"), ("app-main", "crm-main")):
                self.create_app(app_id, default_spec(name), initial_active=True)

    def control_keys(self) -> set[str]:
        return super().control_keys() | set(self.CONTROL_KEYS)

    def control_view(self) -> dict:
        return dict(super().control_view(), steps=dict(self.steps), fail_next_deployment=list(self.fail_next),
                    cancel_next_deployment=list(self.cancel_next), invalid_rollback=self.invalid_rollback,
                    break_image_tag=sorted(self.broken_tags), break_image_digest=sorted(self.broken_digests),
                    advance_on_app_get=self.advance_on_app_get, echo_credentials=self.echo_credentials,
                    rate_limit_remaining=self.remaining)

    def apply_controls(self, settings: dict) -> None:
        """Each key in the order of CONTROL_KEYS, by its `_control_<key>` method."""
        super().apply_controls(settings)
        for key in self.CONTROL_KEYS:
            if key in settings:
                getattr(self, f"_control_{key}")(settings[key])

    def _control_steps(self, value):
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            self.steps = {phase: value for phase in LIVE_PHASES}
        elif isinstance(value, dict):
            for phase, count in value.items():
                if phase not in LIVE_PHASES or not isinstance(count, int) or isinstance(count, bool) or count < 0:
                    raise fakeserver.ControlError(f"steps takes a count or {{phase: count}} with phases {LIVE_PHASES}")
                self.steps[phase] = count
        else:
            raise fakeserver.ControlError("steps takes a count or {phase: count}")

    def _outcome_settings(self, value, default_phase: str, key: str) -> list:
        if isinstance(value, dict):
            count = fakeserver.count(f"{key}.count", value.get("count", 1))
            phase = value.get("phase", default_phase)
            if phase not in LIVE_PHASES:
                raise fakeserver.ControlError(f"{key}.phase must be one of {LIVE_PHASES}")
            entry = {k: v for k, v in value.items() if k != "count"}
            entry["phase"] = phase
            return [entry] * count
        return [{"phase": default_phase}] * fakeserver.count(key, value)

    def _control_fail_next_deployment(self, value):
        self.fail_next = self._outcome_settings(value, "DEPLOYING", "fail_next_deployment")

    def _control_cancel_next_deployment(self, value):
        self.cancel_next = self._outcome_settings(value, "BUILDING", "cancel_next_deployment")

    def _control_invalid_rollback(self, value):
        if value in (None, False):
            self.invalid_rollback = None
        elif value is True:
            self.invalid_rollback = {"code": "exceeded_revision_limit",
                                     "message": "the deployment is past the maximum historical revision limit "
                                                "of 0 for the \"starter\" app tier"}
        elif isinstance(value, dict):
            self.invalid_rollback = {"code": value.get("code", "incompatible_result"),
                                     "message": value.get("message", "deployment is unsuitable for rollback")}
            if "components" in value:
                self.invalid_rollback["components"] = value["components"]
        else:
            raise fakeserver.ControlError("invalid_rollback takes true, false, null or {code, message}")

    def _control_break_image_tag(self, value):
        self.broken_tags = set(fakeserver.strings("break_image_tag", value, null=True))

    def _control_break_image_digest(self, value):
        self.broken_digests = set(fakeserver.strings("break_image_digest", value, null=True))

    def _control_advance_on_app_get(self, value):
        self.advance_on_app_get = bool(value)

    def _control_echo_credentials(self, value):
        self.echo_credentials = fakeserver.flag("echo_credentials", value)

    def _control_create_app(self, value):
        for item in value if isinstance(value, list) else [value]:
            if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not isinstance(item.get("spec"), dict):
                raise fakeserver.ControlError("create_app takes {\"id\": \"...\", \"spec\": {...}} (or a list of them)")
            schema = {"allOf": [self.spec.inline({"$ref": "resources/apps/models/app_spec.yml"}, self.spec.entry)]}
            problem = self.spec.validate(schema, item["spec"])
            if problem:
                raise fakeserver.ControlError(f"create_app {item['id']}: spec {problem}")
            self.create_app(item["id"], item["spec"], initial_active=item.get("active", True))

    def _control_advance(self, value):
        if not isinstance(value, dict) or value.get("app_id") not in self.apps:
            raise fakeserver.ControlError("advance takes {\"app_id\": known app, \"deployment_id\"?: id, \"times\"?: n}")
        app = self.apps[value["app_id"]]
        dep_id = value.get("deployment_id") or app["in_progress_id"]
        if dep_id not in self.deployments:
            raise fakeserver.ControlError("advance: no such deployment (and none in progress)")
        for _ in range(fakeserver.count("advance.times", value.get("times", 1))):
            self.tick(self.deployments[dep_id])

    # ----- apps and deployments ---------------------------------------------------------------

    def create_app(self, app_id: str, spec: dict, initial_active: bool = True) -> dict:
        stamp = now_iso()
        app = {"id": app_id, "spec": copy.deepcopy(spec), "created_at": stamp, "updated_at": stamp,
               "owner_uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, "owner")), "project_id": str(uuid.uuid5(uuid.NAMESPACE_URL, "project")),
               "active_id": None, "in_progress_id": None, "pinned_id": None, "pre_rollback_spec": None,
               "deployment_ids": []}
        self.apps[app_id] = app
        dep = self.new_deployment(app, cause="initial deployment", deployment_type="MANUAL", outcome=None)
        if initial_active:
            for phase in ("BUILDING", "PENDING_DEPLOY", "DEPLOYING", "ACTIVE"):
                self._enter(dep, phase)
        return app

    def new_deployment(self, app: dict, cause: str, deployment_type: str, spec: dict | None = None,
                       cloned_from: str | None = None, force_build: bool = False, outcome="auto") -> dict:
        stamp = now_iso()
        self.sequence += 1
        dep = {"id": str(uuid.uuid4()), "app_id": app["id"], "seq": self.sequence,
               "spec": copy.deepcopy(spec if spec is not None else app["spec"]), "phase": "PENDING_BUILD",
               "cause": cause, "deployment_type": deployment_type, "force_build": force_build,
               "created_at": stamp, "updated_at": stamp, "phase_last_updated_at": stamp,
               "phase_times": {"PENDING_BUILD": stamp}, "last_live_phase": "PENDING_BUILD", "ticks": 0,
               "fail": None, "cancel": None, "end_reason": None}
        if cloned_from:
            dep["cloned_from"] = cloned_from
        if outcome == "auto":
            if self.fail_next:
                dep["fail"] = self.fail_next.pop(0)
            elif self.cancel_next:
                dep["cancel"] = self.cancel_next.pop(0)
        # A newer deployment replaces one still in progress.
        previous = self.deployments.get(app["in_progress_id"]) if app["in_progress_id"] else None
        if previous and previous["phase"] in LIVE_PHASES:
            self._end(previous, "CANCELED", {"code": "Superseded", "message": f"superseded by deployment {dep['id']}"})
        self.deployments[dep["id"]] = dep
        app["deployment_ids"].append(dep["id"])
        app["in_progress_id"] = dep["id"]
        app["last_deployment_created_at"] = stamp
        return dep

    def _enter(self, dep: dict, phase: str):
        stamp = now_iso()
        dep["phase"] = phase
        dep["updated_at"] = dep["phase_last_updated_at"] = stamp
        dep["phase_times"][phase] = stamp
        dep["ticks"] = 0
        if phase in WALK:
            dep["last_live_phase"] = phase
        if phase == "ACTIVE":
            app = self.apps[dep["app_id"]]
            old = self.deployments.get(app["active_id"]) if app["active_id"] else None
            if old and old is not dep and old["phase"] == "ACTIVE":
                old["phase"] = "SUPERSEDED"
                old["updated_at"] = old["phase_last_updated_at"] = stamp
            app["active_id"] = dep["id"]
            if app["in_progress_id"] == dep["id"]:
                app["in_progress_id"] = None

    def _end(self, dep: dict, phase: str, reason: dict):
        stamp = now_iso()
        dep["phase"] = phase
        dep["updated_at"] = dep["phase_last_updated_at"] = stamp
        dep["phase_times"][phase] = stamp
        dep["end_reason"] = reason
        app = self.apps[dep["app_id"]]
        if app["in_progress_id"] == dep["id"]:
            app["in_progress_id"] = None

    def tick(self, dep: dict):
        """One GET of a live deployment: after `steps[phase]` of them it moves on."""
        if dep["phase"] not in LIVE_PHASES:
            return
        dep["ticks"] += 1
        while dep["phase"] in LIVE_PHASES and dep["ticks"] >= self.steps.get(dep["phase"], 1):
            current = dep["phase"]
            if dep["fail"] and dep["fail"]["phase"] == current:
                self._end(dep, "ERROR", {"code": dep["fail"].get("code", "HealthChecksFailed"),
                                         "message": dep["fail"].get("message", "Health checks failed")})
            elif dep["cancel"] and dep["cancel"]["phase"] == current:
                self._end(dep, "CANCELED", {"code": dep["cancel"].get("code", "DeploymentCanceled"),
                                            "message": dep["cancel"].get("message", "Deployment canceled")})
            else:
                self._enter(dep, WALK[WALK.index(current) + 1])

    # ----- rendering --------------------------------------------------------------------------

    @staticmethod
    def components(spec: dict) -> list:
        out = []
        for kind, messages in COMPONENT_KINDS.items():
            for component in spec.get(kind) or []:
                if isinstance(component, dict) and component.get("name"):
                    out.append((kind, component["name"], messages))
        return out

    def _progress(self, dep: dict) -> dict:
        phase = dep["phase"]
        reached = dep["last_live_phase"]
        index = WALK.index(reached)
        times = dep["phase_times"]
        failed = phase in ("ERROR", "CANCELED")

        def status_of(start_phase: str, done_phase: str) -> str:
            if index >= WALK.index(done_phase):
                return "SUCCESS"
            if index >= WALK.index(start_phase):
                return "ERROR" if failed else "RUNNING"
            return "PENDING"

        def failing(step_phases) -> bool:
            return failed and reached in step_phases

        steps = []
        for name, phases, start, done, message_index in (
                ("build", ("PENDING_BUILD", "BUILDING"), "BUILDING", "PENDING_DEPLOY", 0),
                ("deploy", ("PENDING_DEPLOY", "DEPLOYING"), "DEPLOYING", "ACTIVE", 1)):
            status = status_of(start, done)
            if failing(phases):
                status = "ERROR"
            step = {"name": name, "status": status, "steps": []}
            if times.get(start):
                step["started_at"] = times[start]
            if status == "SUCCESS" and times.get(done):
                step["ended_at"] = times[done]
            if status == "ERROR":
                step["ended_at"] = times.get(phase, dep["updated_at"])
                step["reason"] = dict(dep["end_reason"] or {})
            comps = self.components(dep["spec"])
            failing_name = (dep["fail"] or {}).get("component") or (comps[0][1] if comps else None)
            for kind, component, messages in comps:
                child = {"name": component, "component_name": component, "message_base": messages[message_index],
                         "status": status}
                if status == "ERROR":
                    if phase == "ERROR" and component != failing_name:
                        child["status"] = "SUCCESS"
                    else:
                        child["reason"] = dict(dep["end_reason"] or {})
                for key in ("started_at", "ended_at"):
                    if key in step:
                        child[key] = step[key]
                step["steps"].append(child)
            steps.append(step)
        flat = []
        for step in steps:
            flat.append(step)
            flat.extend(step["steps"])
        counts = {s: sum(1 for x in flat if x["status"] == s) for s in ("SUCCESS", "ERROR", "PENDING", "RUNNING")}
        return {"steps": steps, "summary_steps": [{k: v for k, v in s.items() if k != "steps"} for s in steps],
                "success_steps": counts["SUCCESS"], "error_steps": counts["ERROR"],
                "pending_steps": counts["PENDING"], "running_steps": counts["RUNNING"], "total_steps": len(flat)}

    def render_deployment(self, dep: dict) -> dict:
        out = {"id": dep["id"], "spec": copy.deepcopy(dep["spec"]), "phase": dep["phase"],
               "progress": self._progress(dep), "cause": dep["cause"], "created_at": dep["created_at"],
               "updated_at": dep["updated_at"], "phase_last_updated_at": dep["phase_last_updated_at"],
               "tier_slug": "basic"}
        if dep.get("cloned_from"):
            out["cloned_from"] = dep["cloned_from"]
        for kind, key in (("services", "services"), ("workers", "workers"), ("jobs", "jobs"),
                          ("static_sites", "static_sites")):
            names = [c["name"] for c in dep["spec"].get(kind) or [] if isinstance(c, dict) and c.get("name")]
            if names:
                out[key] = [{"name": n, "source_commit_hash": ""} for n in names]
        return out

    def render_app(self, app: dict, with_pending: bool = False) -> dict:
        slug = app["spec"].get("region", "nyc")
        label, flag, continent, dcs = REGIONS.get(slug, (slug, "", "", []))
        host = f"{app['spec'].get('name', app['id'])}-fake.ondigitalocean.app"
        out = {"id": app["id"], "owner_uuid": app["owner_uuid"], "project_id": app["project_id"],
               "spec": copy.deepcopy(app["spec"]), "default_ingress": f"https://{host}",
               "live_url": f"https://{host}", "live_url_base": f"https://{host}", "live_domain": host,
               "created_at": app["created_at"], "updated_at": app["updated_at"], "tier_slug": "basic",
               "region": {"slug": slug, "label": label, "flag": flag, "continent": continent,
                          "data_centers": dcs, "default": slug == "nyc"}}
        if app.get("last_deployment_created_at"):
            out["last_deployment_created_at"] = app["last_deployment_created_at"]
        if app["active_id"]:
            out["active_deployment"] = self.render_deployment(self.deployments[app["active_id"]])
        if app["in_progress_id"]:
            dep = self.deployments[app["in_progress_id"]]
            out["in_progress_deployment"] = self.render_deployment(dep)
            if with_pending or dep["phase"] == "PENDING_BUILD":
                out["pending_deployment"] = self.render_deployment(dep)
        if app["pinned_id"]:
            out["pinned_deployment"] = self.render_deployment(self.deployments[app["pinned_id"]])
        return out

    def state(self) -> dict:
        with self.lock:
            apps = {}
            for app_id, app in self.apps.items():
                deps = [self.deployments[d] for d in reversed(app["deployment_ids"])]
                apps[app_id] = {
                    "id": app_id, "spec": app["spec"], "created_at": app["created_at"], "updated_at": app["updated_at"],
                    "active_deployment_id": app["active_id"], "in_progress_deployment_id": app["in_progress_id"],
                    "pinned_deployment_id": app["pinned_id"], "pinned": app["pinned_id"] is not None,
                    "pre_rollback_spec": app["pre_rollback_spec"], "healthy": self.healthy(app)[0],
                    "deployments": [{"id": d["id"], "phase": d["phase"], "cause": d["cause"],
                                     "deployment_type": d["deployment_type"], "force_build": d["force_build"],
                                     "cloned_from": d.get("cloned_from"), "spec": d["spec"],
                                     "created_at": d["created_at"], "updated_at": d["updated_at"],
                                     "will_fail": d["fail"], "will_cancel": d["cancel"], "end_reason": d["end_reason"]}
                                    for d in deps]}
            return dict(super().state(), apps=apps, controls=self.control_view())

    def test_routes(self) -> list:
        return [("GET", r"/__health/([^/]+)", self.health)]

    def health(self, request, app_id: str) -> fakeserver.Answer:
        """200 ok while the app's active deployment runs no image tag or digest marked broken."""
        with self.lock:
            app = self.apps.get(app_id)
            if app is None:
                return fakeserver.text_answer(404, "no such app\n")
            ok, why = self.healthy(app)
        return fakeserver.text_answer(200, "ok\n") if ok else fakeserver.text_answer(503, f"unhealthy: {why}\n")

    def healthy(self, app: dict) -> tuple[bool, str]:
        if not app["active_id"]:
            return False, "no active deployment"
        spec = self.deployments[app["active_id"]]["spec"]
        for kind in ("services", "workers", "jobs"):
            for component in spec.get(kind) or []:
                image = (component or {}).get("image") or {}
                if image.get("tag") is not None and image.get("tag") in self.broken_tags:
                    return False, f"{component.get('name')} runs broken image tag {image['tag']}"
                if image.get("digest") is not None and image.get("digest") in self.broken_digests:
                    return False, f"{component.get('name')} runs broken image digest {image['digest']}"
        return True, "ok"

    # ----- one API request ---------------------------------------------------------------------

    def log_entry(self, request: fakeserver.Request) -> dict:
        return dict(super().log_entry(request), request_id=request.id, time=now_iso(),
                    authorized=request.header("Authorization") == f"Bearer {self.token}")

    def refused(self, request: fakeserver.Request) -> None:
        """Credentials come before any scripted fault: faults count authenticated requests."""
        authorization = request.header("Authorization")
        if authorization != f"Bearer {self.token}":
            # Some platforms quote the credentials they refused; the client must never show them.
            echoed = f" with {authorization}" if self.echo_credentials and authorization else ""
            raise FakeError(401, "unauthorized", f"Unable to authenticate you{echoed}.")

    def api_headers(self, request: fakeserver.Request) -> dict:
        return {"ratelimit-limit": RATE_LIMIT, "ratelimit-remaining": self.remaining,
                "ratelimit-reset": int(time.time()) + 60, "x-request-id": request.id}

    def rate_limited(self) -> FakeError:
        return FakeError(429, "too_many_requests", "API rate limit exceeded.",
                         {"Retry-After": self.faults.retry_after_header(), "ratelimit-remaining": 0})

    def server_error(self) -> FakeError:
        return FakeError(500, "server_error", "Server was unable to give you a response.")

    def error_value(self, request: fakeserver.Request, error: FakeError):
        return {"id": error.code, "message": error.message, "request_id": request.id}

    def garbled(self, answer: fakeserver.Answer) -> fakeserver.Answer:
        """A successful answer cut in half and followed by garbage; an error answer as it is."""
        if answer.status >= 400:
            return answer
        body = answer.body[: max(1, len(answer.body) // 2)] + b"\x00<html>garbled"
        return fakeserver.Answer(answer.status, body, answer.content_type, answer.headers)

    def api(self, request: fakeserver.Request) -> fakeserver.Answer:
        """A route of the description, a body its requestBody schema allows, then the operation."""
        route, params = self.spec.match(request.method, request.path)
        if route is None:
            path_known = params
            what = (f"{request.method} is not allowed on {request.path}" if path_known
                    else f"no route for {request.method} {request.path}")
            raise FakeError(404, "not_found", f"The resource you were accessing could not be found. ({what})")
        schema, required = self.spec.request_schema(route)
        body = None
        if schema is not None:
            try:
                body = request.json()
            except ValueError as error:
                raise FakeError(400, "bad_request", f"the request body is not valid JSON: {error}")
            if body is None and required:
                raise FakeError(422, "unprocessable_entity", "body: a JSON request body is required")
            problem = None if body is None else (self.spec.validate(schema, body)
                                                 or semantic_problem(route.operation_id, body))
            if problem:
                raise FakeError(422, "unprocessable_entity", problem)
        operation = getattr(self, "op_" + route.operation_id, None)
        if operation is None:
            raise FakeError(501, "not_implemented", f"the fake does not model {route.operation_id} "
                                                    f"({route.method} {route.template})")
        with self.lock:
            request.log["operation_id"] = route.operation_id
            status, value = operation(params, request.query, body)
        return self.json(status, value)

    # ----- API operations ---------------------------------------------------------------------

    def app_or_404(self, app_id: str) -> dict:
        app = self.apps.get(app_id)
        if app is None:
            raise FakeError(404, "not_found", "The resource you were accessing could not be found.")
        return app

    def deployment_or_404(self, app: dict, dep_id: str) -> dict:
        dep = self.deployments.get(dep_id)
        if dep is None or dep["app_id"] != app["id"]:
            raise FakeError(404, "not_found", "The resource you were accessing could not be found.")
        return dep

    def refuse_if_pinned(self, app: dict, action: str):
        if app["pinned_id"]:
            raise FakeError(409, "conflict", f"cannot {action}: the app is pinned to rollback deployment "
                                             f"{app['pinned_id']}; commit or revert the rollback first")

    def op_apps_list(self, params, query, body):
        apps = [self.render_app(a) for a in self.apps.values()]
        return 200, {"apps": apps, "links": {}, "meta": {"total": len(apps)}}

    def op_apps_create(self, params, query, body):
        app = self.create_app(str(uuid.uuid4()), body["spec"], initial_active=False)
        return 200, {"app": self.render_app(app, with_pending=True)}

    def op_apps_get(self, params, query, body):
        app = self.app_or_404(params["id"])
        if self.advance_on_app_get and app["in_progress_id"]:
            self.tick(self.deployments[app["in_progress_id"]])
        return 200, {"app": self.render_app(app)}

    def op_apps_delete(self, params, query, body):
        app = self.app_or_404(params["id"])
        del self.apps[app["id"]]
        return 200, {"id": app["id"]}

    def op_apps_update(self, params, query, body):
        app = self.app_or_404(params["id"])
        self.refuse_if_pinned(app, "update the app")
        app["spec"] = copy.deepcopy(body["spec"])
        app["updated_at"] = now_iso()
        self.new_deployment(app, cause="app spec updated", deployment_type="MANUAL")
        return 200, {"app": self.render_app(app, with_pending=True)}

    def op_apps_create_deployment(self, params, query, body):
        app = self.app_or_404(params["app_id"])
        self.refuse_if_pinned(app, "create a deployment")
        force = bool((body or {}).get("force_build", False))
        dep = self.new_deployment(app, cause="manual" + (" (force build)" if force else ""),
                                  deployment_type="MANUAL", force_build=force)
        return 200, {"deployment": self.render_deployment(dep)}

    def op_apps_get_deployment(self, params, query, body):
        app = self.app_or_404(params["app_id"])
        dep = self.deployment_or_404(app, params["deployment_id"])
        self.tick(dep)
        return 200, {"deployment": self.render_deployment(dep)}

    def op_apps_cancel_deployment(self, params, query, body):
        app = self.app_or_404(params["app_id"])
        dep = self.deployment_or_404(app, params["deployment_id"])
        if dep["phase"] not in LIVE_PHASES:
            raise FakeError(409, "conflict", f"deployment {dep['id']} is {dep['phase']} and cannot be canceled")
        self._end(dep, "CANCELED", {"code": "DeploymentCanceled", "message": "Deployment canceled by the user"})
        return 200, {"deployment": self.render_deployment(dep)}

    def op_apps_list_deployments(self, params, query, body):
        app = self.app_or_404(params["app_id"])
        try:
            page = int(query.get("page", ["1"])[0])
            per_page = int(query.get("per_page", ["20"])[0])
        except ValueError:
            raise FakeError(400, "bad_request", "page and per_page must be integers")
        if page < 1 or per_page < 1 or per_page > 200:
            raise FakeError(400, "bad_request", "page must be >= 1 and per_page between 1 and 200")
        types = [t for value in query.get("deployment_types", []) for t in value.split(",") if t]
        deps = [self.deployments[d] for d in reversed(app["deployment_ids"])]
        if types:
            deps = [d for d in deps if d["deployment_type"] in types]
        total = len(deps)
        last = max(1, (total + per_page - 1) // per_page)
        chunk = deps[(page - 1) * per_page: page * per_page]
        base = f"{self.base_url}/v2/apps/{app['id']}/deployments"
        pages = {}
        if page > 1:
            pages["first"] = f"{base}?page=1&per_page={per_page}"
            pages["prev"] = f"{base}?page={min(page - 1, last)}&per_page={per_page}"
        if page < last:
            pages["next"] = f"{base}?page={page + 1}&per_page={per_page}"
            pages["last"] = f"{base}?page={last}&per_page={per_page}"
        links = {"pages": pages} if pages else {}
        return 200, {"deployments": [self.render_deployment(d) for d in chunk], "links": links,
                     "meta": {"total": total}}

    def rollback_check(self, app: dict, body: dict):
        """(error condition or None, warnings, target deployment)."""
        dep_id = (body or {}).get("deployment_id")
        if not dep_id:
            raise FakeError(422, "unprocessable_entity", "deployment_id: a deployment ID is required")
        target = self.deployment_or_404(app, dep_id)
        warnings = []
        missing_digest = [c.get("name") for kind in ("services", "workers", "jobs")
                          for c in target["spec"].get(kind) or [] if (c.get("image") or {}) and not c["image"].get("digest")]
        if missing_digest:
            warnings.append({"code": "image_source_missing_digest", "components": missing_digest,
                             "message": "one or more components are missing an image digest and are not "
                                        "guaranteed rollback to the old version."})
        static = [c.get("name") for c in target["spec"].get("static_sites") or []]
        if static:
            warnings.append({"code": "static_site_requires_rebuild", "components": static,
                             "message": "one or more static sites will be rebuilt."})
        if self.invalid_rollback:
            return dict(self.invalid_rollback), warnings, target
        if app["pinned_id"]:
            return {"code": "app_pinned", "message": f"the app is pinned to deployment {app['pinned_id']}; "
                                                     "commit or revert the current rollback first"}, warnings, target
        if target["phase"] in LIVE_PHASES:
            return {"code": "incompatible_phase",
                    "message": f"deployment phase \"{target['phase']}\" is unsuitable for rollback"}, warnings, target
        if target["phase"] in ("ERROR", "CANCELED"):
            result = "failed" if target["phase"] == "ERROR" else "canceled"
            return {"code": "incompatible_result",
                    "message": f"deployment result \"{result}\" is unsuitable for rollback"}, warnings, target
        if target["spec"].get("region") != app["spec"].get("region"):
            return {"code": "region_conflict", "message": "the deployment's region differs from the app's region"}, \
                warnings, target
        return None, warnings, target

    def op_apps_validate_rollback(self, params, query, body):
        app = self.app_or_404(params["app_id"])
        error, warnings, _ = self.rollback_check(app, body)
        out = {"valid": error is None, "warnings": warnings}
        if error:
            out["error"] = error
        return 200, out

    def op_apps_create_rollback(self, params, query, body):
        app = self.app_or_404(params["app_id"])
        error, _, target = self.rollback_check(app, body)
        if error:
            status = 409 if error["code"] == "app_pinned" else 400
            raise FakeError(status, "conflict" if status == 409 else "bad_request",
                            f"cannot roll back: {error['message']} ({error['code']})")
        previous_spec = copy.deepcopy(app["spec"])
        dep = self.new_deployment(app, cause="rollback", deployment_type="MANUAL_ROLLBACK",
                                  spec=target["spec"], cloned_from=target["id"])
        app["spec"] = copy.deepcopy(target["spec"])
        app["updated_at"] = now_iso()
        if body.get("skip_pin"):
            app["pre_rollback_spec"] = None
        else:
            app["pinned_id"] = dep["id"]
            app["pre_rollback_spec"] = previous_spec
        return 200, {"deployment": self.render_deployment(dep)}

    def op_apps_commit_rollback(self, params, query, body):
        app = self.app_or_404(params["app_id"])
        if not app["pinned_id"]:
            raise FakeError(409, "conflict", "there is no rollback to commit: the app is not pinned")
        app["pinned_id"] = None
        app["pre_rollback_spec"] = None
        return 200, {}

    def op_apps_revert_rollback(self, params, query, body):
        app = self.app_or_404(params["app_id"])
        if not app["pinned_id"]:
            raise FakeError(409, "conflict", "there is no rollback to revert: the app is not pinned")
        app["spec"] = copy.deepcopy(app["pre_rollback_spec"] or app["spec"])
        app["updated_at"] = now_iso()
        app["pinned_id"] = None
        app["pre_rollback_spec"] = None
        dep = self.new_deployment(app, cause="rollback reverted", deployment_type="MANUAL")
        return 200, {"deployment": self.render_deployment(dep)}

    def op_apps_get_health(self, params, query, body):
        app = self.app_or_404(params["app_id"])
        ok, _ = self.healthy(app)
        state = "HEALTHY" if ok else "UNHEALTHY"
        comps = [{"name": name, "cpu_usage_percent": 1.0, "memory_usage_percent": 10.0,
                  "replicas_desired": 1, "replicas_ready": 1 if ok else 0, "state": state}
                 for kind, name, _ in self.components(app["spec"]) if kind in ("services", "workers")]
        return 200, {"app_health": {"components": comps}}


def semantic_problem(operation_id: str, body) -> str | None:
    """Rules the spec states in prose only: an image takes a tag or a digest, not both."""
    spec = body.get("spec") if isinstance(body, dict) else None
    if not isinstance(spec, dict):
        return None
    for kind in ("services", "workers", "jobs"):
        for index, component in enumerate(spec.get(kind) or []):
            image = (component or {}).get("image") or {}
            if "tag" in image and "digest" in image:
                return f"spec.{kind}[{index}].image: tag cannot be specified if digest is provided"
    return None


# --------------------------------------------------------------------------------------------

def main(argv=None) -> int:
    parser = fakeserver.argument_parser("Fake DigitalOcean App Platform API for tests.")
    parser.add_argument("--spec", required=True, help="folder holding DigitalOcean-public.v2.yaml")
    parser.add_argument("--token", default=DEFAULT_TOKEN, help="the accepted bearer token")
    return fakeserver.serve(parser, argv, lambda args: DigitalOceanFake(load_spec(args.spec), args.token, args.verbose))


def load_spec(folder: str) -> OpenAPISpec:
    """The description, or exit 2 with what is wrong with it."""
    try:
        return OpenAPISpec(folder)
    except SpecError as error:
        sys.stderr.write(f"fake_digitalocean.py: {error}\n")
        raise SystemExit(2)


if __name__ == "__main__":
    sys.exit(main())
