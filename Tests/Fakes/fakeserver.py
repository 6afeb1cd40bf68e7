"""The scaffold every fake in Tests/Fakes stands on.

A fake is a `Fake` (or, for a platform API, a `PlatformFake`): its state behind one lock, the
requests it received, and the test routes every fake answers the same way, without credentials:

- `GET /__state`: everything the fake holds, and the requests it received (`Fake.state`).
- `POST /__control {...}`: changes test settings, several at once (`reset: true` first); unknown
  keys answer 400 `{"error": "..."}` and change nothing, and so does a value of the wrong kind
  (the settings before it stay applied).
- `GET /__control`: the settings now. Both answer `{"controls": {...}}`.
- any other `/__...` route a fake declares (`Fake.test_routes`), e.g. a health URL for the app
  the platform runs; an unknown one answers 404 `{"error": "..."}`.

Every other path is the platform's API (`Fake.handle`). A `PlatformFake` runs each API request
through one pipeline: log it, refuse what is refused before any fault, apply the scripted faults
(`Faults`: hang, then the first of rate limit, server error, malformed answer), answer, and record
the status. Its error answers all come from one `FakeError`, shaped as the platform shapes them.

Values a test scripts for the answers to come (a signal fake's query values or counts) are a
`ScriptedValues`: a table set by one control, each request taking the next value of its key.

The command line (`argument_parser`, then `serve`): --port (0: any), --port-file (written atomically),
--max-seconds (the process ends by itself), --verbose (requests logged to stderr). Servers bind
127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
import threading
import time
import traceback
import urllib.parse
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

JSON = "application/json"
JSON_UTF8 = "application/json; charset=utf-8"
TEXT = "text/plain; charset=utf-8"


# --------------------------------------------------------------------------------------------
# Requests and answers.
# --------------------------------------------------------------------------------------------

@dataclass
class Request:
    """One HTTP request as a fake sees it."""

    method: str
    target: str  # the path with its query, as sent
    headers: object  # http.client.HTTPMessage: case-insensitive get()
    raw: bytes
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log: dict = field(default_factory=dict)  # its entry in the request log, once it has one

    @property
    def path(self) -> str:
        return urllib.parse.urlsplit(self.target).path

    @property
    def query(self) -> dict[str, list[str]]:
        return urllib.parse.parse_qs(urllib.parse.urlsplit(self.target).query)

    def header(self, name: str) -> str:
        return self.headers.get(name) or ""

    def json(self):
        """The body parsed as JSON (None when empty); ValueError when it is not JSON."""
        text = self.raw.decode("utf-8", "replace").strip()
        return json.loads(text) if text else None

    def logged_body(self):
        """The body for the request log: its JSON, else its text, else None."""
        try:
            return self.json()
        except ValueError:
            return self.raw.decode("utf-8", "replace")

    def headers_without(self, *names: str) -> dict:
        """The headers as sent, less those named (compared without case): for the request log."""
        hidden = {name.lower() for name in names}
        return {name: value for name, value in self.headers.items() if name.lower() not in hidden}


@dataclass
class Answer:
    """A complete HTTP answer."""

    status: int
    body: bytes
    content_type: str = JSON
    headers: dict = field(default_factory=dict)


def json_answer(status: int, value, headers: dict | None = None, *, content_type: str = JSON,
                indent: int | None = None) -> Answer:
    text = json.dumps(value, indent=indent, default=str) + "\n"
    return Answer(status, text.encode(), content_type, dict(headers or {}))


def text_answer(status: int, text: str, headers: dict | None = None) -> Answer:
    return Answer(status, text.encode(), TEXT, dict(headers or {}))


class FakeError(Exception):
    """Ends an API request with an error: the fake's `error_value` shapes the body as its platform
    does, from a status, the platform's error code and a message."""

    def __init__(self, status: int, code: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, dict(headers or {})


class ControlError(ValueError):
    """A test setting refused: 400 {"error": message}."""


# --------------------------------------------------------------------------------------------
# Test settings.
# --------------------------------------------------------------------------------------------

def count(key: str, value) -> int:
    """A counter setting: true (1), false (0) or a non-negative integer."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int) and value >= 0:
        return value
    raise ControlError(f"{key} takes true, false or a non-negative integer")


def seconds(key: str, value) -> float:
    """A duration setting: a non-negative number of seconds."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ControlError(f"{key} takes a non-negative number of seconds")
    return value


def flag(key: str, value) -> bool:
    if not isinstance(value, bool):
        raise ControlError(f"{key} takes true or false")
    return value


def text(key: str, value) -> str:
    if not isinstance(value, str):
        raise ControlError(f"{key} takes a string")
    return value


def known(key: str, value) -> set[str] | None:
    """The names a fake knows (others are not found): a list of names, or null for any name."""
    return None if value is None else set(strings(key, value))


def strings(key: str, value, *, null: bool = False) -> list[str]:
    """A string or a list of strings (null: an empty list, where `null` allows it)."""
    if value is None and null:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    raise ControlError(f"{key} takes a string or a list of strings" + (" or null" if null else ""))


def failure_status(key: str, value) -> int | None:
    """An HTTP error status (400-599), or null/false for none."""
    if value is None or value is False:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and 400 <= value <= 599:
        return value
    raise ControlError(f"{key} takes an HTTP status from 400 to 599, or null or false")


class Faults:
    """The faults a test scripts for the next API requests, the same for every platform: the next
    `hang_next` requests sleep `hang_seconds` first; then the first of `rate_limit_next` (answered
    429 with Retry-After: `retry_after`, not processed), `error_next` (500, not processed) and
    `malformed_next` (processed, then answered with a body that is not JSON) takes the request.
    `fail_all` (a status) fails every request, not processed, until cleared (null): 429 as
    `rate_limit_next` does, 500 as `error_next` does; the one-shot faults wait meanwhile."""

    KEYS = ("rate_limit_next", "retry_after", "error_next", "malformed_next", "hang_next", "hang_seconds", "fail_all")
    ORDER = ("rate_limit", "error", "malformed")

    def __init__(self, hang_seconds: float):
        self.next = {"rate_limit": 0, "error": 0, "malformed": 0, "hang": 0}
        self.retry_after: float = 1
        self.hang_seconds = hang_seconds
        self.fail_all: int | None = None

    def apply(self, settings: dict) -> None:
        for name in self.next:
            if f"{name}_next" in settings:
                self.next[name] = count(f"{name}_next", settings[f"{name}_next"])
        for key in ("retry_after", "hang_seconds"):
            if key in settings:
                setattr(self, key, seconds(key, settings[key]))
        if "fail_all" in settings:
            self.fail_all = failure_status("fail_all", settings["fail_all"])

    def view(self) -> dict:
        return {**{f"{name}_next": left for name, left in self.next.items()},
                "retry_after": self.retry_after, "hang_seconds": self.hang_seconds, "fail_all": self.fail_all}

    def draw(self) -> tuple[float, str | None]:
        """For one request: how long to hang, and which fault takes it (None: none)."""
        hang = self.hang_seconds if self._take("hang") else 0
        if self.fail_all:
            return hang, "fail_all"
        return hang, next((name for name in self.ORDER if self._take(name)), None)

    def retry_after_header(self) -> str:
        value = self.retry_after
        return str(int(value)) if float(value).is_integer() else str(value)

    def _take(self, name: str) -> bool:
        if self.next[name] > 0:
            self.next[name] -= 1
            return True
        return False


class ScriptedValues:
    """The values a test scripts for the answers to come, one control setting a table
    {key: value or [values]}: each request takes the next value of its key, the last repeating,
    and `taken` counts them per key (GET /__control shows it, so a test sees what was asked).
    Prometheus and Datadog key it by substrings of a query, Sentry by release version.

    `check(label, value)` raises ControlError for a value the fake cannot answer with; `usage`
    says what the control takes, `empty` what is wrong with an empty list. Not locked: the fake's
    lock guards it, as it guards the rest of the fake's state."""

    def __init__(self, control: str, usage: str, check, *, empty: str = "is an empty list"):
        self.control, self.usage, self.check, self.empty = control, usage, check, empty
        self.table: dict[str, list] = {}
        self.taken: dict[str, int] = {}

    @classmethod
    def of_queries(cls, check) -> ScriptedValues:
        """The `values` control of a metrics fake, keyed by substrings of a query (`take_contained`)."""
        return cls("values", '{"substring of a query": value or [values, ...]}', check)

    def apply(self, given) -> None:
        """Replaces the table with the control's value; ControlError, the table unchanged, for one
        that is not {key: value or [values]} or holds a value `check` refuses."""
        if not isinstance(given, dict):
            raise ControlError(f"{self.control} takes {self.usage}")
        table = {}
        for key, value in given.items():
            label = f"{self.control}[{key!r}]"
            listed = value if isinstance(value, list) else [value]
            if not listed:
                raise ControlError(f"{label} {self.empty}")
            for item in listed:
                self.check(label, item)
            table[key] = listed
        self.table, self.taken = table, {key: 0 for key in table}

    def take(self, key: str | None):
        """The next value of the key (the last repeats); None (no data) for a key not set."""
        if key not in self.table:
            return None
        listed = self.table[key]
        value = listed[min(self.taken[key], len(listed) - 1)]
        self.taken[key] += 1
        return value

    def take_contained(self, text: str):
        """The next value of the first key (in the order set) the text contains; None: none does."""
        return self.take(next((key for key in self.table if key in text), None))

    def view(self) -> dict:
        return dict(self.table)

    def taken_view(self) -> dict:
        return dict(self.taken)


# --------------------------------------------------------------------------------------------
# Fakes.
# --------------------------------------------------------------------------------------------

class Fake:
    """A fake's state behind one lock, its request log, and its test routes. A subclass extends
    `reset`, `control_keys`, `apply_controls`, `control_view`, `state`, `test_routes`, `handle`."""

    name = "fake"

    def __init__(self, verbose: bool = False):
        self.verbose = verbose
        self.lock = threading.RLock()
        self.base_url = "http://127.0.0.1:0"
        self.reset()

    # ---- what a fake fills in ------------------------------------------------------------------

    def reset(self) -> None:
        """Back to the state the fake started with (POST /__control {"reset": true})."""
        with self.lock:
            self.requests: list[dict] = []

    def control_keys(self) -> set[str]:
        return set()

    def apply_controls(self, settings: dict) -> None:
        """Applies the settings (known keys only; `reset` is done already), under the lock."""

    def control_view(self) -> dict:
        return {}

    def state(self) -> dict:
        with self.lock:
            return {"requests": json.loads(json.dumps(self.requests, default=str))}

    def test_routes(self) -> list[tuple[str, str, object]]:
        """Extra test routes: (method, path regex, function(request, *groups) -> Answer)."""
        return []

    def handle(self, request: Request) -> Answer:
        """The platform's API."""
        return json_answer(404, {"error": f"{self.name} has no route {request.method} {request.path}"})

    # ---- the test routes -----------------------------------------------------------------------

    def test_route(self, request: Request) -> Answer:
        routes = [("GET", r"/__state", lambda _: json_answer(200, self.state(), indent=1)),
                  ("GET", r"/__control", lambda _: self.controls_answer()),
                  ("POST", r"/__control", self.control)] + self.test_routes()
        for method, pattern, answer in routes:
            found = re.fullmatch(pattern, request.path)
            if found and method == request.method:
                return answer(request, *(urllib.parse.unquote(group) for group in found.groups()))
        return json_answer(404, {"error": f"{self.name} has no test route {request.method} {request.path}"})

    def control(self, request: Request) -> Answer:
        try:
            settings = request.json()
        except ValueError:
            settings = None
        settings = {} if settings is None and not request.raw.strip() else settings
        if not isinstance(settings, dict):
            return json_answer(400, {"error": "POST /__control takes a JSON object"})
        known = self.control_keys() | {"reset"}
        unknown = sorted(set(settings) - known)
        if unknown:
            return json_answer(400, {"error": f"unknown control keys {unknown}; known: {sorted(known)}"})
        try:
            with self.lock:
                if settings.get("reset"):
                    self.reset()
                self.apply_controls({key: value for key, value in settings.items() if key != "reset"})
        except ControlError as error:
            return json_answer(400, {"error": str(error)})
        return self.controls_answer()

    def controls_answer(self) -> Answer:
        with self.lock:
            return json_answer(200, {"controls": self.control_view()})


class PlatformFake(Fake):
    """A fake platform API: every API request goes through one pipeline (see `handle`), with the
    scripted faults and the platform's rate-limit budget. A subclass fills in `api`, and where its
    platform differs, `unrouted`, `log_entry`, `refused`, `error_value`, `api_headers`,
    `rate_limited`, `server_error` and `garbled`."""

    rate_limit = 1000
    hang_seconds = 5.0
    content_type = JSON
    malformed_body = b"<html><body><h1>502 Bad Gateway</h1> the upstream answer was cut {\"id\": "

    def reset(self) -> None:
        with self.lock:
            super().reset()
            self.faults = Faults(self.hang_seconds)
            self.remaining = self.rate_limit

    def control_keys(self) -> set[str]:
        return set(Faults.KEYS)

    def apply_controls(self, settings: dict) -> None:
        self.faults.apply(settings)

    def control_view(self) -> dict:
        return self.faults.view()

    def json(self, status: int, value, headers: dict | None = None) -> Answer:
        """A JSON answer with the platform's Content-Type."""
        return json_answer(status, value, headers, content_type=self.content_type)

    # ---- what a platform fills in --------------------------------------------------------------

    def unrouted(self, request: Request) -> Answer | None:
        """An answer for a request that is not an API request at all (not logged, no faults)."""
        return None

    def log_entry(self, request: Request) -> dict:
        """What the request log keeps of a request (never its credentials)."""
        return {"method": request.method, "path": request.target, "headers": request.headers_without("Authorization"),
                "body": request.logged_body(), "status": None}

    def refused(self, request: Request) -> None:
        """Raises FakeError for what the platform refuses before any scripted fault."""

    def api(self, request: Request) -> Answer:
        """The platform's answer; raises FakeError for its error answers."""
        raise FakeError(404, "not_found", f"no route {request.method} {request.path}")

    def error_value(self, request: Request, error: FakeError):
        """The body of an error answer, shaped as the platform shapes it."""
        return {"id": error.code, "message": error.message}

    def api_headers(self, request: Request) -> dict:
        """Headers on every API answer (request id, rate limit)."""
        return {}

    def rate_limited(self) -> FakeError:
        """The answer to `rate_limit_next`."""
        return FakeError(429, "rate_limit", "Rate limit exceeded.", {"Retry-After": self.faults.retry_after_header()})

    def server_error(self) -> FakeError:
        """The answer to `error_next`."""
        return FakeError(500, "internal_server_error", "Internal server error.")

    def failing(self, status: int) -> FakeError:
        """The answer to `fail_all`: the platform's own for 429 and 500, else the status."""
        if status == 429:
            return self.rate_limited()
        if status == 500:
            return self.server_error()
        return FakeError(status, "failing", f"every request fails with {status} (fail_all)")

    def garbled(self, answer: Answer) -> Answer:
        """The answer `malformed_next` sends instead: 200 with a body that is not JSON."""
        return Answer(200, self.malformed_body, answer.content_type, answer.headers)

    # ---- the pipeline --------------------------------------------------------------------------

    def handle(self, request: Request) -> Answer:
        """One API request: logged, refused or else taken by a scripted fault or answered by `api`,
        and its status recorded in the log."""
        early = self.unrouted(request)
        if early is not None:
            return early
        entry = request.log = self.log_entry(request)
        with self.lock:
            self.requests.append(entry)
            self.remaining = max(0, self.remaining - 1)
            headers = self.api_headers(request)
        fault = None
        try:
            self.refused(request)
            with self.lock:
                hang, fault = self.faults.draw()
                rate_limited = self.rate_limited() if fault == "rate_limit" else None
                failing = self.failing(self.faults.fail_all) if fault == "fail_all" else None
            if hang:
                time.sleep(hang)
            if rate_limited or failing:
                raise rate_limited or failing
            if fault == "error":
                raise self.server_error()
            answer = self.api(request)
        except FakeError as error:
            answer = self.json(error.status, self.error_value(request, error), error.headers)
        except Exception as error:  # a bug in the fake: say so rather than leave the client hanging
            traceback.print_exc()
            bug = FakeError(500, f"{self.name}_bug", f"{self.name} failed: {type(error).__name__}: {error}")
            answer = self.json(500, self.error_value(request, bug))
        garbled = self.garbled(answer) if fault == "malformed" else answer
        with self.lock:  # the log may be read (GET /__state) meanwhile
            entry["status"] = garbled.status
            if garbled is not answer:
                entry["malformed"] = True
        garbled.headers = {**headers, **garbled.headers}
        return garbled


# --------------------------------------------------------------------------------------------
# HTTP.
# --------------------------------------------------------------------------------------------

class Handler(BaseHTTPRequestHandler):
    """Reads a request (Content-Length or chunked), hands it to the fake, writes the answer."""

    protocol_version = "HTTP/1.1"
    fake: Fake  # set on the subclass made by make_server

    def log_message(self, fmt, *args):
        if self.fake.verbose:
            sys.stderr.write(f"{self.fake.name}: " + (fmt % args) + "\n")

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

    def dispatch(self):
        request = Request(self.command, self.path, self.headers, self.read_body())
        try:
            if request.path.startswith("/__"):
                answer = self.fake.test_route(request)
            else:
                answer = self.fake.handle(request)
        except Exception as error:  # a bug in the fake
            traceback.print_exc()
            answer = json_answer(500, {"error": f"{self.fake.name} failed: {type(error).__name__}: {error}"})
        self.write(answer)

    def write(self, answer: Answer) -> None:
        """Sends a complete answer; a client that hung up is not an error for the fake."""
        try:
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(len(answer.body)))
            for name, value in answer.headers.items():
                self.send_header(name, str(value))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(answer.body)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = dispatch


class Server(ThreadingHTTPServer):
    request_queue_size = 64
    daemon_threads = True


def make_server(fake: Fake, port: int = 0) -> Server:
    """A server for the fake on 127.0.0.1 (port 0: any free one); not serving yet."""
    handler = type(f"{type(fake).__name__}Handler", (Handler,), {"fake": fake, "server_version": f"{fake.name}/1"})
    server = Server(("127.0.0.1", port), handler)
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    return server


# --------------------------------------------------------------------------------------------
# The process.
# --------------------------------------------------------------------------------------------

def argument_parser(description: str, *, port_file: bool = True) -> argparse.ArgumentParser:
    """A parser with the options every fake takes; each fake adds its own."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--port", type=int, default=0, help="port to bind on 127.0.0.1 (0: any free one)")
    if port_file:
        parser.add_argument("--port-file", required=True, help="where to write the bound port (atomically)")
    parser.add_argument("--max-seconds", type=float, default=300, help="exit by itself after this long (0: never)")
    parser.add_argument("--verbose", action="store_true", help="log requests to stderr")
    return parser


def limit_lifetime(max_seconds: float, exit_code: int = 0) -> None:
    """Stops the process after `max_seconds`, so a test that dies leaves nothing running; and makes
    SIGTERM stop it even when the parent left that signal ignored (ignored signals survive exec)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if max_seconds and max_seconds > 0:
        timer = threading.Timer(max_seconds, os._exit, args=(exit_code,))
        timer.daemon = True
        timer.start()


def write_atomically(path: str, text: str) -> None:
    """Writes a file so that a reader never sees it half-written."""
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def run(fake: Fake, port: int, port_file: str) -> int:
    """Serves the fake on 127.0.0.1:port, announcing the bound port in `port_file`, until stopped."""
    server = make_server(fake, port)
    bound = server.server_address[1]
    write_atomically(port_file, f"{bound}\n")
    sys.stderr.write(f"{fake.name}: listening on 127.0.0.1:{bound}\n")
    sys.stderr.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


def serve(parser: argparse.ArgumentParser, argv, make) -> int:
    """A fake's process: its arguments read, its lifetime limited before anything slow (such as
    loading an API description), then the fake `make(args)` builds served until stopped."""
    args = parser.parse_args(argv)
    limit_lifetime(args.max_seconds)
    return run(make(args), args.port, args.port_file)


def load_json(path: str, what: str):
    """A JSON file the fake cannot start without; SystemExit naming it otherwise."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError) as error:
        raise SystemExit(f"cannot load {what} {path}: {error}")


def schema_problem(error) -> str:
    """One line for a jsonschema ValidationError: where in the value (`a.b[0]`), then what."""
    where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error.absolute_path)
    return f"{where.lstrip('.') or 'body'}: {error.message}"
