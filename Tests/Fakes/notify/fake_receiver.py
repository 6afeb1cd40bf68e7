#!/usr/bin/env python3
"""Notification receivers for the tests of `release` (standard library only): any path takes a
webhook POST (JSON body, the way Slack's incoming webhooks and plain JSON receivers take it), and
POST /repos/{owner}/{repo}/issues answers as GitHub's REST API does ("Create an issue",
https://docs.github.com/en/rest/issues/issues#create-an-issue): bearer token required (401
"Bad credentials" otherwise), `title` required (422 "Validation Failed"), 201 with the issue.

Test controls need no credentials: GET /__state lists every request received (method, path,
headers, body); POST /__control {"fail": N, "status": S} makes the next N requests answer S.

    fake_receiver.py --port 0 --port-file FILE [--token TOKEN] [--max-seconds 300]
    fake_receiver.py --self-test
"""
from __future__ import annotations

import json
import os
import re
import sys
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import fakeserver  # noqa: E402

ISSUES = re.compile(r"^/repos/([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+)/issues$")
DOCS = "https://docs.github.com/rest/issues/issues#create-an-issue"


class Receiver:
    """Everything received, and the failures still to answer."""

    def __init__(self, token: str):
        self.token = token
        self.lock = threading.Lock()
        self.requests: list[dict] = []
        self.failures = 0
        self.failure_status = 500
        self.issues = 0

    def record(self, method: str, path: str, headers: dict, body) -> tuple[int, dict]:
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


def make_server(receiver: Receiver, port: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def body(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                return json.loads(raw) if raw else None
            except ValueError:
                return {"__unparsed": raw.decode("utf-8", "replace")}

        def answer(self, status: int, value) -> None:
            fakeserver.write_response(self, status, json.dumps(value).encode(), "application/json")

        def do_GET(self):
            if self.path == "/__state":
                with receiver.lock:
                    self.answer(200, {"requests": receiver.requests})
                return
            self.answer(404, {"message": "Not Found"})

        def do_POST(self):
            body = self.body()
            if self.path == "/__control":
                with receiver.lock:
                    receiver.failures = int(body.get("fail", 0))
                    receiver.failure_status = int(body.get("status", 500))
                self.answer(200, {"ok": True})
                return
            status, value = receiver.record("POST", self.path, dict(self.headers.items()), body)
            self.answer(status, value)

    return ThreadingHTTPServer(("127.0.0.1", port), Handler)


def self_test() -> int:
    receiver = Receiver("tok")
    server = make_server(receiver, 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"

    def post(path, value, headers=None):
        request = urllib.request.Request(base + path, data=json.dumps(value).encode(), method="POST",
                                         headers={"Content-Type": "application/json", **(headers or {})})
        try:
            with urllib.request.urlopen(request) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    assert post("/hook", {"text": "hi"})[0] == 200
    assert post("/repos/acme/crm-api/issues", {"title": "x"})[0] == 401
    assert post("/repos/acme/crm-api/issues", {"body": "x"}, {"Authorization": "Bearer tok"})[0] == 422
    status, issue = post("/repos/acme/crm-api/issues", {"title": "x", "labels": ["release"]}, {"Authorization": "Bearer tok"})
    assert status == 201 and issue["number"] == 1 and issue["html_url"].endswith("/acme/crm-api/issues/1"), issue
    post("/__control", {"fail": 2, "status": 503})
    assert post("/hook", {})[0] == 503 and post("/hook", {})[0] == 503 and post("/hook", {})[0] == 200
    server.shutdown()
    print("fake_receiver self-test: ok")
    return 0


def main(argv=None) -> int:
    parser = fakeserver.argument_parser("Webhook and GitHub issue receivers for tests.")
    parser.add_argument("--token", default="test-token", help="the GitHub token accepted")
    args = parser.parse_args(argv)
    fakeserver.limit_lifetime(args.max_seconds)
    if args.self_test:
        return self_test()
    if not args.port_file:
        parser.error("--port-file is required (unless --self-test)")
    return fakeserver.serve(make_server(Receiver(args.token), args.port), "fake_receiver", args.port_file)


if __name__ == "__main__":
    sys.exit(main())
