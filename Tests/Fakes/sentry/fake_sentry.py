#!/usr/bin/env python3
"""A fake Sentry web API (releases, deploys, a release's new issues and error events) for the
tests of `release`'s signals and deploy markers.

Every API request is checked against Sentry's OpenAPI 3.0.3 description, read at startup from
--spec (openapi-derefed.json; nothing is copied here) by ../openapi.py: what it does not describe
answers 400 (`{"detail": ...}`, or `{"field": ["..."]}` for a body). `Authorization: Bearer TOKEN`
or 401. The counts of new issues and error events per release are set by the tests
(POST /__control). See README.md beside this file.

    fake_sentry.py --spec FILE --port 0 --port-file FILE [--token TOKEN] [--max-seconds 300]
"""

from __future__ import annotations

import math
import os
import re
import sys
import time
import urllib.parse
from datetime import datetime, timezone

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import fakeserver  # noqa: E402  (Tests/Fakes/fakeserver.py, shared by every fake)
import openapi  # noqa: E402  (Tests/Fakes/openapi.py: requests checked against the description)
from fakeserver import FakeError  # noqa: E402

DEFAULT_TOKEN = "test-token"
RATE_LIMIT = 40  # requests per second, as Sentry's default for an endpoint
ORG = "/api/0/organizations/{organization_id_or_slug}"
PROJECT_ISSUES = "/api/0/projects/{organization_id_or_slug}/{project_id_or_slug}/issues/"
STATS_PERIOD = re.compile(r"(\d+)([smhdw])")
PERIOD_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# Sentry search: key:value, key:"quoted value"
SEARCH_TERM = re.compile(r'(!?[A-Za-z_.-]+):("(?:\\.|[^"\\])*"|\S+)')
BAD_VERSIONS = (".", "..", " ", "latest")
COUNT = "takes a non-negative integer, null or a non-empty list of them"


def iso(stamp: float) -> str:
    return datetime.fromtimestamp(stamp, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


def parse_iso(text: str) -> float:
    """Sentry's ISO 8601 (`2001-12-14T12:34:56.7890`, with or without a zone: UTC); ValueError otherwise."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()


def search_terms(query: str) -> dict[str, str]:
    """The `key:value` terms of a Sentry search query, quotes removed (the last of a key wins)."""
    terms = {}
    for key, value in SEARCH_TERM.findall(query or ""):
        terms[key] = value[1:-1].replace('\\"', '"') if value.startswith('"') else value
    return terms


def check_count(label: str, value) -> None:
    """A count a request can be answered: a non-negative integer, or null (no data)."""
    if not (value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 0)):
        raise fakeserver.ControlError(f"{label} {COUNT}")


def counts(control: str) -> fakeserver.ScriptedValues:
    """Counts per release version, each request of that release taking the next (the last repeats)."""
    return fakeserver.ScriptedValues(control, '{"release version": count or [counts, ...]}', check_count, empty=COUNT)


class SentryFake(fakeserver.PlatformFake):
    """Releases with their deploys, counts, controls and recorded requests, behind one lock."""

    name = "fake_sentry"
    rate_limit = RATE_LIMIT
    CONTROL_KEYS = ("new_issues", "errors")

    def __init__(self, description: openapi.Description, token: str = DEFAULT_TOKEN, verbose: bool = False):
        self.description = description
        self.token = token
        self.handlers = {
            "createOrganizationRelease": self.create_release, "getOrganizationRelease": self.get_release,
            "createOrganizationReleaseDeploy": self.create_deploy, "listOrganizationReleaseDeploys": self.list_deploys,
            "listOrganizationIssues": self.list_issues, "List a Project's Issues": self.list_issues,
            "listOrganizationEvents": self.list_events,
        }
        super().__init__(verbose)

    # ---- controls ------------------------------------------------------------------------------

    def reset(self) -> None:
        with self.lock:
            super().reset()
            self.releases: dict[tuple[str, str], dict] = {}
            self.new_issues = counts("new_issues")
            self.errors = counts("errors")
            self.sequence = 0

    def control_keys(self) -> set[str]:
        return super().control_keys() | set(self.CONTROL_KEYS)

    def control_view(self) -> dict:
        return dict(super().control_view(), new_issues=self.new_issues.view(), errors=self.errors.view(),
                    taken={"new_issues": self.new_issues.taken_view(), "errors": self.errors.taken_view()})

    def apply_controls(self, settings: dict) -> None:
        super().apply_controls(settings)
        for key in self.CONTROL_KEYS:
            if key in settings:
                getattr(self, key).apply(settings[key])

    def state(self) -> dict:
        with self.lock:
            releases = [{"organization": org, **self.render_release(release), "deploys": list(release["deploys"]),
                         "projectSlugs": list(release["projects"])} for (org, _), release in self.releases.items()]
            return dict(super().state(), controls=self.control_view(), releases=releases)

    # ---- the pipeline --------------------------------------------------------------------------

    def log_entry(self, request: fakeserver.Request) -> dict:
        return {"method": request.method, "path": request.path, "query": openapi.flat_query(request),
                "body": request.logged_body(), "operation": None, "headers": request.headers_without("Authorization"),
                "status": None}

    def refused(self, request: fakeserver.Request) -> None:
        given = request.header("Authorization")
        if not given:
            raise FakeError(401, "not_authenticated", "Authentication credentials were not provided.")
        if given != f"Bearer {self.token}":
            raise FakeError(401, "authentication_failed", "Invalid token")

    def error_value(self, request, error: FakeError):
        if error.code == "invalid_body":  # Django REST framework: {"field": ["message"]}
            field, _, message = error.message.partition(": ")
            required = re.fullmatch(r"'(.+)' is a required property", message)
            if field == "body":
                return {required.group(1): ["This field is required."]} if required else {"non_field_errors": [message]}
            return {re.split(r"[.\[]", field)[0]: [message]}
        return {"detail": error.message}

    def api_headers(self, request: fakeserver.Request) -> dict:
        return {"X-Sentry-Rate-Limit-Limit": str(self.rate_limit), "X-Sentry-Rate-Limit-Remaining": str(self.remaining),
                "X-Sentry-Rate-Limit-Reset": str(math.ceil(time.time()) + 1),
                "X-Sentry-Rate-Limit-ConcurrentLimit": "25", "X-Sentry-Rate-Limit-ConcurrentRemaining": "24"}

    def rate_limited(self) -> FakeError:
        return FakeError(429, "rate_limited", f"You are attempting to use this endpoint too frequently. Limit is "
                         f"{self.rate_limit} requests in 1 seconds",
                         {"Retry-After": self.faults.retry_after_header(), "X-Sentry-Rate-Limit-Remaining": "0",
                          "X-Sentry-Rate-Limit-Reset": str(math.ceil(time.time() + self.faults.retry_after))})

    def server_error(self) -> FakeError:
        return FakeError(500, "internal_error", "Internal Error")

    def api(self, request: fakeserver.Request) -> fakeserver.Answer:
        try:
            call = self.description.check(request)
        except openapi.Invalid as invalid:
            raise FakeError(400, "invalid_body" if invalid.where == "body" and invalid.name else "parse_error", invalid.message)
        with self.lock:
            request.log["operation"] = call.operation.id
        handler = self.handlers.get(call.operation.id)
        if handler is None:
            raise FakeError(501, "not_implemented", f"the fake does not model {call.operation.method} {call.operation.template}")
        status, value, headers = handler(call)
        return self.json(status, value, headers)

    # ---- releases and deploys ------------------------------------------------------------------

    def create_release(self, call: openapi.Call):
        org, body = call.path_params["organization_id_or_slug"], call.body
        version = body["version"]
        if version.strip() != version or version in BAD_VERSIONS or re.search(r"[\n\t\x0c\r/\\]", version):
            raise FakeError(400, "invalid_body", f"version: Release with name {version} is not allowed")
        with self.lock:
            existing = self.releases.get((org, version))
            if existing:
                return 208, self.render_release(existing), {}
            self.sequence += 1
            release = {"id": self.sequence, "version": version, "projects": list(body["projects"]), "ref": body.get("ref"),
                       "url": body.get("url"), "dateReleased": body.get("dateReleased"), "dateCreated": iso(time.time()),
                       "status": body.get("status") or "open", "deploys": []}
            self.releases[(org, version)] = release
            return 201, self.render_release(release), {}

    def release_or_404(self, call: openapi.Call) -> dict:
        release = self.releases.get((call.path_params["organization_id_or_slug"], call.path_params["version"]))
        if release is None:
            raise FakeError(404, "not_found", "The requested resource does not exist")
        return release

    def get_release(self, call: openapi.Call):
        with self.lock:
            return 200, self.render_release(self.release_or_404(call)), {}

    def create_deploy(self, call: openapi.Call):
        body = call.body
        with self.lock:
            release = self.release_or_404(call)
            self.sequence += 1
            deploy = {"id": str(self.sequence), "environment": body["environment"], "dateStarted": body.get("dateStarted"),
                      "dateFinished": body.get("dateFinished") or iso(time.time()), "name": body.get("name"),
                      "url": body.get("url")}
            release["deploys"].append({**deploy, "projects": list(body.get("projects") or release["projects"])})
            return 201, deploy, {}

    def list_deploys(self, call: openapi.Call):
        with self.lock:
            deploys = self.release_or_404(call)["deploys"]
            return 200, [{key: value for key, value in deploy.items() if key != "projects"} for deploy in reversed(deploys)], {}

    def render_release(self, release: dict) -> dict:
        version = release["version"]
        package, _, short = version.rpartition("@")
        deploys = release["deploys"]
        last = deploys[-1] if deploys else None
        projects = [{"id": 1000 + index, "slug": slug, "name": slug, "platform": None, "platforms": [], "hasHealthData": False,
                     "newGroups": 0} for index, slug in enumerate(release["projects"])]
        return {"id": release["id"], "version": version, "shortVersion": short, "status": release["status"],
                "ref": release["ref"], "url": release["url"], "dateReleased": release["dateReleased"],
                "dateCreated": release["dateCreated"], "dateStarted": None, "owner": None, "lastCommit": None,
                "lastDeploy": {"id": last["id"], "environment": last["environment"], "dateStarted": last["dateStarted"],
                               "dateFinished": last["dateFinished"], "name": last["name"] or "", "url": last["url"]}
                if last else None,
                "firstEvent": None, "lastEvent": None, "currentProjectMeta": {}, "userAgent": None, "adoptionStages": None,
                "newGroups": 0, "commitCount": 0, "deployCount": len(deploys), "authors": [], "data": {}, "projects": projects,
                "versionInfo": {"package": package or None, "version": {"raw": short}, "description": short, "buildHash": None}}

    # ---- counting ------------------------------------------------------------------------------

    def window(self, query: dict) -> tuple[float, float]:
        """The time span asked (statsPeriod, else start and end, else the last 14 days); 400 otherwise."""
        now = time.time()
        if "statsPeriod" in query:
            found = STATS_PERIOD.fullmatch(query["statsPeriod"])
            if not found:
                raise FakeError(400, "parse_error", f"Invalid statsPeriod: {query['statsPeriod']!r}")
            return now - int(found.group(1)) * PERIOD_SECONDS[found.group(2)], now
        if ("start" in query) != ("end" in query):
            raise FakeError(400, "parse_error", "start and end are both required")
        if "start" not in query:
            return now - 14 * 86400, now
        try:
            start, end = parse_iso(query["start"]), parse_iso(query["end"])
        except ValueError as error:
            raise FakeError(400, "parse_error", f"start and end must be ISO 8601 dates: {error}")
        if start > end:
            raise FakeError(400, "parse_error", "start must be before end")
        return start, end

    def list_issues(self, call: openapi.Call):
        """The issues first seen in the release the search names (`firstRelease:V`), as many as set."""
        query = call.query
        start, end = self.window(query)
        terms = search_terms(query.get("query", "is:unresolved"))
        version = terms.get("firstRelease", terms.get("first-release"))
        with self.lock:
            count = self.new_issues.take(version) or 0
        limit = min(query.get("limit", 100), 100)
        cursor = query.get("cursor", "0:0:0")
        found = re.fullmatch(r"\d+:(\d+):[01]", cursor)
        if not found:
            raise FakeError(400, "parse_error", f"Invalid cursor parameter: {cursor!r}")
        offset = int(found.group(1))
        level = terms.get("level", "error")
        project = call.path_params.get("project_id_or_slug") or "crm-api"
        issues = [self.issue(number, version, level, project, start, end) for number in range(offset, min(count, offset + limit))]
        return 200, issues, {"Link": self.links(call, offset, limit, count)}

    def issue(self, number: int, version: str, level: str, project: str, start: float, end: float) -> dict:
        seen = iso(start + (end - start) / 2)
        return {"id": str(5000 + number), "shortId": f"{project.upper()}-{number + 1}", "shareId": None,
                "title": f"Error {number + 1} first seen in {version}", "culprit": "app.views in handler", "logger": None,
                "level": level if level in ("sample", "debug", "info", "warning", "error", "fatal") else "error",
                "status": "unresolved", "substatus": "new", "statusDetails": {}, "isPublic": False, "platform": "python",
                "priority": "high", "priorityLockedAt": None, "project": {"id": "1000", "name": project, "slug": project,
                                                                           "platform": "python"},
                "type": "error", "issueType": "error", "issueCategory": "error", "metadata": {"title": f"Error {number + 1}"},
                "numComments": 0, "assignedTo": None, "isBookmarked": False, "isSubscribed": False, "subscriptionDetails": None,
                "hasSeen": False, "annotations": [], "isUnhandled": False, "count": "1", "userCount": 1, "firstSeen": seen,
                "lastSeen": seen, "stats": {}, "lifetime": {}, "filtered": None, "inbox": {"reason": 0, "reason_details": None,
                                                                                        "date_added": seen},
                "owners": {"type": "user", "owner": "1", "date_added": seen}, "permalink": f"{self.base_url}/issues/{5000 + number}/",
                "integrationIssues": [], "sentryAppIssues": [], "latestEventHasAttachments": False, "sessionCount": 0,
                "matchingEventId": None, "matchingEventEnvironment": None, "seerFixabilityScore": None,
                "seerAutofixLastTriggered": None, "seerExplorerAutofixLastTriggered": None,
                "derivedData": {"blocker": "none", "progress": "none", "status": "open", "viewCount": 0, "hasOpenFixPr": False,
                                "isAssigned": False, "hasRootCause": False, "lastCompletedAutofixStep": "none",
                                "lastProgressedAt": None}}

    def links(self, call: openapi.Call, offset: int, limit: int, count: int) -> str:
        """Sentry's Link header: previous and next cursors, `results` saying whether there are any."""
        path = call.operation.template.replace("{organization_id_or_slug}", call.path_params["organization_id_or_slug"])
        path = path.replace("{project_id_or_slug}", call.path_params.get("project_id_or_slug", ""))
        query = {key: value for key, value in call.query.items() if key != "cursor"}

        def link(rel: str, cursor: str, results: bool) -> str:
            target = f"{self.base_url}{path}?{urllib.parse.urlencode({**query, 'cursor': cursor}, doseq=True)}"
            return f'<{target}>; rel="{rel}"; results="{str(results).lower()}"; cursor="{cursor}"'

        previous = f"0:{max(0, offset - limit)}:1"
        return ", ".join([link("previous", previous, offset > 0), link("next", f"0:{offset + limit}:0", offset + limit < count)])

    def list_events(self, call: openapi.Call):
        """count() of the error events of the release the search names (`release:V`) in the span asked."""
        query = call.query
        self.window(query)
        unsupported = [field for field in query["field"] if field != "count()"]
        if unsupported:
            raise FakeError(501, "not_implemented", f"the fake answers the field count() only, not {unsupported}")
        version = search_terms(query.get("query", "")).get("release")
        with self.lock:
            count = self.errors.take(version) if query["dataset"] == "errors" else None
        data = [] if count is None else [{"count()": count}]
        return 200, {"data": data, "meta": {"fields": {"count()": "integer"}, "units": {"count()": None},
                                            "dataset": query["dataset"], "isMetricsData": False}}, {}


def main(argv=None) -> int:
    parser = fakeserver.argument_parser("Fake Sentry web API (releases, deploys, issues, events) for tests.")
    parser.add_argument("--spec", required=True, help="Sentry's openapi-derefed.json")
    parser.add_argument("--token", default=DEFAULT_TOKEN, help="the bearer token accepted")
    return fakeserver.serve(parser, argv, lambda args: SentryFake(openapi.Description(args.spec), args.token, args.verbose))


if __name__ == "__main__":
    sys.exit(main())
