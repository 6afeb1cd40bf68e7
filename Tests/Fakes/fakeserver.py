"""What every fake platform API in Tests/Fakes shares: the common command line, a lifetime that
ends by itself, the port file written atomically, and serving until stopped."""
import argparse
import os
import signal
import sys
import threading


def argument_parser(description: str) -> argparse.ArgumentParser:
    """A parser with the options every fake takes; each fake adds its own."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--port", type=int, default=0, help="port to bind on 127.0.0.1 (0: any free one)")
    parser.add_argument("--port-file", help="where to write the bound port (atomically)")
    parser.add_argument("--max-seconds", type=float, default=300, help="exit by itself after this long (0: never)")
    parser.add_argument("--verbose", action="store_true", help="log requests to stderr")
    parser.add_argument("--self-test", action="store_true", help="run the built-in checks and exit")
    return parser


def limit_lifetime(max_seconds: float, exit_code: int = 0) -> None:
    """Stops the process after `max_seconds`, so a test that dies leaves nothing running; and makes
    SIGTERM stop it even when the parent left that signal ignored (ignored signals survive exec)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if max_seconds and max_seconds > 0:
        timer = threading.Timer(max_seconds, os._exit, args=(exit_code,))
        timer.daemon = True
        timer.start()


def write_port_file(path: str, port: int) -> None:
    """Writes the port so that a reader never sees a half-written file."""
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(f"{port}\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def serve(server, name: str, port_file: str) -> int:
    """Announces the bound port and serves until stopped."""
    port = server.server_address[1]
    write_port_file(port_file, port)
    sys.stderr.write(f"{name}: listening on 127.0.0.1:{port}\n")
    sys.stderr.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


def write_response(handler, status: int, body: bytes, content_type: str, headers: dict | None = None) -> None:
    """Sends a complete answer; a client that hung up is not an error for the fake."""
    try:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            handler.send_header(name, str(value))
        handler.end_headers()
        handler.wfile.write(body)
        handler.wfile.flush()
    except (BrokenPipeError, ConnectionResetError):
        handler.close_connection = True
