"""fake_receiver.py: webhooks, GitHub's "create an issue", and scripted failures."""

from __future__ import annotations

import pytest

TOKEN = "tok"
ISSUES = "/repos/acme/crm-api/issues"


@pytest.fixture(scope="module")
def server(launch):
    return launch("notify/fake_receiver.py", "--token", TOKEN)


@pytest.fixture
def receiver(server):
    server.control(reset=True)
    return server


def test_any_path_takes_a_webhook(receiver):
    reply = receiver.request("POST", "/hooks/T000/B000/XXXX", {"text": "hi"})
    assert reply.status == 200 and reply.json == {"ok": True}
    assert receiver.state()["requests"][0]["body"] == {"text": "hi"}


def test_other_methods_find_nothing(receiver):
    assert receiver.request("GET", "/hooks/x").status == 404


def test_an_issue_needs_the_token(receiver):
    reply = receiver.request("POST", ISSUES, {"title": "x"})
    assert reply.status == 401 and reply.json["message"] == "Bad credentials"


@pytest.mark.parametrize("body, field", [({"body": "x"}, "title"), ({"title": ""}, "title"),
                                         ({"title": "x", "labels": "release"}, "labels")])
def test_an_issue_needs_a_title_and_string_labels(receiver, body, field):
    reply = receiver.request("POST", ISSUES, body, headers={"Authorization": f"Bearer {TOKEN}"})
    assert reply.status == 422 and reply.json["errors"][0]["field"] == field


def test_an_issue_is_created_and_numbered(receiver):
    for number in (1, 2):
        reply = receiver.request("POST", ISSUES, {"title": "x", "labels": ["release"]},
                                 headers={"Authorization": f"token {TOKEN}"})
        assert reply.status == 201 and reply.json["number"] == number
        assert reply.json["html_url"] == f"https://github.com/acme/crm-api/issues/{number}"
        assert reply.json["labels"] == [{"name": "release"}]


def test_the_log_keeps_the_headers_as_sent(receiver):
    receiver.request("POST", ISSUES, {"title": "x"}, headers={"Authorization": f"Bearer {TOKEN}",
                                                               "X-GitHub-Api-Version": "2022-11-28"})
    headers = receiver.state()["requests"][0]["headers"]
    assert headers["Authorization"] == f"Bearer {TOKEN}" and headers["X-GitHub-Api-Version"] == "2022-11-28"


def test_fail_answers_the_next_requests_with_a_status(receiver):
    assert receiver.control(fail=2, status=503) == {"fail": 2, "status": 503}
    assert [receiver.request("POST", "/hook", {}).status for _ in range(3)] == [503, 503, 200]
    assert len(receiver.state()["requests"]) == 3, "failed requests are logged too"


def test_a_body_that_is_not_json_is_kept_as_text(receiver):
    receiver.request("POST", "/hook", raw=b"not json")
    assert receiver.state()["requests"][0]["body"] == {"__unparsed": "not json"}


def test_status_must_be_an_http_status(receiver):
    reply = receiver.request("POST", "/__control", {"status": 42})
    assert reply.status == 400 and reply.json == {"error": "status takes an HTTP status code"}
