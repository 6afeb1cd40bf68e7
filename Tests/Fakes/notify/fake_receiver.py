#!/usr/bin/env python3
"""Notification receivers for the tests of `release` (standard library only): any path takes a
webhook POST (JSON body, the way Slack's incoming webhooks and plain JSON receivers take it), and
POST /repos/{owner}/{repo}/issues answers as GitHub's REST API does ("Create an issue",
https://docs.github.com/en/rest/issues/issues#create-an-issue): bearer token required (401
"Bad credentials" otherwise), `title` required (422 "Validation Failed"), 201 with the issue.

Test routes need no credentials: GET /__state lists every request received (method, path,
headers, body); POST /__control {"fail": N, "status": S} makes the next N requests answer S.

    fake_receiver.py --port 0 --port-file FILE [--token TOKEN] [--max-seconds 300]
"""
from __future__ import annotations

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import fakeserver  # noqa: E402  (Tests/Fakes/fakeserver.py, shared by every fake)

ISSUES = re.compile(r"^/repos/([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+)/issues$")
DOCS = "https://docs.github.com/rest/issues/issues#create-an-issue"


class Receiver(fakeserver.Fake):
    """Everything received, and the failures still to answer."""

    name = "fake_receiver"

    def __init__(self, token: str, verbose: bool = False):
        self.token = token
        super().__init__(verbose)

    def reset(self) -> None:
        with self.lock:
            super().reset()
            self.failures = 0
            self.failure_status = 500
            self.issues = 0

    def control_keys(self) -> set[str]:
        return {"fail", "status"}

    def apply_controls(self, settings: dict) -> None:
        if "fail" in settings:
            self.failures = fakeserver.count("fail", settings["fail"])
        if "status" in settings:
            status = settings["status"]
            if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
                raise fakeserver.ControlError("status takes an HTTP status code")
            self.failure_status = status

    def control_view(self) -> dict:
        return {"fail": self.failures, "status": self.failure_status}

    def handle(self, request: fakeserver.Request) -> fakeserver.Answer:
        if request.method != "POST":
            return fakeserver.json_answer(404, {"message": "Not Found"})
        try:
            body = request.json()
        except ValueError:
            body = {"__unparsed": request.raw.decode("utf-8", "replace")}
        status, value = self.record("POST", request.target, dict(request.headers.items()), body)
        return fakeserver.json_answer(status, value)

    def record(self, method: str, path: str, headers: dict, body) -> tuple[int, dict]:
        """Logs one request, and answers it as the receiver it is addressed to would."""
        with self.lock:
            self.requests.append({"method": method, "path": path, "headers": headers, "body": body})
            if self.failures > 0:
                self.failures -= 1
                return self.failure_status, {"message": "failing on purpose"}
            match = ISSUES.match(path)
            if match is None:
                return 200, {"ok": True}
            if headers.get("Authorization") != f"Bearer {self.token}" and headers.get("Authorization") != f"token {self.token}":
                return 401, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}
            if not isinstance(body, dict) or not isinstance(body.get("title"), str) or not body["title"]:
                return 422, {"message": "Validation Failed", "errors": [{"resource": "Issue", "code": "missing_field", "field": "title"}],
                             "documentation_url": DOCS}
            if "labels" in body and not (isinstance(body["labels"], list) and all(isinstance(x, str) for x in body["labels"])):
                return 422, {"message": "Validation Failed", "errors": [{"resource": "Issue", "code": "invalid", "field": "labels"}],
                             "documentation_url": DOCS}
            self.issues += 1
            owner, repo = match.groups()
            number = self.issues
            return 201, {"id": 1000 + number, "number": number, "state": "open", "title": body["title"], "body": body.get("body"),
                         "labels": [{"name": name} for name in body.get("labels", [])],
                         "url": f"https://api.github.com/repos/{owner}/{repo}/issues/{number}",
                         "html_url": f"https://github.com/{owner}/{repo}/issues/{number}"}


def main(argv=None) -> int:
    parser = fakeserver.argument_parser("Webhook and GitHub issue receivers for tests.")
    parser.add_argument("--token", default="test-token", help="the GitHub token accepted")
    return fakeserver.serve(parser, argv, lambda args: Receiver(args.token, args.verbose))


if __name__ == "__main__":
    sys.exit(main())
