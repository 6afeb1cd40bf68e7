"""The scaffold every fake stands on (fakeserver.py): test routes, the API pipeline with its
scripted faults, HTTP details, and a process that stays on loopback and ends by itself."""

from __future__ import annotations

import http.client
import json
import signal
import subprocess
import sys
import threading
import time

import pytest

import fakeserver
from conftest import FAKES, RunningFake, start_fake


class EchoFake(fakeserver.PlatformFake):
    """A platform whose API answers the path it was asked for; /boom is a bug in it."""

    name = "echo"

    def api(self, request):
        if request.path == "/boom":
            raise RuntimeError("kaboom")
        if request.path == "/refused":
            raise fakeserver.FakeError(403, "forbidden", "not for you", {"X-Why": "test"})
        return fakeserver.json_answer(200, {"path": request.path, "body": request.logged_body()})

    def api_headers(self, request):
        return {"Request-Id": request.id, "Remaining": self.remaining}


@pytest.fixture
def echo():
    """An EchoFake served in this process on a loopback port."""
    fake = EchoFake()
    server = fakeserver.make_server(fake)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield RunningFake(process=None, port=server.server_address[1], log=None), fake
    server.shutdown()
    server.server_close()


def test_servers_bind_loopback_only():
    server = fakeserver.make_server(EchoFake())
    try:
        assert server.server_address[0] == "127.0.0.1"
    finally:
        server.server_close()


def test_the_control_route_shows_and_changes_settings(echo):
    client, _ = echo
    reply = client.request("GET", "/__control")
    assert reply.status == 200 and reply.json["controls"]["error_next"] == 0
    assert client.control(error_next=2, retry_after=1.5)["error_next"] == 2
    assert client.request("GET", "/__control").json["controls"]["retry_after"] == 1.5
    assert client.control(reset=True)["error_next"] == 0


@pytest.mark.parametrize("body, says", [
    ({"nope": 1}, "unknown control keys ['nope']"),
    ({"error_next": -1}, "error_next takes true, false or a non-negative integer"),
    ({"hang_seconds": "long"}, "hang_seconds takes a non-negative number of seconds"),
    ([1], "POST /__control takes a JSON object"),
])
def test_a_refused_setting_answers_400_with_one_error_shape(echo, body, says):
    client, _ = echo
    reply = client.request("POST", "/__control", body)
    assert reply.status == 400 and says in reply.json["error"], reply.text


def test_unknown_test_routes_answer_404_in_the_same_shape(echo):
    client, _ = echo
    reply = client.request("GET", "/__nothing")
    assert reply.status == 404 and reply.json == {"error": "echo has no test route GET /__nothing"}


def test_the_state_lists_the_requests_with_their_status(echo):
    client, _ = echo
    client.request("POST", "/things?x=1", {"a": 1}, headers={"Authorization": "Bearer secret"})
    client.request("GET", "/refused")
    requests = client.state()["requests"]
    assert [(r["method"], r["path"], r["status"]) for r in requests] == [("POST", "/things?x=1", 200),
                                                                          ("GET", "/refused", 403)]
    assert requests[0]["body"] == {"a": 1}
    assert "secret" not in json.dumps(requests), "the request log never keeps credentials"


def test_faults_take_requests_in_order_hang_then_rate_limit_error_malformed(echo):
    client, _ = echo
    client.control(hang_next=1, hang_seconds=0.3, rate_limit_next=1, retry_after=2, error_next=1, malformed_next=1)
    started = time.monotonic()
    limited = client.request("GET", "/a")
    assert time.monotonic() - started >= 0.3
    assert limited.status == 429 and limited.headers["retry-after"] == "2" and limited.json["id"] == "rate_limit"
    failed = client.request("GET", "/b")
    assert failed.status == 500 and failed.json["id"] == "internal_server_error"
    garbled = client.request("GET", "/c")
    assert garbled.status == 200 and garbled.json is None and garbled.headers["content-type"] == "application/json"
    assert client.request("GET", "/d").json == {"path": "/d", "body": None}
    log = client.state()["requests"]
    assert [r["status"] for r in log] == [429, 500, 200, 200] and log[2]["malformed"] is True


def test_every_api_answer_carries_the_platform_headers(echo):
    client, _ = echo
    reply = client.request("GET", "/refused")
    assert reply.status == 403 and reply.json == {"id": "forbidden", "message": "not for you"}
    assert reply.headers["x-why"] == "test" and reply.headers["request-id"] and reply.headers["remaining"] == "999"


def test_a_bug_in_a_fake_answers_500_instead_of_hanging(echo):
    client, _ = echo
    reply = client.request("GET", "/boom")
    assert reply.status == 500 and reply.json["id"] == "echo_bug" and "kaboom" in reply.json["message"]


def test_chunked_request_bodies_are_read(echo):
    client, _ = echo
    connection = http.client.HTTPConnection("127.0.0.1", client.port, timeout=10)
    connection.request("POST", "/chunked", body=iter([b'{"chun', b'ked": true}']),
                       headers={"Content-Type": "application/json"}, encode_chunked=True)
    answer = json.loads(connection.getresponse().read())
    connection.close()
    assert answer == {"path": "/chunked", "body": {"chunked": True}}


def test_the_port_file_is_written_whole(tmp_path):
    target = tmp_path / "port"
    fakeserver.write_atomically(str(target), "1234\n")
    assert target.read_text() == "1234\n" and not (tmp_path / "port.tmp").exists()


def test_a_fake_process_ends_by_itself_after_max_seconds(tmp_path):
    fake = start_fake("notify/fake_receiver.py", directory=tmp_path, max_seconds=1)
    assert fake.request("GET", "/__state").status == 200
    assert fake.process.wait(timeout=20) == 0


def test_sigterm_stops_a_fake_even_when_its_parent_ignored_it(tmp_path):
    port_file = tmp_path / "port"
    process = subprocess.Popen(
        [sys.executable, str(FAKES / "notify/fake_receiver.py"), "--port-file", str(port_file)],
        stderr=subprocess.DEVNULL, preexec_fn=lambda: signal.signal(signal.SIGTERM, signal.SIG_IGN))
    try:
        deadline = time.monotonic() + 30
        while not port_file.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert port_file.exists()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == -signal.SIGTERM
    finally:
        process.kill()
        process.wait()
