"""What the tests of the fakes share: where the official API descriptions are (--specs), and each
fake started as a separate process on 127.0.0.1 the way the Swift tests start it (--port 0,
--port-file, --max-seconds), stopped when its tests are done.

    python3 -m pytest -q Tests/Fakes --specs ../shared/specs
"""

from __future__ import annotations

import http.client
import json
import os
import pathlib
import signal
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass

import pytest

FAKES = pathlib.Path(__file__).resolve().parent
ROOT = FAKES.parent.parent


def pytest_addoption(parser):
    parser.addoption("--specs", default=os.environ.get("RELEASE_SPECS") or str(ROOT.parent / "shared" / "specs"),
                     help="the folder of official API descriptions (default: $RELEASE_SPECS, else ../shared/specs "
                          "beside the project)")


@pytest.fixture(scope="session")
def specs(request) -> pathlib.Path:
    """The folder of official API descriptions the fakes load at startup."""
    path = pathlib.Path(request.config.getoption("--specs")).resolve()
    if not path.is_dir():
        pytest.fail(f"no API descriptions at {path}: pass --specs DIR (or set RELEASE_SPECS)", pytrace=False)
    return path


@dataclass
class Reply:
    """An HTTP answer: status, headers (names in lower case), text, and the JSON in it (or None)."""

    status: int
    headers: dict
    text: str

    @property
    def json(self):
        try:
            return json.loads(self.text)
        except ValueError:
            return None


class RunningFake:
    """A fake's process, and requests to it."""

    def __init__(self, process: subprocess.Popen, port: int, log: pathlib.Path):
        self.process = process
        self.port = port
        self.log = log

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def request(self, method: str, path: str, body=None, *, headers: dict | None = None, raw: bytes | None = None,
                timeout: float = 30) -> Reply:
        """One request; `body` is sent as JSON, `raw` as it is."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
            sent = {"Content-Type": "application/json"} if data is not None else {}
            connection.request(method, path, body=data, headers={**sent, **(headers or {})})
            answer = connection.getresponse()
            text = answer.read().decode("utf-8", "replace")
            return Reply(answer.status, {name.lower(): value for name, value in answer.getheaders()}, text)
        finally:
            connection.close()

    def control(self, **settings) -> dict:
        """POST /__control, insisting that the fake took the settings."""
        reply = self.request("POST", "/__control", settings)
        assert reply.status == 200, reply.text
        return reply.json["controls"]

    def state(self) -> dict:
        reply = self.request("GET", "/__state")
        assert reply.status == 200, reply.text
        return reply.json

    def stop(self) -> int:
        """SIGTERM, as ServerProcess does; the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


class Client:
    """A test client of one fake: the fake's process, and the official description it follows,
    loaded in the test process too, to check answers against."""

    def __init__(self, server: RunningFake, description=None):
        self.server = server
        self.description = description

    def control(self, **settings) -> dict:
        return self.server.control(**settings)

    def reset(self) -> Client:
        """The fake as it started (before each test, so no test sees another's state); the client."""
        self.control(reset=True)
        return self

    def conforms(self, method, path, reply) -> None:
        """Asserts that an answer is what the OpenAPI description says its operation answers with
        that status (`openapi.Description`, or DigitalOcean's own, which match alike)."""
        operation, _ = self.description.match(method, urllib.parse.urlsplit(path).path)
        schema = self.description.response_schema(operation, reply.status)
        assert schema is not None and self.description.validate(schema, reply.json) is None, reply.text


def start_fake(script: str, *arguments: str, directory: pathlib.Path, max_seconds: float = 600,
               timeout: float = 90) -> RunningFake:
    """Starts Tests/Fakes/<script> on a free loopback port and waits for its port file."""
    port_file = directory / "port"
    log = directory / "stderr.log"
    command = [sys.executable, str(FAKES / script), *arguments, "--port", "0", "--port-file", str(port_file),
               "--max-seconds", str(max_seconds)]
    with open(log, "wb") as stderr:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if port_file.exists():
            return RunningFake(process, int(port_file.read_text()), log)
        time.sleep(0.02)
    process.kill()
    process.wait()
    pytest.fail(f"{script} did not start:\n{log.read_text(errors='replace')}", pytrace=False)


@pytest.fixture(scope="module")
def launch(tmp_path_factory):
    """Starts fakes for one test module and stops them after it: launch(script, *arguments)."""
    running = []

    def started(script: str, *arguments: str, **options) -> RunningFake:
        fake = start_fake(script, *arguments, directory=tmp_path_factory.mktemp(pathlib.Path(script).stem), **options)
        running.append(fake)
        return fake

    yield started
    for fake in running:
        fake.stop()
