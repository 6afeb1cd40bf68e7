#!/usr/bin/env python3
"""The demo app: a tiny HTTP service standing in for the team's Django API.

It serves whatever build the `current` symlink in its root points at. A build is a folder with a
VERSION file and a HEALTH file ("ok", or anything else to make /health fail), which is how the
demo ships a release whose health check fails.

    app.py --port 8001 --root .demo/develop
"""
import argparse
import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def read(root, name, default):
    try:
        with open(os.path.join(root, "current", name)) as handle:
            return handle.read().strip()
    except OSError:
        return default


class Handler(BaseHTTPRequestHandler):
    root = "."

    def do_GET(self):
        version = read(self.root, "VERSION", "none")
        if self.path.startswith("/health"):
            healthy = read(self.root, "HEALTH", "missing") == "ok"
            status, body = (200, f"ok {version}\n") if healthy else (503, f"unhealthy {version}: database migrations failed\n")
            self.respond(status, body, "text/plain")
        elif self.path == "/":
            self.respond(200, json.dumps({"app": "crm-api", "version": version}) + "\n", "application/json")
        else:
            self.respond(404, "not found\n", "text/plain")

    def respond(self, status, body, content_type):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--root", required=True)
    parser.add_argument("--port-file", help="write the bound port here (use --port 0 for any free port)")
    args = parser.parse_args()
    Handler.root = args.root
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
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
