#!/usr/bin/env python3
"""A fake Heroku Platform API v3 for the tests of `release` (Python 3.11 + jsonschema).

Routes come from the links of the official JSON hyper-schema, loaded at startup from --schema
(never copied into the project), and request bodies are validated against each link's `schema`
with jsonschema (Draft 4, as the hyper-schema's meta-schema is). Test routes (/__control,
/__state, /__apps/{app}/health, /__streams/...) need no credentials. See README.md beside this file.

    fake_heroku.py --schema PATH --port 0 --port-file FILE [--token TOKEN] [--max-seconds 300]
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
import urllib.parse
import uuid
from datetime import datetime, timezone

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import fakeserver  # noqa: E402  (Tests/Fakes/fakeserver.py, shared by every fake)
from fakeserver import FakeError  # noqa: E402

try:
    import jsonschema
    import referencing
    import referencing.jsonschema
except ImportError as _error:  # pragma: no cover - depends on the machine
    sys.stderr.write(f"fake_heroku: the Python package jsonschema is missing ({_error}); "
                     "install it with: python3 -m pip install 'jsonschema>=4.18'\n")
    sys.exit(2)

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


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_id() -> str:
    return str(uuid.uuid4())


# --------------------------------------------------------------------------------------------
# The schema: routes from every definition's links, validation with jsonschema.
# --------------------------------------------------------------------------------------------

def strict_properties(validator, strict, instance, schema):
    """interagent's `strictProperties: true`: an object has no properties beyond those its
    `properties` and `patternProperties` describe (where it describes any)."""
    properties = schema.get("properties") or {}
    patterns = schema.get("patternProperties") or {}
    if strict is not True or not validator.is_type(instance, "object") or not (properties or patterns):
        return
    extra = sorted(key for key in instance if key not in properties and not any(re.search(p, key) for p in patterns))
    if extra:
        yield jsonschema.ValidationError(f"{', '.join(map(repr, extra))} {'is' if len(extra) == 1 else 'are'} "
                                         "not permitted here (strictProperties)")


# Heroku's hyper-schema declares interagent's meta-schema, which extends JSON Schema Draft 4.
HyperSchemaValidator = jsonschema.validators.extend(jsonschema.Draft4Validator, {"strictProperties": strict_properties})


class Link:
    """One link of the hyper-schema: a method and an href template, with its place in the document."""

    def __init__(self, definition: str, index: int, link: dict):
        self.definition = definition
        self.title = link.get("title", "")
        self.method = link["method"].upper()
        self.href = link["href"]
        self.has_schema = link.get("schema") is not None
        self.has_target_schema = link.get("targetSchema") is not None
        escaped = definition.replace("~", "~0").replace("/", "~1")
        self.pointer = f"#/definitions/{urllib.parse.quote(escaped)}/links/{index}"
        self.definition_pointer = f"#/definitions/{urllib.parse.quote(escaped)}"
        pieces = PLACEHOLDER.split(self.href)
        self.regex = re.compile("^" + "([^/]+)".join(re.escape(p) for p in pieces) + "$")
        self.literal = len("".join(pieces))

    @property
    def key(self) -> tuple[str, str]:
        return (self.definition, self.title)

    def __repr__(self) -> str:
        return f"{self.method} {self.href} ({self.definition} {self.title})"


class Schema:
    """The Platform API hyper-schema: its links, and validation against it by JSON pointer (every
    `$ref` resolves inside the document, through a `referencing` registry)."""

    REQUIRED_DEFINITIONS = ("app", "build", "release", "slug", "formation")

    def __init__(self, path: str):
        self.doc = fakeserver.load_json(path, "the Platform API hyper-schema")
        definitions = self.doc.get("definitions") if isinstance(self.doc, dict) else None
        if not isinstance(definitions, dict):
            raise SystemExit(f"fake_heroku: {path} has no 'definitions'; is it the Platform API hyper-schema?")
        missing = [name for name in self.REQUIRED_DEFINITIONS if name not in definitions]
        if missing:
            raise SystemExit(f"fake_heroku: {path} lacks definitions {', '.join(missing)}")
        self.uri = str(self.doc.get("id") or "urn:heroku:platform-api").rstrip("#")
        resource = referencing.jsonschema.DRAFT4.create_resource(self.doc)
        self.registry = referencing.Registry().with_resource(self.uri, resource)
        self.links: list[Link] = []
        for name, definition in definitions.items():
            for index, link in enumerate(definition.get("links") or []):
                if isinstance(link, dict) and link.get("method") and str(link.get("href", "")).startswith("/"):
                    self.links.append(Link(name, index, link))
        self.app_name_pattern = self.lookup("#/definitions/app/definitions/name").get("pattern")

    def lookup(self, pointer: str):
        """The schema at a pointer into the document, its `$ref`s followed."""
        resolver = self.registry.resolver(self.uri)
        node = resolver.lookup(pointer).contents
        while isinstance(node, dict) and "$ref" in node:
            node = resolver.lookup(node["$ref"]).contents
        return node

    def link(self, definition: str, title: str) -> Link:
        for link in self.links:
            if link.key == (definition, title):
                return link
        raise KeyError(f"{definition} {title}")

    def match(self, method: str, path: str) -> list[tuple[Link, list[str]]]:
        """The links whose method and href match, those with the most literal characters only."""
        found = []
        for link in self.links:
            if link.method != method:
                continue
            matched = link.regex.match(path)
            if matched:
                found.append((link, [urllib.parse.unquote(g) for g in matched.groups()]))
        best = max((link.literal for link, _ in found), default=0)
        return [(link, params) for link, params in found if link.literal == best]

    def errors(self, value, schema) -> list[str]:
        """Every way `value` fails `schema` (whose `$ref`s point into the document), one line each."""
        validator = HyperSchemaValidator(schema, registry=self.registry)
        found = sorted(validator.iter_errors(value), key=lambda error: list(map(str, error.absolute_path)))
        return [fakeserver.schema_problem(error) for error in found]

    def body_errors(self, body, link: Link) -> list[str]:
        """A request body against the link's `schema`: that schema, and no property it does not
        describe (top level included, where the schema itself would allow more)."""
        described = self.lookup(link.pointer + "/schema").get("properties") or {}
        return self.errors(body, {"allOf": [{"$ref": self.uri + link.pointer + "/schema"}],
                                  "properties": {name: {} for name in described}, "additionalProperties": False})

    def response_errors(self, value, link: Link) -> list[str]:
        """An answer against the link's `targetSchema`, or else the link's definition."""
        pointer = link.pointer + "/targetSchema" if link.has_target_schema else link.definition_pointer
        return self.errors(value, {"$ref": self.uri + pointer})


# --------------------------------------------------------------------------------------------
# State.
# --------------------------------------------------------------------------------------------

class App:
    """One app: its builds, releases (in version order), formation and current release."""

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


class HerokuFake(fakeserver.PlatformFake):
    """Apps with their builds, releases, slugs and formation, as the Platform API shows them."""

    name = "fake_heroku"
    rate_limit = RATE_LIMIT_START
    CONTROL_KEYS = {"fail_next_build", "fail_next_release", "pending_polls", "build_pending_polls",
                    "release_pending_polls", "break_slug_of_source_version", "break_docker_image", "known_apps",
                    "echo_credentials"}

    def __init__(self, schema: Schema, token: str = DEFAULT_TOKEN, pending_polls: int = 2, verbose: bool = False):
        self.schema = schema
        self.token = token
        self.default_pending_polls = pending_polls
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
        super().__init__(verbose)

    def reset(self) -> None:
        with self.lock:
            super().reset()
            self.apps: dict[str, App] = {}
            self.slugs: dict[str, dict] = {}
            self.failing = {"build": 0, "release": 0}
            self.echo_credentials = False
            self.build_pending_polls = self.release_pending_polls = self.default_pending_polls
            self.broken_source_versions: set[str] = set()
            self.broken_docker_images: set[str] = set()
            self.known_apps: set[str] | None = None

    # ---- test settings ------------------------------------------------------------------------

    def control_keys(self) -> set[str]:
        return super().control_keys() | self.CONTROL_KEYS

    def apply_controls(self, settings: dict) -> None:
        super().apply_controls(settings)
        for kind in self.failing:
            if f"fail_next_{kind}" in settings:
                self.failing[kind] = fakeserver.count(f"fail_next_{kind}", settings[f"fail_next_{kind}"])
        if "echo_credentials" in settings:
            self.echo_credentials = fakeserver.flag("echo_credentials", settings["echo_credentials"])
        if "pending_polls" in settings:
            self.build_pending_polls = self.release_pending_polls = fakeserver.count("pending_polls", settings["pending_polls"])
        if "build_pending_polls" in settings:
            self.build_pending_polls = fakeserver.count("build_pending_polls", settings["build_pending_polls"])
        if "release_pending_polls" in settings:
            self.release_pending_polls = fakeserver.count("release_pending_polls", settings["release_pending_polls"])
        for key, broken in (("break_slug_of_source_version", self.broken_source_versions),
                            ("break_docker_image", self.broken_docker_images)):
            if key in settings:
                broken.update(fakeserver.strings(key, settings[key]))
        if "known_apps" in settings:
            self.known_apps = fakeserver.known("known_apps", settings["known_apps"])

    def control_view(self) -> dict:
        return dict(super().control_view(), fail_next_build=self.failing["build"],
                    fail_next_release=self.failing["release"], echo_credentials=self.echo_credentials,
                    build_pending_polls=self.build_pending_polls, release_pending_polls=self.release_pending_polls,
                    broken_source_versions=sorted(self.broken_source_versions),
                    broken_docker_images=sorted(self.broken_docker_images),
                    known_apps=None if self.known_apps is None else sorted(self.known_apps))

    def take(self, kind: str) -> bool:
        """Whether the next build or release (`kind`) is to fail, counting it."""
        if self.failing[kind] > 0:
            self.failing[kind] -= 1
            return True
        return False

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
            raise FakeError(404, "not_found", "Couldn't find that app.")
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

    def new_release(self, app: App, *, slug_id: str | None, description: str,
                    docker_images: dict | None = None, origin: str) -> dict:
        stamp = now()
        release = {
            "id": new_id(), "app_name": app.name, "version": len(app.releases) + 1, "status": "pending",
            "description": description, "slug_id": slug_id, "docker_images": docker_images or {},
            "created_at": stamp, "updated_at": stamp, "polls_left": self.release_pending_polls,
            "will_fail": self.take("release"), "origin": origin,
        }
        app.releases.append(release)
        return release

    @staticmethod
    def advance(item: dict) -> bool:
        """Counts one GET of a pending build or release: it stays pending for `polls_left` more,
        then fails or succeeds. True when this GET made it succeed."""
        if item["status"] != "pending":
            return False
        if item["polls_left"] > 0:
            item["polls_left"] -= 1
            return False
        item["updated_at"] = now()
        item["status"] = "failed" if item["will_fail"] else "succeeded"
        return item["status"] == "succeeded"

    def advance_release(self, release: dict) -> None:
        """A release that succeeds becomes current, unless a newer one is already."""
        if not self.advance(release):
            return
        app = self.apps[release["app_name"]]
        current = app.current()
        if current is None or release["version"] > current["version"]:
            app.current_release_id = release["id"]
            app.released_at = release["updated_at"]

    def advance_build(self, build: dict) -> None:
        """A build that succeeds leaves a slug and starts its release."""
        if not self.advance(build):
            return
        app = self.apps[build["app_name"]]
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
        build.update(slug_id=slug_id, release_id=release["id"])

    # ---- handlers (return status, JSON, extra headers) --------------------------------------

    def h_app_info(self, ctx):
        return 200, self.render_app(ctx.app), {}

    def h_build_create(self, ctx):
        blob = ctx.body["source_blob"]
        if not isinstance(blob.get("url"), str) or not blob["url"]:
            raise FakeError(422, "invalid_params", "Invalid params: source_blob.url must be a non-empty string.")
        stamp = now()
        build = {
            "id": new_id(), "app_name": ctx.app.name, "app_id": ctx.app.id, "status": "pending",
            "source_blob": {"checksum": blob.get("checksum"), "url": blob["url"], "version": blob.get("version"),
                            "version_description": blob.get("version_description")},
            "buildpacks": ctx.body.get("buildpacks") or [{"url": "https://github.com/heroku/heroku-buildpack-ruby",
                                                          "name": "heroku/ruby"}],
            "created_at": stamp, "updated_at": stamp, "slug_id": None, "release_id": None,
            "polls_left": self.build_pending_polls, "will_fail": self.take("build"),
        }
        ctx.app.builds.append(build)
        return 201, self.render_build(build), {}

    def find_build(self, app: App, ident: str) -> dict:
        build = next((b for b in app.builds if b["id"] == ident), None)
        if build is None:
            raise FakeError(404, "not_found", "Couldn't find that build.")
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
            raise FakeError(404, "not_found", "Couldn't find that release.")
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
                raise FakeError(404, "not_found", "Couldn't find that release.")
            if target["status"] == "failed":
                raise FakeError(422, "invalid_params", f"Cannot roll back to v{target['version']}: it failed and never went live.")
            release = self.new_release(app, slug_id=target["slug_id"], docker_images=dict(target["docker_images"]),
                                       description=f"Rollback to v{target['version']}", origin=f"rollback to v{target['version']}")
        else:
            slug = self.slugs.get(ctx.body["slug"])
            if slug is None:
                raise FakeError(404, "not_found", "Couldn't find that slug.")
            description = ctx.body.get("description") or (f"Deploy {slug['commit'][:8]}" if slug["commit"] else "Deploy")
            release = self.new_release(app, slug_id=slug["id"], description=description, origin=f"slug {slug['id']}")
        return 201, self.render_release(release), {}

    def h_slug_info(self, ctx):
        slug = self.slugs.get(ctx.params[1])
        if slug is None:
            raise FakeError(404, "not_found", "Couldn't find that slug.")
        return 200, self.render_slug(slug), {}

    def h_formation_list(self, ctx):
        return 200, [self.render_formation(ctx.app, f) for f in ctx.app.formation.values()], {}

    def h_formation_info(self, ctx):
        ident = ctx.params[1]
        formation = next((f for f in ctx.app.formation.values() if ident in (f["id"], f["type"])), None)
        if formation is None:
            raise FakeError(404, "not_found", "Couldn't find that formation.")
        return 200, self.render_formation(ctx.app, formation), {}

    def h_formation_batch(self, ctx):
        app = ctx.app
        images = {}
        for index, update in enumerate(ctx.body["updates"]):
            if "docker_image" in update:
                image = update["docker_image"]
                if not isinstance(image, str) or not DOCKER_IMAGE.match(image):
                    raise FakeError(422, "invalid_params",
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

    def api_headers(self, request: fakeserver.Request) -> dict:
        return {"Request-Id": request.id, "RateLimit-Remaining": self.remaining}

    def rate_limited(self) -> FakeError:
        return FakeError(429, "rate_limit", "Your account reached the API rate limit. Please wait a few minutes "
                                            "before making new requests.",
                         {"Retry-After": self.faults.retry_after_header(), "RateLimit-Remaining": 0})

    def api(self, request: fakeserver.Request) -> fakeserver.Answer:
        """One Platform API request: credentials, Accept, User-Agent, a link of the schema, a body
        that link's schema allows, then the fake's handler for the link."""
        authorization = request.header("Authorization").strip()
        if authorization != f"Bearer {self.token}":
            # Some platforms quote the credentials they refused; the client must never show them.
            echoed = f": {authorization}" if self.echo_credentials and authorization else "."
            raise FakeError(401, "unauthorized", f"Invalid credentials provided{echoed}")
        accepts = {re.sub(r"\s+", "", part).lower() for part in request.header("Accept").split(",")}
        plain = re.sub(r"\s+", "", ACCEPT).lower() in accepts
        docker = re.sub(r"\s+", "", DOCKER_ACCEPT).lower() in accepts
        if not plain and not docker:
            raise FakeError(400, "bad_request", "Please specify a version along with Heroku's API MIME type. "
                                                f"For example, `Accept: {ACCEPT}`.")
        if not request.header("User-Agent").strip():
            raise FakeError(400, "bad_request", "Requests must carry a non-empty User-Agent header.")
        matches = self.schema.match(request.method, request.path)
        if not matches:
            raise FakeError(404, "not_found", NOT_FOUND_ROUTE)
        is_batch = matches[0][0].key == ("formation", "Batch Update")
        if docker and not plain and not is_batch:
            raise FakeError(400, "bad_request", f"`Accept: {DOCKER_ACCEPT}` is only for PATCH /apps/{{app}}/formation; "
                                                f"use `Accept: {ACCEPT}` here.")
        link, params = matches[0]
        body = None
        with_schema = [(candidate, found) for candidate, found in matches if candidate.has_schema]
        if with_schema:
            try:
                body = request.json()
            except ValueError:
                raise FakeError(400, "bad_request", "The request body is not valid JSON.")
            body = {} if body is None else body
            link, params = self.described_by(body, with_schema, docker=docker and is_batch,
                                             hint=is_batch and not docker)
        handler = self.handlers.get(link.key)
        if handler is None:
            raise FakeError(501, "not_implemented", f"fake_heroku does not implement {link.definition} {link.title} "
                                                    f"({link.method} {link.href}).")
        ctx = Context(link=link, params=params, body=body, headers=request.headers, docker=docker)
        with self.lock:
            if link.href.startswith("/apps/{"):
                ctx.app = self.app(params[0])
            status, value, headers = handler(ctx)
        return self.json(status, value, headers)

    def described_by(self, body, candidates: list, *, docker: bool, hint: bool) -> tuple[Link, list[str]]:
        """The first candidate link (with its path parameters) whose schema the body satisfies; else
        422 with the errors against the candidate that shares most properties with the body.
        `docker`: Accept has docker-releases, so `updates[].docker_image` is allowed beside what the
        schema describes; `hint`: say that docker_image needs that Accept."""
        checked = without_docker_images(body) if docker else body
        failures = []
        for candidate, params in candidates:
            errors = self.schema.body_errors(checked, candidate)
            if not errors:
                return candidate, params
            described = set(self.schema.lookup(candidate.pointer + "/schema").get("properties") or {})
            overlap = len(described & set(body)) if isinstance(body, dict) else 0
            failures.append((overlap, -len(failures), errors))
        errors = max(failures)[2]
        if hint and any("docker_image" in error for error in errors):
            errors.append(f"docker_image needs `Accept: {DOCKER_ACCEPT}`")
        raise FakeError(422, "invalid_params", "Invalid params: " + "; ".join(errors) + ".")

    # ---- test routes ----------------------------------------------------------------------------

    def test_routes(self) -> list:
        return [("GET", r"/__apps/([^/]+)/health", self.health),
                ("GET", r"/__streams/(builds|releases)/([^/]+)", self.stream)]

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
            return dict(super().state(), apps=apps, controls=self.control_view(), rate_limit_remaining=self.remaining,
                        slugs={i: dict(self.render_slug(s), app=s["app_name"], source_version=s["source_version"],
                                       build_id=s["build_id"]) for i, s in self.slugs.items()})

    def health(self, request, name: str) -> fakeserver.Answer:
        """200 ok while the app's current release runs nothing marked broken, else 503."""
        with self.lock:
            app = self.apps.get(name)
            current = app.current() if app else None
            if current is None:
                return fakeserver.text_answer(503, "no current release\n")
            slug = self.slugs.get(current["slug_id"]) if current["slug_id"] else None
            if slug and slug["source_version"] in self.broken_source_versions:
                return fakeserver.text_answer(503, f"broken: v{current['version']} runs source version "
                                                   f"{slug['source_version']}\n")
            broken = set(current["docker_images"].values()) & self.broken_docker_images
            if broken:
                return fakeserver.text_answer(503, f"broken: v{current['version']} runs {sorted(broken)[0]}\n")
            return fakeserver.text_answer(200, "ok")

    def stream(self, request, kind: str, ident: str) -> fakeserver.Answer:
        """The text behind a build's or release's output_stream_url."""
        with self.lock:
            for app in self.apps.values():
                for item in app.builds if kind == "builds" else app.releases:
                    if item["id"] != ident:
                        continue
                    if kind == "builds":
                        return fakeserver.text_answer(200, f"-----> Building source version "
                                                           f"{item['source_blob'].get('version')}\n"
                                                           f"-----> Build {item['status']}\n")
                    return fakeserver.text_answer(200, f"Running release command...\n"
                                                       f"Release v{item['version']} {item['status']}\n")
        return fakeserver.json_answer(404, {"error": f"no {kind} {ident}"})


def without_docker_images(body):
    """The body of a formation batch update less its `updates[].docker_image` (checked apart)."""
    if not isinstance(body, dict) or not isinstance(body.get("updates"), list):
        return body
    return dict(body, updates=[{key: value for key, value in update.items() if key != "docker_image"}
                               if isinstance(update, dict) else update for update in body["updates"]])


class Context:
    """What a handler gets: the link, its path parameters, the body, the headers, and the app."""

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
            raise FakeError(400, "bad_request", f"Invalid Range header {range_header!r}; ranges on this list: "
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
            raise FakeError(400, "bad_request", f"Invalid Range header {range_header!r}.")
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



def main(argv=None) -> int:
    parser = fakeserver.argument_parser("Fake Heroku Platform API v3 for tests.")
    parser.add_argument("--schema", required=True, help="path to the Platform API JSON hyper-schema")
    parser.add_argument("--token", default=DEFAULT_TOKEN, help="the accepted bearer token")
    parser.add_argument("--pending-polls", type=int, default=2, help="GETs a build or release stays pending")
    return fakeserver.serve(parser, argv, lambda args: HerokuFake(Schema(args.schema), token=args.token,
                                                                  pending_polls=args.pending_polls, verbose=args.verbose))


if __name__ == "__main__":
    sys.exit(main())
