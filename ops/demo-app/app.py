#!/usr/bin/env python3
"""The demo app: a tiny HTTP service standing in for the team's Django API.

It serves whatever build the `current` symlink in its root points at. A build is a folder with a
VERSION file and a HEALTH file: "ok"; "broken" (unhealthy everywhere); or "broken-on=main" (healthy
on develop, unhealthy on main, like a release that needs a setting production lacks). That is how
the demo ships a release whose health check fails.

It also answers its own metrics the way Prometheus's HTTP API does (`/api/v1/query`, an instant
vector): a query naming `version="X"` gets the share of X's requests that fail, from the build's
ERRORS file (default 0.002), while X is the version served, and no data otherwise. That is how the
demo ships a release whose /health passes while its requests fail, for `verify:` signals to catch.

    app.py --port 8001 --root .demo/develop --env develop [--max-seconds 600]

It stops by itself after --max-seconds, so a test or demo that dies leaves nothing running.
"""
import argparse
import json
import os
import re
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


def read(root, name, default):
    try:
        with open(os.path.join(root, "current", name)) as handle:
            return handle.read().strip()
    except OSError:
        return default


class Handler(BaseHTTPRequestHandler):
    root = "."
    env = ""

    def do_GET(self):
        version = read(self.root, "VERSION", "none")
        if self.path.startswith("/health"):
            health = read(self.root, "HEALTH", "missing")
            healthy = health == "ok" or (health.startswith("broken-on=") and health != f"broken-on={self.env}")
            if healthy:
                status, body = 200, f"ok {version}\n"
            else:
                status, body = 503, f"unhealthy {version}: CRM_SEARCH_URL is not set on {self.env or 'this host'}\n"
            self.respond(status, body, "text/plain")
        elif self.path == "/":
            self.respond(200, json.dumps({"app": "crm-api", "version": version}) + "\n", "application/json")
        elif urlsplit(self.path).path == "/api/v1/query":
            self.query(parse_qs(urlsplit(self.path).query))
        else:
            self.respond(404, "not found\n", "text/plain")

    def do_POST(self):
        if urlsplit(self.path).path != "/api/v1/query":
            self.respond(404, "not found\n", "text/plain")
            return
        length = int(self.headers.get("Content-Length") or 0)
        self.query(parse_qs(self.rfile.read(length).decode()))

    def query(self, parameters):
        """Prometheus's instant query, for the error ratio of the version the query names."""
        text = (parameters.get("query") or [""])[0]
        if not text:
            body = {"status": "error", "errorType": "bad_data", "error": "query is required"}
            self.respond(400, json.dumps(body), "application/json")
            return
        served = read(self.root, "VERSION", "none")
        named = re.search(r'version="([^"]+)"', text)
        result = []
        if named and named.group(1) == served:
            at = float((parameters.get("time") or [time.time()])[0])
            result = [{"metric": {"version": served}, "value": [at, read(self.root, "ERRORS", "0.002")]}]
        body = {"status": "success", "data": {"resultType": "vector", "result": result}}
        self.respond(200, json.dumps(body), "application/json")

    def respond(self, status, body, content_type):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A client that hung up (a probe whose `release` run was killed) is not worth a traceback.
        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            super().handle_error(request, client_address)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--root", required=True)
    parser.add_argument("--env", default="")
    parser.add_argument("--port-file", help="write the bound port here (use --port 0 for any free port)")
    parser.add_argument("--max-seconds", type=float, default=1800)
    args = parser.parse_args()
    # A parent may have left SIGTERM ignored (ignored signals survive exec): make it stop us.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    Handler.root = args.root
    Handler.env = args.env
    stopper = threading.Timer(args.max_seconds, lambda: os._exit(0))
    stopper.daemon = True
    stopper.start()
    server = Server(("127.0.0.1", args.port), Handler)
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as handle:
            handle.write(str(server.server_address[1]))
        os.replace(args.port_file + ".tmp", args.port_file)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
