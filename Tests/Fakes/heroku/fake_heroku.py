#!/usr/bin/env python3
"""A fake Heroku Platform API v3 for the tests of `release` (Python 3.11, standard library only).

Routes and request bodies follow the official JSON hyper-schema, loaded at startup from --schema
(never copied into the project). Test controls live under /__control, /__state, /__apps and
/__streams and need no credentials. See README.md next to this file.

    fake_heroku.py --schema PATH --port 0 --port-file FILE [--token TOKEN] [--max-seconds 300]
    fake_heroku.py --self-test --schema PATH
"""

from __future__ import annotations

import hashlib
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

MEDIA_TYPE = "application/vnd.heroku+json"
ACCEPT = MEDIA_TYPE + "; version=3"
DOCKER_ACCEPT = MEDIA_TYPE + "; version=3.docker-releases"
DEFAULT_TOKEN = "test-token"
RATE_LIMIT_START = 4500
STACK = {"id": "8e3b4c2a-1f0d-4d5e-9c8b-7a6f5e4d3c2b", "name": "heroku-24"}
REGION = {"id": "59accabd-516d-4f0e-83e6-6e3757701145", "name": "us"}
USER = {"id": "0b1e7d61-5c1a-4e52-9a41-6f0f3c7e2a10", "email": "release-tests@example.com"}
DYNO_SIZE = {"id": "e3c5d4b2-7a19-4f0e-b6a8-2d9c1f3e5a70", "name": "Basic"}
NOT_FOUND_ROUTE = ("The requested API endpoint was not found. Are you using the right HTTP verb (i.e. `GET` vs. "
                   "`POST`), and did you specify your intended version with the `Accept` header?")
PLACEHOLDER = re.compile(r"\{\([^)}]*\)\}")
DOCKER_IMAGE = re.compile(r"^sha256:[0-9a-f]{64}$")
MALFORMED_BODY = b"<html><body><h1>502 Bad Gateway</h1> the upstream answer was cut {\"id\": "


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_id() -> str:
    return str(uuid.uuid4())


class ApiError(Exception):
    def __init__(self, status: int, ident: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.ident, self.message, self.headers = status, ident, message, headers or {}

    def body(self) -> dict:
        return {"id": self.ident, "message": self.message}


# --------------------------------------------------------------------------------------------
# The schema: routes from every definition's links, $ref resolution and a small validator.
# --------------------------------------------------------------------------------------------

class Link:
    def __init__(self, definition: str, link: dict):
        self.definition = definition
        self.title = link.get("title", "")
        self.method = link["method"].upper()
        self.href = link["href"]
        self.schema = link.get("schema")
        self.target_schema = link.get("targetSchema")
        pieces = PLACEHOLDER.split(self.href)
        self.regex = re.compile("^" + "([^/]+)".join(re.escape(p) for p in pieces) + "$")
        self.literal = len("".join(pieces))

    @property
    def key(self) -> tuple[str, str]:
        return (self.definition, self.title)

    def __repr__(self) -> str:
        return f"{self.method} {self.href} ({self.definition} {self.title})"


class Schema:
    REQUIRED_DEFINITIONS = ("app", "build", "release", "slug", "formation")

    def __init__(self, path: str):
        try:
            with open(path, encoding="utf-8") as handle:
                self.doc = json.load(handle)
        except (OSError, ValueError) as error:
            raise SystemExit(f"fake_heroku: cannot load the schema {path}: {error}")
        definitions = self.doc.get("definitions")
        if not isinstance(definitions, dict):
            raise SystemExit(f"fake_heroku: {path} has no 'definitions'; is it the Platform API hyper-schema?")
        missing = [name for name in self.REQUIRED_DEFINITIONS if name not in definitions]
        if missing:
            raise SystemExit(f"fake_heroku: {path} lacks definitions {', '.join(missing)}")
        self.links: list[Link] = []
        for name, definition in definitions.items():
            for link in definition.get("links") or []:
                if isinstance(link, dict) and link.get("method") and str(link.get("href", "")).startswith("/"):
                    self.links.append(Link(name, link))
        self.app_name_pattern = self.deref({"$ref": "#/definitions/app/definitions/name"}).get("pattern")

    def link(self, definition: str, title: str) -> Link:
        for link in self.links:
            if link.key == (definition, title):
                return link
        raise KeyError(f"{definition} {title}")

    def match(self, method: str, path: str) -> list[tuple[Link, list[str]]]:
        found = []
        for link in self.links:
            if link.method != method:
                continue
            m = link.regex.match(path)
            if m:
                found.append((link, [urllib.parse.unquote(g) for g in m.groups()]))
        best = max((link.literal for link, _ in found), default=0)
        return [(link, params) for link, params in found if link.literal == best]

    def resolve(self, ref: str):
        if not ref.startswith("#"):
            raise KeyError(f"external $ref {ref} not supported")
        node = self.doc
        for part in ref[1:].split("/"):
            if part == "":
                continue
            part = urllib.parse.unquote(part).replace("~1", "/").replace("~0", "~")
            node = node[part]
        return node

    def deref(self, schema):
        for _ in range(50):
            if isinstance(schema, dict) and "$ref" in schema:
                schema = self.resolve(schema["$ref"])
            else:
                return schema
        raise ValueError("$ref loop")

    def alternatives(self, schema) -> list[dict]:
        schema = self.deref(schema)
        if not isinstance(schema, dict):
            return [{}]
        for key in ("anyOf", "oneOf"):
            if key in schema:
                out = []
                for alternative in schema[key]:
                    out.extend(self.alternatives(alternative))
                return out
        return [schema]

    @staticmethod
    def json_type(value) -> str:
        if value is None:
            return "null"
        if isinstance(value, bool):
            return "boolean"
        if isinstance(value, int):
            return "integer"
        if isinstance(value, float):
            return "number"
        if isinstance(value, str):
            return "string"
        if isinstance(value, list):
            return "array"
        return "object"

    @classmethod
    def type_ok(cls, value, expected: str) -> bool:
        actual = cls.json_type(value)
        return actual == expected or (expected == "number" and actual == "integer")

    def check(self, value, schema, where: str, depth: int, extras: dict | None = None) -> list[str]:
        """Errors of `value` against `schema`: types (through $ref/anyOf), enum, pattern, and, while
        depth > 0, the properties and items inside it (unknown keys only where the schema is strict)."""
        extras = extras or {}
        alternatives = self.alternatives(schema)
        if len(alternatives) > 1:
            results = [self.check(value, alt, where, depth, extras) for alt in alternatives]
            if any(not errors for errors in results):
                return []
            return results[0]
        s = alternatives[0]
        types = s.get("type")
        if isinstance(types, str):
            types = [types]
        label = where or "body"
        if types and not any(self.type_ok(value, t) for t in types):
            return [f"{label} must be {' or '.join(types)}, not {self.json_type(value)}"]
        if "enum" in s and value not in s["enum"]:
            return [f"{label} must be one of {', '.join(map(str, s['enum']))}"]
        if isinstance(value, str) and isinstance(s.get("pattern"), str) and not re.search(s["pattern"], value):
            return [f"{label} does not match {s['pattern']}"]
        if depth <= 0:
            return []
        errors: list[str] = []
        if isinstance(value, dict):
            props = s.get("properties")
            patterns = s.get("patternProperties") or {}
            strict = s.get("strictProperties") is True or s.get("additionalProperties") is False
            allowed_extra = extras.get(re.sub(r"\[\d+\]", "[]", where), set())
            for key, item in value.items():
                child = f"{where}.{key}" if where else key
                if props and key in props:
                    errors += self.check(item, props[key], child, depth - 1, extras)
                elif any(re.search(p, key) for p in patterns):
                    pattern = next(p for p in patterns if re.search(p, key))
                    errors += self.check(item, patterns[pattern], child, depth - 1, extras)
                elif strict and key not in allowed_extra and (props is not None or patterns):
                    errors.append(f"{child} is not a permitted property")
            for key in s.get("required") or []:
                if key not in value:
                    errors.append(f"{where + '.' if where else ''}{key} is required")
        elif isinstance(value, list) and "items" in s:
            for index, item in enumerate(value):
                errors += self.check(item, s["items"], f"{where}[{index}]", depth - 1, extras)
        return errors

    def validate_body(self, body, link: Link, extras: dict | None = None) -> list[str]:
        """A request body against a link's `schema`: a JSON object, only the link's properties
        (plus `extras[""]`), every required one, and the types inside them (three levels)."""
        schema = self.deref(link.schema)
        if not isinstance(body, dict):
            return [f"the request body must be a JSON object, not {self.json_type(body)}"]
        props = schema.get("properties") or {}
        extras = extras or {}
        errors = []
        for key, value in body.items():
            if key in props:
                errors += self.check(value, props[key], key, 2, extras)
            elif key not in extras.get("", set()):
                errors.append(f"{key} is not a permitted property of {link.title} ({link.method} {link.definition})")
        for key in schema.get("required") or []:
            if key not in body:
                errors.append(f"{key} is required")
        return errors


# --------------------------------------------------------------------------------------------
# State.
# --------------------------------------------------------------------------------------------

class App:
    def __init__(self, name: str):
        self.id = new_id()
        self.name = name
        self.created_at = self.updated_at = now()
        self.builds: list[dict] = []
        self.releases: list[dict] = []
        self.formation: dict[str, dict] = {}
        self.current_release_id: str | None = None
        self.released_at: str | None = None

    def ref(self) -> dict:
        return {"id": self.id, "name": self.name}

    def release_by_identity(self, identity: str) -> dict | None:
        for release in self.releases:
            if (identity.isdigit() and release["version"] == int(identity)) or release["id"] == identity:
                return release
        return None

    def current(self) -> dict | None:
        return next((r for r in self.releases if r["id"] == self.current_release_id), None)


def default_controls() -> dict:
    return {
        "fail_next_build": 0, "fail_next_release": 0,
        "rate_limit_next": 0, "retry_after": 1, "error_next": 0, "malformed_next": 0,
        "hang_next": 0, "hang_seconds": 5.0, "echo_credentials": False,
    }


class Fake:
    def __init__(self, schema: Schema, token: str = DEFAULT_TOKEN, pending_polls: int = 2, verbose: bool = False):
        self.schema = schema
        self.token = token
        self.verbose = verbose
        self.default_pending_polls = pending_polls
        self.lock = threading.RLock()
        self.base_url = "http://127.0.0.1:0"
        self.handlers = {
            ("app", "Info"): self.h_app_info,
            ("build", "Create"): self.h_build_create,
            ("build", "Info"): self.h_build_info,
            ("build", "List"): self.h_build_list,
            ("release", "Info"): self.h_release_info,
            ("release", "List"): self.h_release_list,
            ("release", "Create"): self.h_release_create,
            ("release", "Rollback"): self.h_release_create,
            ("slug", "Info"): self.h_slug_info,
            ("formation", "List"): self.h_formation_list,
            ("formation", "Info"): self.h_formation_info,
            ("formation", "Batch Update"): self.h_formation_batch,
            ("rate-limit", "Info"): self.h_rate_limit,
        }
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.apps: dict[str, App] = {}
            self.slugs: dict[str, dict] = {}
            self.requests: list[dict] = []
            self.controls = default_controls()
            self.build_pending_polls = self.default_pending_polls
            self.release_pending_polls = self.default_pending_polls
            self.broken_source_versions: set[str] = set()
            self.broken_docker_images: set[str] = set()
            self.known_apps: set[str] | None = None
            self.remaining = RATE_LIMIT_START

    # ---- apps -------------------------------------------------------------------------------

    def app(self, identity: str, create: bool = True) -> App:
        if identity in self.apps:
            return self.apps[identity]
        for app in self.apps.values():
            if app.id == identity:
                return app
        pattern = self.schema.app_name_pattern
        valid = pattern is None or re.search(pattern, identity)
        allowed = self.known_apps is None or identity in self.known_apps
        if not create or not valid or not allowed:
            raise ApiError(404, "not_found", "Couldn't find that app.")
        self.apps[identity] = App(identity)
        return self.apps[identity]

    # ---- rendering (the schema's properties) ------------------------------------------------

    def stream_url(self, kind: str, ident: str) -> str:
        return f"{self.base_url}/__streams/{kind}/{ident}"

    def render_app(self, app: App) -> dict:
        current = app.current()
        slug = self.slugs.get(current["slug_id"]) if current and current["slug_id"] else None
        return {
            "acm": False, "archived_at": None, "buildpack_provided_description": slug and slug["buildpack_provided_description"],
            "build_stack": dict(STACK), "created_at": app.created_at, "generation": {"id": "c1e1b6c4-cedar", "name": "cedar"},
            "git_url": f"https://git.heroku.com/{app.name}.git", "id": app.id, "internal_routing": None,
            "maintenance": False, "name": app.name, "owner": dict(USER), "organization": None, "team": None,
            "region": dict(REGION), "released_at": app.released_at, "repo_size": None,
            "slug_size": slug["size"] if slug else None, "space": None, "stack": dict(STACK),
            "updated_at": app.updated_at, "web_url": f"https://{app.name}.herokuapp.com/",
        }

    def render_build(self, build: dict) -> dict:
        return {
            "app": {"id": build["app_id"]}, "buildpacks": build["buildpacks"], "created_at": build["created_at"],
            "generation": "cedar", "id": build["id"], "output_stream_url": self.stream_url("builds", build["id"]),
            "source_blob": build["source_blob"],
            "release": {"id": build["release_id"]} if build["release_id"] else None,
            "slug": {"id": build["slug_id"]} if build["slug_id"] else None,
            "stack": STACK["name"], "status": build["status"], "updated_at": build["updated_at"], "user": dict(USER),
        }

    def render_release(self, release: dict) -> dict:
        app = self.apps[release["app_name"]]
        return {
            "addon_plan_names": [],
            "artifacts": [{"type": "slug", "id": release["slug_id"]}] if release["slug_id"] else [],
            "app": app.ref(), "created_at": release["created_at"], "description": release["description"],
            "id": release["id"], "updated_at": release["updated_at"],
            "slug": {"id": release["slug_id"]} if release["slug_id"] else None,
            "status": release["status"], "user": dict(USER), "version": release["version"],
            "current": app.current_release_id == release["id"],
            "output_stream_url": self.stream_url("releases", release["id"]),
            "eligible_for_rollback": release["status"] == "succeeded",
        }

    def render_slug(self, slug: dict) -> dict:
        return {key: slug[key] for key in (
            "blob", "buildpack_provided_description", "checksum", "commit", "commit_description", "created_at",
            "id", "process_types", "size", "stack", "updated_at", "deleted_at")}

    def render_formation(self, app: App, formation: dict) -> dict:
        return {
            "app": app.ref(), "command": formation["command"], "created_at": formation["created_at"],
            "dyno_size": dict(formation["dyno_size"]), "id": formation["id"], "quantity": formation["quantity"],
            "size": formation["dyno_size"]["name"], "type": formation["type"], "updated_at": formation["updated_at"],
        }

    # ---- lifecycle --------------------------------------------------------------------------

    def take(self, key: str) -> bool:
        if self.controls[key] > 0:
            self.controls[key] -= 1
            return True
        return False

    def new_release(self, app: App, *, slug_id: str | None, description: str,
                    docker_images: dict | None = None, origin: str) -> dict:
        stamp = now()
        release = {
            "id": new_id(), "app_name": app.name, "version": len(app.releases) + 1, "status": "pending",
            "description": description, "slug_id": slug_id, "docker_images": docker_images or {},
            "created_at": stamp, "updated_at": stamp, "polls_left": self.release_pending_polls,
            "will_fail": self.take("fail_next_release"), "origin": origin,
        }
        app.releases.append(release)
        return release

    def advance_release(self, release: dict) -> None:
        if release["status"] != "pending":
            return
        if release["polls_left"] > 0:
            release["polls_left"] -= 1
            return
        app = self.apps[release["app_name"]]
        release["updated_at"] = now()
        if release["will_fail"]:
            release["status"] = "failed"
            return
        release["status"] = "succeeded"
        current = app.current()
        if current is None or release["version"] > current["version"]:
            app.current_release_id = release["id"]
            app.released_at = release["updated_at"]

    def advance_build(self, build: dict) -> None:
        if build["status"] != "pending":
            return
        if build["polls_left"] > 0:
            build["polls_left"] -= 1
            return
        app = self.apps[build["app_name"]]
        build["updated_at"] = now()
        if build["will_fail"]:
            build["status"] = "failed"
            return
        version = build["source_blob"].get("version")
        stamp = now()
        slug_id = new_id()
        self.slugs[slug_id] = {
            "id": slug_id, "app_name": app.name, "build_id": build["id"], "source_version": version,
            "blob": {"method": "GET", "url": f"{self.base_url}/__slugs/{slug_id}.tgz"},
            "buildpack_provided_description": "Ruby/Rack",
            "checksum": "SHA256:" + hashlib.sha256(slug_id.encode()).hexdigest(),
            "commit": version, "commit_description": build["source_blob"].get("version_description"),
            "created_at": stamp, "process_types": {"web": "bundle exec puma -p $PORT"}, "size": 2048 * 1024,
            "stack": dict(STACK), "updated_at": stamp, "deleted_at": None,
        }
        description = f"Deploy {version[:8]}" if version else "Deploy"
        release = self.new_release(app, slug_id=slug_id, description=description, origin=f"build {build['id']}")
        build.update(status="succeeded", slug_id=slug_id, release_id=release["id"])

    # ---- handlers (return status, JSON, extra headers) --------------------------------------

    def h_app_info(self, ctx):
        return 200, self.render_app(ctx.app), {}

    def h_build_create(self, ctx):
        blob = ctx.body["source_blob"]
        if not isinstance(blob.get("url"), str) or not blob["url"]:
            raise ApiError(422, "invalid_params", "Invalid params: source_blob.url must be a non-empty string.")
        stamp = now()
        build = {
            "id": new_id(), "app_name": ctx.app.name, "app_id": ctx.app.id, "status": "pending",
            "source_blob": {"checksum": blob.get("checksum"), "url": blob["url"], "version": blob.get("version"),
                            "version_description": blob.get("version_description")},
            "buildpacks": ctx.body.get("buildpacks") or [{"url": "https://github.com/heroku/heroku-buildpack-ruby",
                                                          "name": "heroku/ruby"}],
            "created_at": stamp, "updated_at": stamp, "slug_id": None, "release_id": None,
            "polls_left": self.build_pending_polls, "will_fail": self.take("fail_next_build"),
        }
        ctx.app.builds.append(build)
        return 201, self.render_build(build), {}

    def find_build(self, app: App, ident: str) -> dict:
        build = next((b for b in app.builds if b["id"] == ident), None)
        if build is None:
            raise ApiError(404, "not_found", "Couldn't find that build.")
        return build

    def h_build_info(self, ctx):
        build = self.find_build(ctx.app, ctx.params[1])
        self.advance_build(build)
        return 200, self.render_build(build), {}

    def h_build_list(self, ctx):
        items = list(enumerate(ctx.app.builds))
        fields = {"id": (lambda p: p[1]["id"], str), "created_at": (lambda p: (p[1]["created_at"], p[0]), str)}
        return paginate(ctx.headers.get("Range"), items, fields, "id", lambda p: self.render_build(p[1]))

    def h_release_info(self, ctx):
        release = ctx.app.release_by_identity(ctx.params[1])
        if release is None:
            raise ApiError(404, "not_found", "Couldn't find that release.")
        self.advance_release(release)
        return 200, self.render_release(release), {}

    def h_release_list(self, ctx):
        fields = {"version": (lambda r: r["version"], int), "id": (lambda r: r["id"], str)}
        return paginate(ctx.headers.get("Range"), ctx.app.releases, fields, "version", self.render_release)

    def h_release_create(self, ctx):
        app = ctx.app
        if ctx.link.title == "Rollback":
            target = next((r for r in app.releases if r["id"] == ctx.body["release"]), None)
            if target is None:
                raise ApiError(404, "not_found", "Couldn't find that release.")
            if target["status"] == "failed":
                raise ApiError(422, "invalid_params", f"Cannot roll back to v{target['version']}: it failed and never went live.")
            release = self.new_release(app, slug_id=target["slug_id"], docker_images=dict(target["docker_images"]),
                                       description=f"Rollback to v{target['version']}", origin=f"rollback to v{target['version']}")
        else:
            slug = self.slugs.get(ctx.body["slug"])
            if slug is None:
                raise ApiError(404, "not_found", "Couldn't find that slug.")
            description = ctx.body.get("description") or (f"Deploy {slug['commit'][:8]}" if slug["commit"] else "Deploy")
            release = self.new_release(app, slug_id=slug["id"], description=description, origin=f"slug {slug['id']}")
        return 201, self.render_release(release), {}

    def h_slug_info(self, ctx):
        slug = self.slugs.get(ctx.params[1])
        if slug is None:
            raise ApiError(404, "not_found", "Couldn't find that slug.")
        return 200, self.render_slug(slug), {}

    def h_formation_list(self, ctx):
        return 200, [self.render_formation(ctx.app, f) for f in ctx.app.formation.values()], {}

    def h_formation_info(self, ctx):
        ident = ctx.params[1]
        formation = next((f for f in ctx.app.formation.values() if ident in (f["id"], f["type"])), None)
        if formation is None:
            raise ApiError(404, "not_found", "Couldn't find that formation.")
        return 200, self.render_formation(ctx.app, formation), {}

    def h_formation_batch(self, ctx):
        app = ctx.app
        images = {}
        for index, update in enumerate(ctx.body["updates"]):
            if "docker_image" in update:
                image = update["docker_image"]
                if not isinstance(image, str) or not DOCKER_IMAGE.match(image):
                    raise ApiError(422, "invalid_params",
                                   f"Invalid params: updates[{index}].docker_image must be an image id like sha256:<64 hex digits>.")
                images[update["type"]] = image
        changed = []
        for update in ctx.body["updates"]:
            stamp = now()
            formation = app.formation.get(update["type"])
            if formation is None:
                formation = app.formation[update["type"]] = {
                    "id": new_id(), "type": update["type"], "quantity": 1, "dyno_size": dict(DYNO_SIZE),
                    "command": "bundle exec puma -p $PORT" if update["type"] == "web" else update["type"],
                    "created_at": stamp, "updated_at": stamp}
            if "quantity" in update:
                formation["quantity"] = update["quantity"]
            if isinstance(update.get("dyno_size"), dict):
                size = update["dyno_size"]
                formation["dyno_size"] = {"id": size.get("id", DYNO_SIZE["id"]), "name": size.get("name", DYNO_SIZE["name"])}
            formation["updated_at"] = stamp
            changed.append(formation)
        if images:
            described = ", ".join(f"{kind} ({image.split(':', 1)[1][:12]})" for kind, image in images.items())
            current = app.current()
            merged = dict(current["docker_images"]) if current else {}
            merged.update(images)
            self.new_release(app, slug_id=None, docker_images=merged, description=f"Deployed {described}",
                             origin="formation docker_image")
        return 200, [self.render_formation(app, f) for f in changed], {}

    def h_rate_limit(self, ctx):
        return 200, {"remaining": self.remaining}, {}

    # ---- the API pipeline ---------------------------------------------------------------------

    def api(self, method: str, path: str, headers, raw: bytes):
        """Status, JSON body and extra headers for one Platform API request (faults aside)."""
        authorization = (headers.get("Authorization") or "").strip()
        if authorization != f"Bearer {self.token}":
            # Some platforms quote the credentials they refused; the client must never show them.
            echoed = f": {authorization}" if self.controls["echo_credentials"] and authorization else "."
            raise ApiError(401, "unauthorized", f"Invalid credentials provided{echoed}")
        accepts = {re.sub(r"\s+", "", part).lower() for part in (headers.get("Accept") or "").split(",")}
        plain = re.sub(r"\s+", "", ACCEPT).lower() in accepts
        docker = re.sub(r"\s+", "", DOCKER_ACCEPT).lower() in accepts
        if not plain and not docker:
            raise ApiError(400, "bad_request", "Please specify a version along with Heroku's API MIME type. "
                                               f"For example, `Accept: {ACCEPT}`.")
        if not (headers.get("User-Agent") or "").strip():
            raise ApiError(400, "bad_request", "Requests must carry a non-empty User-Agent header.")
        matches = self.schema.match(method, path)
        if not matches:
            raise ApiError(404, "not_found", NOT_FOUND_ROUTE)
        is_batch = matches[0][0].key == ("formation", "Batch Update")
        if docker and not plain and not is_batch:
            raise ApiError(400, "bad_request", f"`Accept: {DOCKER_ACCEPT}` is only for PATCH /apps/{{app}}/formation; "
                                               f"use `Accept: {ACCEPT}` here.")
        link, params = matches[0]
        body = None
        with_schema = [(l, p) for l, p in matches if l.schema is not None]
        if with_schema:
            text = raw.decode("utf-8", "replace").strip()
            try:
                body = json.loads(text) if text else {}
            except ValueError:
                raise ApiError(400, "bad_request", "The request body is not valid JSON.")
            extras = {"updates[]": {"docker_image"}} if (is_batch and docker) else {}
            failures = []
            for candidate, candidate_params in with_schema:
                errors = self.schema.validate_body(body, candidate, extras)
                if not errors:
                    link, params = candidate, candidate_params
                    break
                props = set(self.schema.deref(candidate.schema).get("properties") or {})
                overlap = len(props & set(body)) if isinstance(body, dict) else 0
                failures.append((overlap, -len(failures), errors))
            else:
                errors = max(failures)[2]
                if is_batch and not docker and any("docker_image" in e for e in errors):
                    errors.append(f"docker_image needs `Accept: {DOCKER_ACCEPT}`")
                raise ApiError(422, "invalid_params", "Invalid params: " + "; ".join(errors) + ".")
        handler = self.handlers.get(link.key)
        if handler is None:
            raise ApiError(501, "not_implemented", f"fake_heroku does not implement {link.definition} {link.title} "
                                                   f"({link.method} {link.href}).")
        ctx = Context(link=link, params=params, body=body, headers=headers, docker=docker)
        with self.lock:
            if link.href.startswith("/apps/{"):
                ctx.app = self.app(params[0])
            return handler(ctx)

    def handle_control(self, body) -> dict:
        if not isinstance(body, dict):
            raise ApiError(400, "bad_request", "POST /__control takes a JSON object.")
        counters = ("rate_limit_next", "error_next", "malformed_next", "hang_next")
        numbers = ("retry_after", "hang_seconds")
        known = set(counters) | set(numbers) | {
            "fail_next_build", "fail_next_release", "pending_polls", "build_pending_polls", "release_pending_polls",
            "break_slug_of_source_version", "break_docker_image", "known_apps", "echo_credentials", "reset"}
        unknown = sorted(set(body) - known)
        if unknown:
            raise ApiError(400, "bad_request", f"Unknown control keys {unknown}; known: {sorted(known)}.")

        def count(key):
            value = body[key]
            if isinstance(value, bool):
                return 1 if value else 0
            if isinstance(value, int) and value >= 0:
                return value
            raise ApiError(400, "bad_request", f"{key} must be a boolean or a non-negative integer.")

        with self.lock:
            if body.get("reset"):
                self.reset()
            for key in ("fail_next_build", "fail_next_release") + counters:
                if key in body:
                    self.controls[key] = count(key)
            if "echo_credentials" in body:
                if not isinstance(body["echo_credentials"], bool):
                    raise ApiError(400, "bad_request", "echo_credentials must be a boolean.")
                self.controls["echo_credentials"] = body["echo_credentials"]
            for key in numbers:
                if key in body:
                    if isinstance(body[key], bool) or not isinstance(body[key], (int, float)) or body[key] < 0:
                        raise ApiError(400, "bad_request", f"{key} must be a non-negative number.")
                    self.controls[key] = body[key]
            if "pending_polls" in body:
                self.build_pending_polls = self.release_pending_polls = count("pending_polls")
            if "build_pending_polls" in body:
                self.build_pending_polls = count("build_pending_polls")
            if "release_pending_polls" in body:
                self.release_pending_polls = count("release_pending_polls")
            for key, target in (("break_slug_of_source_version", self.broken_source_versions),
                                ("break_docker_image", self.broken_docker_images)):
                if key in body:
                    values = body[key] if isinstance(body[key], list) else [body[key]]
                    if not all(isinstance(v, str) for v in values):
                        raise ApiError(400, "bad_request", f"{key} takes a string or a list of strings.")
                    target.update(values)
            if "known_apps" in body:
                apps = body["known_apps"]
                if apps is not None and not (isinstance(apps, list) and all(isinstance(a, str) for a in apps)):
                    raise ApiError(400, "bad_request", "known_apps takes a list of app names or null.")
                self.known_apps = None if apps is None else set(apps)
            return self.control_view()

    def control_view(self) -> dict:
        return dict(self.controls, build_pending_polls=self.build_pending_polls,
                    release_pending_polls=self.release_pending_polls,
                    broken_source_versions=sorted(self.broken_source_versions),
                    broken_docker_images=sorted(self.broken_docker_images),
                    known_apps=None if self.known_apps is None else sorted(self.known_apps))

    def state(self) -> dict:
        with self.lock:
            apps = {}
            for app in self.apps.values():
                current = app.current()
                apps[app.name] = {
                    "id": app.id, "name": app.name,
                    "current_release": {"id": current["id"], "version": current["version"]} if current else None,
                    "builds": [dict(self.render_build(b), pending_polls_left=b["polls_left"], will_fail=b["will_fail"])
                               for b in app.builds],
                    "releases": [dict(self.render_release(r), pending_polls_left=r["polls_left"], will_fail=r["will_fail"],
                                      docker_images=r["docker_images"], origin=r["origin"]) for r in app.releases],
                    "slugs": [dict(self.render_slug(s), source_version=s["source_version"]) for s in self.slugs.values()
                              if s["app_name"] == app.name],
                    "formation": [self.render_formation(app, f) for f in app.formation.values()],
                }
            return {
                "apps": apps,
                "slugs": {i: dict(self.render_slug(s), app=s["app_name"], source_version=s["source_version"],
                                  build_id=s["build_id"]) for i, s in self.slugs.items()},
                "controls": self.control_view(),
                "rate_limit_remaining": self.remaining,
                "requests": list(self.requests),
            }

    def health(self, name: str) -> tuple[int, str]:
        with self.lock:
            app = self.apps.get(name)
            current = app.current() if app else None
            if current is None:
                return 503, "no current release\n"
            slug = self.slugs.get(current["slug_id"]) if current["slug_id"] else None
            if slug and slug["source_version"] in self.broken_source_versions:
                return 503, f"broken: v{current['version']} runs source version {slug['source_version']}\n"
            broken = set(current["docker_images"].values()) & self.broken_docker_images
            if broken:
                return 503, f"broken: v{current['version']} runs {sorted(broken)[0]}\n"
            return 200, "ok"

    def stream(self, kind: str, ident: str) -> str | None:
        with self.lock:
            for app in self.apps.values():
                for item in app.builds if kind == "builds" else app.releases:
                    if item["id"] == ident:
                        if kind == "builds":
                            return f"-----> Building source version {item['source_blob'].get('version')}\n-----> Build {item['status']}\n"
                        return f"Running release command...\nRelease v{item['version']} {item['status']}\n"
        return None


class Context:
    def __init__(self, **kw):
        self.app = None
        self.__dict__.update(kw)


def paginate(range_header, items, fields: dict, default_field: str, render):
    """Heroku list ranges: `FIELD [START]..[END][; max=N, order=asc|desc]`; 206 plus Next-Range when cut."""
    field, start, end, start_excl, end_excl, limit, order = default_field, None, None, False, False, 200, "asc"
    if range_header and range_header.strip():
        spec, _, params = range_header.partition(";")
        m = re.match(r"^\s*([a-z_]+)\s*(.*)$", spec.strip())
        if not m or m.group(1) not in fields or ".." not in m.group(2):
            raise ApiError(400, "bad_request", f"Invalid Range header {range_header!r}; ranges on this list: "
                                               f"{', '.join(fields)} (for example `{default_field} ..; max=10, order=desc`).")
        field = m.group(1)
        low, high = (part.strip() for part in m.group(2).split("..", 1))
        parse = fields[field][1]
        try:
            if low.startswith("]"):
                start_excl, low = True, low[1:]
            if high.endswith("["):
                end_excl, high = True, high[:-1]
            start = parse(low) if low else None
            end = parse(high) if high else None
            for param in re.split(r"[,;]", params):
                if not param.strip():
                    continue
                key, _, value = param.strip().partition("=")
                if key.strip() == "max":
                    limit = int(value)
                    if not 1 <= limit <= 1000:
                        raise ValueError
                elif key.strip() == "order" and value.strip() in ("asc", "desc"):
                    order = value.strip()
                else:
                    raise ValueError
        except ValueError:
            raise ApiError(400, "bad_request", f"Invalid Range header {range_header!r}.")
    key = fields[field][0]
    desc = order == "desc"
    ordered = sorted(items, key=key, reverse=desc)

    def value_of(item):
        v = key(item)
        return v[0] if isinstance(v, tuple) else v

    def after_start(v):
        if start is None:
            return True
        return (v > start or (v == start and not start_excl)) if not desc else (v < start or (v == start and not start_excl))

    def before_end(v):
        if end is None:
            return True
        return (v < end or (v == end and not end_excl)) if not desc else (v > end or (v == end and not end_excl))

    selected = [i for i in ordered if after_start(value_of(i)) and before_end(value_of(i))]
    page = selected[:limit]
    headers = {"Accept-Ranges": ", ".join(fields)}
    if page:
        headers["Content-Range"] = f"{field} {value_of(page[0])}..{value_of(page[-1])}"
    status = 200
    if len(selected) > len(page):
        status = 206
        headers["Next-Range"] = f"{field} ]{value_of(page[-1])}..; max={limit}" + (", order=desc" if desc else "")
    return status, [render(i) for i in page], headers


# --------------------------------------------------------------------------------------------
# HTTP.
# --------------------------------------------------------------------------------------------

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake_heroku/1"
    fake: Fake  # set on the subclass made by make_server

    def log_message(self, fmt, *args):
        if self.fake.verbose:
            sys.stderr.write("fake_heroku: " + (fmt % args) + "\n")

    def read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def send(self, status: int, body: bytes, content_type: str = "application/json", headers: dict | None = None):
        fakeserver.write_response(self, status, body, content_type, headers)

    def send_json(self, status: int, value, headers: dict | None = None):
        self.send(status, (json.dumps(value, indent=2) + "\n").encode(), headers=headers)

    def dispatch(self):
        fake = self.fake
        raw = self.read_body()
        path = urllib.parse.urlsplit(self.path).path
        if path.startswith("/__"):
            return self.dispatch_fake(path, raw)
        headers = {name: value for name, value in self.headers.items() if name.lower() != "authorization"}
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        entry = {"method": self.command, "path": self.path, "headers": headers, "body": body, "status": None}
        with fake.lock:
            fake.requests.append(entry)
            fake.remaining = max(0, fake.remaining - 1)
            hang = fake.controls["hang_seconds"] if fake.take("hang_next") else 0
            fault = next((f for f in ("rate_limit_next", "error_next", "malformed_next") if fake.take(f)), None)
            retry_after = fake.controls["retry_after"]
        if hang:
            time.sleep(hang)
        extra = {"Request-Id": new_id(), "RateLimit-Remaining": fake.remaining}
        if fault == "rate_limit_next":
            extra.update({"Retry-After": retry_after if not float(retry_after).is_integer() else int(retry_after),
                          "RateLimit-Remaining": 0})
            status, value = 429, {"id": "rate_limit", "message": "Your account reached the API rate limit. "
                                                                  "Please wait a few minutes before making new requests."}
        elif fault == "error_next":
            status, value = 500, {"id": "internal_server_error", "message": "Internal server error."}
        else:
            try:
                status, value, more = fake.api(self.command, path, self.headers, raw)
                extra.update(more)
            except ApiError as error:
                status, value = error.status, error.body()
                extra.update(error.headers)
            except Exception as error:  # a bug in the fake: say so rather than hang the client
                status, value = 500, {"id": "fake_heroku_bug", "message": f"{type(error).__name__}: {error}"}
        entry["status"] = status
        if fault == "malformed_next":
            entry["status"] = 200
            entry["malformed"] = True
            return self.send(200, MALFORMED_BODY, headers=extra)
        self.send_json(status, value, extra)

    def dispatch_fake(self, path: str, raw: bytes):
        fake = self.fake
        extra = {"Request-Id": new_id()}
        try:
            if path == "/__control" and self.command == "POST":
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    raise ApiError(400, "bad_request", "POST /__control takes a JSON object.")
                return self.send_json(200, {"controls": fake.handle_control(body)}, extra)
            if path == "/__control" and self.command == "GET":
                with fake.lock:
                    return self.send_json(200, {"controls": fake.control_view()}, extra)
            if path == "/__state" and self.command == "GET":
                return self.send_json(200, fake.state(), extra)
            m = re.match(r"^/__apps/([^/]+)/health$", path)
            if m and self.command == "GET":
                status, text = fake.health(urllib.parse.unquote(m.group(1)))
                return self.send(status, text.encode(), "text/plain; charset=utf-8", extra)
            m = re.match(r"^/__streams/(builds|releases)/([^/]+)$", path)
            if m and self.command == "GET":
                text = fake.stream(m.group(1), m.group(2))
                if text is not None:
                    return self.send(200, text.encode(), "text/plain; charset=utf-8", extra)
            raise ApiError(404, "not_found", f"fake_heroku has no test route {self.command} {path}.")
        except ApiError as error:
            self.send_json(error.status, error.body(), extra)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = dispatch


class Server(ThreadingHTTPServer):
    request_queue_size = 64
    daemon_threads = True


def make_server(fake: Fake, port: int) -> ThreadingHTTPServer:
    handler = type("BoundHandler", (Handler,), {"fake": fake})
    server = Server(("127.0.0.1", port), handler)
    server.daemon_threads = True
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    return server




# --------------------------------------------------------------------------------------------
# Self-test.
# --------------------------------------------------------------------------------------------

class SelfTest:
    def __init__(self, schema_path: str):
        self.schema = Schema(schema_path)
        self.fake = Fake(self.schema)
        self.server = make_server(self.fake, 0)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.passed = 0
        self.failed = 0

    def call(self, method, path, body=None, *, accept=ACCEPT, token=DEFAULT_TOKEN, agent="fake-heroku-self-test",
             headers=None, raw=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        h = {}
        if accept is not None:
            h["Accept"] = accept
        if token is not None:
            h["Authorization"] = f"Bearer {token}"
        if agent is not None:
            h["User-Agent"] = agent
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        if data is not None:
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        conn.request(method, path, body=data, headers=h)
        response = conn.getresponse()
        text = response.read().decode("utf-8", "replace")
        conn.close()
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        return response.status, {k.lower(): v for k, v in response.getheaders()}, parsed, text

    def control(self, **body):
        status, _, value, text = self.call("POST", "/__control", body, accept=None, token=None)
        assert status == 200, text
        return value

    def check(self, name, condition, detail=""):
        if condition:
            self.passed += 1
        else:
            self.failed += 1
            print(f"FAIL {name} {detail}")

    def conforms(self, name, value, definition, title):
        target = self.schema.link(definition, title).target_schema
        errors = self.schema.check(value, target, "", 10)
        if definition == "build" and isinstance(value, dict):
            errors += [f"{k} missing" for k in self.schema.doc["definitions"]["build"]["required"] if k not in value]
        self.check(f"{name} conforms to {definition} {title} targetSchema", not errors, errors)

    def poll(self, path, times):
        out = []
        for _ in range(times):
            out.append(self.call("GET", path)[2])
        return out

    def run(self) -> int:
        try:
            self.scenarios()
        except Exception as error:  # an unexpected crash counts as a failure
            import traceback
            traceback.print_exc()
            self.check("self-test ran to the end", False, repr(error))
        print(f"{self.passed} passed, {self.failed} failed")
        self.server.shutdown()
        return 0 if self.failed == 0 and self.passed > 0 else 1

    def scenarios(self):
        iso = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        uuid_re = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
        src = "https://example.com/source.tgz?token=xyz"

        # Auth and headers.
        s, h, v, _ = self.call("GET", "/apps/app-one/releases", token=None)
        self.check("no token -> 401", s == 401 and v == {"id": "unauthorized", "message": "Invalid credentials provided."}, (s, v))
        self.check("401 carries RateLimit-Remaining, Request-Id, JSON", "ratelimit-remaining" in h and "request-id" in h
                   and h.get("content-type") == "application/json", h)
        s, _, v, _ = self.call("GET", "/apps/app-one/releases", token="wrong")
        self.check("wrong token -> 401", s == 401 and v["id"] == "unauthorized", (s, v))
        self.control(echo_credentials=True)
        s, _, v, _ = self.call("GET", "/apps/app-one/releases", token="wrong")
        self.check("echo_credentials: the 401 quotes the header", s == 401 and v == {
            "id": "unauthorized", "message": "Invalid credentials provided: Bearer wrong"}, (s, v))
        self.control(echo_credentials=False)
        s, _, v, _ = self.call("GET", "/apps/app-one/releases", accept="application/json")
        self.check("wrong Accept -> 400", s == 400 and v["id"] == "bad_request", (s, v))
        s, _, v, _ = self.call("GET", "/apps/app-one/releases", accept=DOCKER_ACCEPT)
        self.check("docker Accept outside formation PATCH -> 400", s == 400, (s, v))
        s, _, v, _ = self.call("GET", "/apps/app-one/releases", agent=None)
        self.check("missing User-Agent -> 400", s == 400 and v["id"] == "bad_request", (s, v))

        # Routing.
        s, _, v, _ = self.call("GET", "/apps/app-one/nothing-here")
        self.check("unknown route -> 404 not_found", s == 404 and v["id"] == "not_found", (s, v))
        s, _, v, _ = self.call("PUT", "/apps/app-one/builds")
        self.check("known path, wrong method -> 404", s == 404 and v["id"] == "not_found", (s, v))
        s, _, v, _ = self.call("GET", "/apps/Bad_Name/releases")
        self.check("app name outside the schema pattern -> 404", s == 404 and v["message"] == "Couldn't find that app.", (s, v))
        s, _, v, _ = self.call("DELETE", "/apps/app-one/build-cache")
        self.check("schema route not modelled -> 501", s == 501 and v["id"] == "not_implemented", (s, v))
        s, _, v, _ = self.call("GET", "/apps/app-one")
        self.check("app created on first use", s == 200 and v["name"] == "app-one" and uuid_re.match(v["id"]), (s, v))
        self.conforms("app", v, "app", "Info")

        # Invalid bodies.
        for label, body, raw in [
            ("missing source_blob", {}, None),
            ("unknown property", {"source_blob": {"url": src}, "bogus": 1}, None),
            ("source_blob not an object", {"source_blob": "x"}, None),
            ("source_blob.url not a string", {"source_blob": {"url": 5}}, None),
            ("source_blob unknown key (strictProperties)", {"source_blob": {"url": src, "branch": "main"}}, None),
            ("body is an array", None, b"[1]"),
        ]:
            s, _, v, _ = self.call("POST", "/apps/app-one/builds", body, raw=raw)
            self.check(f"build body {label} -> 422", s == 422 and v["id"] == "invalid_params", (s, v))
        s, _, v, _ = self.call("POST", "/apps/app-one/builds", raw=b"{not json")
        self.check("unparsable body -> 400", s == 400, (s, v))
        s, _, v, _ = self.call("POST", "/apps/app-one/releases", {"slug": new_id(), "release": new_id()})
        self.check("release body with slug and release -> 422", s == 422 and v["id"] == "invalid_params", (s, v))
        s, _, v, _ = self.call("POST", "/apps/app-one/releases", {"release": 1})
        self.check("rollback with an integer -> 422", s == 422, (s, v))
        s, _, v, _ = self.call("POST", "/apps/app-one/releases", {"description": "x"})
        self.check("release without slug or release -> 422", s == 422, (s, v))

        # Build -> pending -> succeeded with slug and release; release phase -> succeeded, current.
        s, h, build, _ = self.call("POST", "/apps/app-one/builds", {"source_blob": {"url": src, "version": "abc1234"}})
        self.check("build create -> 201 pending", s == 201 and build["status"] == "pending", (s, build))
        self.check("build has id, timestamps, app, user, nulls", uuid_re.match(build["id"]) and iso.match(build["created_at"])
                   and iso.match(build["updated_at"]) and build["release"] is None and build["slug"] is None
                   and build["source_blob"]["url"] == src and build["source_blob"]["version"] == "abc1234"
                   and build["user"]["email"] and build["stack"] and build["output_stream_url"], build)
        self.check("build response headers", h.get("content-type") == "application/json" and h.get("request-id")
                   and int(h.get("ratelimit-remaining")) > 0, h)
        self.conforms("build", build, "build", "Info")
        polls = self.poll(f"/apps/app-one/builds/{build['id']}", 3)
        self.check("build pending for 2 GETs", [p["status"] for p in polls] == ["pending", "pending", "succeeded"], polls)
        done = polls[-1]
        self.check("succeeded build has slug and release", done["slug"] and done["release"] and uuid_re.match(done["slug"]["id"]), done)
        self.conforms("succeeded build", done, "build", "Info")
        slug1 = done["slug"]["id"]
        s, _, slug, _ = self.call("GET", f"/apps/app-one/slugs/{slug1}")
        self.check("slug info", s == 200 and slug["id"] == slug1 and slug["commit"] == "abc1234", (s, slug))
        self.conforms("slug", slug, "slug", "Info")
        rel_path = f"/apps/app-one/releases/{done['release']['id']}"
        polls = self.poll(rel_path, 3)
        self.check("release pending for 2 GETs then succeeded", [p["status"] for p in polls] == ["pending", "pending", "succeeded"], polls)
        self.check("pending release not current; succeeded one current", not polls[0]["current"] and polls[-1]["current"], polls)
        r1 = polls[-1]
        self.check("release v1 with slug", r1["version"] == 1 and r1["slug"] == {"id": slug1}
                   and r1["description"] == "Deploy abc1234" and r1["app"]["name"] == "app-one", r1)
        self.conforms("release", r1, "release", "Info")
        s, _, by_version, _ = self.call("GET", "/apps/app-one/releases/1")
        self.check("release by version", s == 200 and by_version["id"] == r1["id"], (s, by_version))
        s, _, v, _ = self.call("GET", f"/apps/app-one/releases/{new_id()}")
        self.check("unknown release -> 404", s == 404 and v["id"] == "not_found", (s, v))
        s, _, v, _ = self.call("GET", f"/apps/app-one/builds/{new_id()}")
        self.check("unknown build -> 404", s == 404, (s, v))

        # A second build: v2 becomes current, v1 no longer.
        self.control(pending_polls=0)
        s, _, build2, _ = self.call("POST", "/apps/app-one/builds", {"source_blob": {"url": src, "version": "def5678"}})
        done2 = self.call("GET", f"/apps/app-one/builds/{build2['id']}")[2]
        r2 = self.call("GET", f"/apps/app-one/releases/{done2['release']['id']}")[2]
        r1_again = self.call("GET", "/apps/app-one/releases/1")[2]
        self.check("pending_polls 0: first GET finishes", done2["status"] == "succeeded" and r2["status"] == "succeeded", (done2, r2))
        self.check("v2 current, v1 not", r2["version"] == 2 and r2["current"] and not r1_again["current"], (r2, r1_again))

        # Promotion of slug1 to a second app.
        self.control(pending_polls=1)
        s, _, p1, _ = self.call("POST", "/apps/app-two/releases", {"slug": slug1, "description": "Promote 1.0"})
        self.check("promotion -> 201 pending v1", s == 201 and p1["status"] == "pending" and p1["version"] == 1
                   and p1["slug"] == {"id": slug1} and p1["description"] == "Promote 1.0" and not p1["current"], (s, p1))
        polls = self.poll(f"/apps/app-two/releases/{p1['id']}", 2)
        self.check("promoted release succeeds and is current", [p["status"] for p in polls] == ["pending", "succeeded"]
                   and polls[-1]["current"], polls)
        s, _, v, _ = self.call("POST", "/apps/app-two/releases", {"slug": new_id()})
        self.check("release of unknown slug -> 404", s == 404 and v["id"] == "not_found", (s, v))

        # Rollback: a new release, version + 1, old slug, "Rollback to v1".
        s, _, rb, _ = self.call("POST", "/apps/app-one/releases", {"release": r1["id"]})
        self.check("rollback -> 201 v3 with v1's slug", s == 201 and rb["version"] == 3 and rb["slug"] == {"id": slug1}
                   and rb["description"] == "Rollback to v1", (s, rb))
        rb_done = self.poll(f"/apps/app-one/releases/{rb['id']}", 2)[-1]
        r2_again = self.call("GET", "/apps/app-one/releases/2")[2]
        self.check("rollback release current, v2 not", rb_done["current"] and rb_done["status"] == "succeeded"
                   and not r2_again["current"], (rb_done, r2_again))
        s, _, v, _ = self.call("POST", "/apps/app-one/releases", {"release": new_id()})
        self.check("rollback to unknown release -> 404", s == 404, (s, v))

        # fail_next_build.
        self.control(fail_next_build=True, pending_polls=0)
        b = self.call("POST", "/apps/app-one/builds", {"source_blob": {"url": src, "version": "bad0001"}})[2]
        b = self.call("GET", f"/apps/app-one/builds/{b['id']}")[2]
        self.check("fail_next_build -> failed, no release, no slug", b["status"] == "failed" and b["release"] is None
                   and b["slug"] is None, b)
        b = self.call("POST", "/apps/app-one/builds", {"source_blob": {"url": src, "version": "good002"}})[2]
        b = self.call("GET", f"/apps/app-one/builds/{b['id']}")[2]
        self.check("the build after it succeeds", b["status"] == "succeeded", b)
        r4 = self.call("GET", f"/apps/app-one/releases/{b['release']['id']}")[2]
        self.check("its release is v4 and current", r4["version"] == 4 and r4["current"], r4)

        # fail_next_release: the release phase fails, it never becomes current.
        self.control(fail_next_release=True)
        s, _, fr, _ = self.call("POST", "/apps/app-one/releases", {"slug": slug1})
        fr = self.call("GET", f"/apps/app-one/releases/{fr['id']}")[2]
        still = self.call("GET", "/apps/app-one/releases/4")[2]
        self.check("fail_next_release -> failed, not current", fr["status"] == "failed" and not fr["current"]
                   and not fr["eligible_for_rollback"], fr)
        self.check("previous release stays current", still["current"], still)
        s, _, v, _ = self.call("POST", "/apps/app-one/releases", {"release": fr["id"]})
        self.check("rollback to a failed release -> 422", s == 422, (s, v))

        # Faults.
        self.control(rate_limit_next=2, retry_after=3)
        answers = [self.call("GET", "/apps/app-one/releases/1") for _ in range(3)]
        self.check("rate_limit_next 2 -> two 429", [a[0] for a in answers] == [429, 429, 200], [a[0] for a in answers])
        self.check("429 has Retry-After and rate_limit body", answers[0][1].get("retry-after") == "3"
                   and answers[0][2]["id"] == "rate_limit" and answers[0][1].get("ratelimit-remaining") == "0", answers[0])
        self.control(error_next=1)
        s, _, v, _ = self.call("GET", "/apps/app-one/releases/1")
        self.check("error_next -> 500", s == 500 and v["id"] == "internal_server_error", (s, v))
        self.control(malformed_next=1)
        s, h, v, text = self.call("GET", "/apps/app-one/releases/1")
        self.check("malformed_next -> 200 not JSON", s == 200 and v is None and text and h.get("content-type") == "application/json", (s, text))
        s, _, v, _ = self.call("GET", "/apps/app-one/releases/1")
        self.check("then JSON again", s == 200 and v["version"] == 1, (s, v))
        self.control(hang_next=1, hang_seconds=0.3)
        started = time.monotonic()
        s, _, _, _ = self.call("GET", "/apps/app-one/releases/1")
        self.check("hang_next sleeps", s == 200 and time.monotonic() - started >= 0.3, time.monotonic() - started)

        # Docker formation PATCH.
        image = "sha256:" + "ab" * 32
        updates = {"updates": [{"type": "web", "docker_image": image}]}
        s, _, v, _ = self.call("PATCH", "/apps/app-three/formation", updates)
        self.check("docker_image without docker Accept -> 422", s == 422 and v["id"] == "invalid_params", (s, v))
        s, _, v, _ = self.call("PATCH", "/apps/app-three/formation", {"updates": [{"type": "web", "other": 1}]}, accept=DOCKER_ACCEPT)
        self.check("unknown update key with docker Accept -> 422", s == 422, (s, v))
        s, _, v, _ = self.call("PATCH", "/apps/app-three/formation", {"updates": [{"type": "web", "docker_image": "latest"}]},
                               accept=DOCKER_ACCEPT)
        self.check("docker_image not sha256 -> 422", s == 422, (s, v))
        self.control(pending_polls=1)
        s, _, v, _ = self.call("PATCH", "/apps/app-three/formation", updates, accept=DOCKER_ACCEPT)
        self.check("docker formation PATCH -> 200 list", s == 200 and isinstance(v, list) and v[0]["type"] == "web", (s, v))
        self.conforms("formation list", v, "formation", "Batch Update")
        s, h, latest, _ = self.call("GET", "/apps/app-three/releases", headers={"Range": "version ..; max=1, order=desc"})
        self.check("docker release listed, slug null, pending", s in (200, 206) and latest[0]["slug"] is None
                   and latest[0]["status"] == "pending" and latest[0]["version"] == 1, (s, latest))
        polls = self.poll(f"/apps/app-three/releases/{latest[0]['id']}", 2)
        self.check("docker release succeeds and is current", polls[-1]["status"] == "succeeded" and polls[-1]["current"], polls)
        s, _, v, _ = self.call("PATCH", "/apps/app-three/formation", {"updates": [{"type": "web", "quantity": 2}]})
        self.check("plain formation PATCH (quantity) -> 200, no release", s == 200 and v[0]["quantity"] == 2
                   and len(self.call("GET", "/apps/app-three/releases")[2]) == 1, (s, v))

        # Range on the release list (app-one has v1..v5).
        s, h, page, _ = self.call("GET", "/apps/app-one/releases", headers={"Range": "version ..; max=2, order=desc"})
        self.check("Range max=2 desc -> 206 two newest", s == 206 and [r["version"] for r in page] == [5, 4], (s, page))
        self.check("Next-Range given", h.get("next-range") == "version ]4..; max=2, order=desc", h)
        s, h, page2, _ = self.call("GET", "/apps/app-one/releases", headers={"Range": h["next-range"]})
        self.check("following Next-Range", s == 206 and [r["version"] for r in page2] == [3, 2], (s, page2))
        s, h, page3, _ = self.call("GET", "/apps/app-one/releases", headers={"Range": h["next-range"]})
        self.check("last page -> 200 without Next-Range", s == 200 and [r["version"] for r in page3] == [1]
                   and "next-range" not in h, (s, page3, h))
        s, _, full, _ = self.call("GET", "/apps/app-one/releases")
        self.check("no Range -> 200 ascending", s == 200 and [r["version"] for r in full] == [1, 2, 3, 4, 5], (s, full))
        for r in full:
            self.conforms(f"listed v{r['version']}", r, "release", "Info")
        s, _, v, _ = self.call("GET", "/apps/app-one/releases", headers={"Range": "bogus ..; max=2"})
        self.check("bad Range -> 400", s == 400, (s, v))

        # Health of the current release.
        s, _, _, text = self.call("GET", "/__apps/app-one/health", accept=None, token=None)
        self.check("health ok", s == 200 and text == "ok", (s, text))
        self.control(break_slug_of_source_version="good002")
        s, _, _, text = self.call("GET", "/__apps/app-one/health", accept=None, token=None)
        self.check("health 503 when the current slug is broken", s == 503, (s, text))
        s, _, _, text = self.call("GET", "/__apps/app-two/health", accept=None, token=None)
        self.check("other app still healthy", s == 200, (s, text))

        # State records what the client sent, without Authorization.
        state = self.call("GET", "/__state", accept=None, token=None)[2]
        posts = [r for r in state["requests"] if r["method"] == "POST" and r["path"] == "/apps/app-two/releases"]
        self.check("state records requests with bodies", posts and posts[0]["body"] == {"slug": slug1, "description": "Promote 1.0"}
                   and posts[0]["status"] == 201, posts[:1])
        self.check("state hides Authorization", all("authorization" not in {k.lower() for k in r["headers"]}
                                                    for r in state["requests"]))
        self.check("state has apps, releases and current", state["apps"]["app-one"]["current_release"]["version"] == 4
                   and len(state["apps"]["app-one"]["releases"]) == 5 and slug1 in state["slugs"], state["apps"].keys())

        # reset and known_apps.
        self.control(reset=True, known_apps=["only-app"])
        s, _, v, _ = self.call("GET", "/apps/app-one/releases")
        self.check("known_apps: other apps -> 404", s == 404, (s, v))
        s, _, v, _ = self.call("GET", "/apps/only-app/releases")
        self.check("reset clears state", s == 200 and v == [], (s, v))


# --------------------------------------------------------------------------------------------

def main(argv=None) -> int:
    parser = fakeserver.argument_parser("Fake Heroku Platform API v3 for tests.")
    parser.add_argument("--schema", required=True, help="path to the Platform API JSON hyper-schema")
    parser.add_argument("--token", default=DEFAULT_TOKEN, help="the accepted bearer token")
    parser.add_argument("--pending-polls", type=int, default=2, help="GETs a build or release stays pending")
    args = parser.parse_args(argv)
    fakeserver.limit_lifetime(args.max_seconds)
    if args.self_test:
        return SelfTest(args.schema).run()
    if not args.port_file:
        parser.error("--port-file is required (unless --self-test)")
    fake = Fake(Schema(args.schema), token=args.token, pending_polls=args.pending_polls, verbose=args.verbose)
    return fakeserver.serve(make_server(fake, args.port), "fake_heroku", args.port_file)


if __name__ == "__main__":
    sys.exit(main())
