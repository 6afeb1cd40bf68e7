"""moto_world.py: moto refuses what AWS refuses, and behaves as the script's docstring says (ECS
rollouts, Lambda versions that keep their own code, health URLs, echo_credentials)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time

import pytest

from conftest import FAKES, RunningFake

boto3 = pytest.importorskip("boto3")
botocore_exceptions = pytest.importorskip("botocore.exceptions")

ROLLOUT_SECONDS = 0.5
CLUSTER, SERVICE, STUCK_SERVICE, FAMILY = "crm", "crm-api", "crm-stuck", "crm-api"
FUNCTION, ALIAS, BUCKET = "crm-api", "live", "crm-artifacts"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The world's description (keys, ports), with moto_world.py running as the Swift tests run it."""
    directory = tmp_path_factory.mktemp("moto_world")
    state_file = directory / "world.json"
    log = directory / "stderr.log"
    with open(log, "wb") as stderr:
        process = subprocess.Popen([sys.executable, str(FAKES / "aws/moto_world.py"), "--state-file", str(state_file),
                                    "--rollout-seconds", str(ROLLOUT_SECONDS), "--max-seconds", "600"],
                                   stdout=subprocess.DEVNULL, stderr=stderr)
    deadline = time.monotonic() + 120
    while not state_file.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    if not state_file.exists():
        process.kill()
        pytest.fail(f"moto_world.py did not start:\n{log.read_text(errors='replace')}", pytrace=False)
    description = json.loads(state_file.read_text())
    yield description
    RunningFake(process, description["health_port"], log).stop()


@pytest.fixture(scope="module")
def health(world) -> RunningFake:
    """The health and state server beside moto."""
    return RunningFake(None, world["health_port"], None)


def sign_payload_hash(request, **_):
    """Makes botocore sign x-amz-content-sha256, as `release` does, which moto needs on bodiless GETs."""
    body = request.body or b""
    if isinstance(body, str):
        body = body.encode()
    request.headers["X-Amz-Content-SHA256"] = hashlib.sha256(body).hexdigest()


def client(world, service, key=None, secret=None, token=None):
    made = boto3.client(service, region_name=world["region"], endpoint_url=world["endpoint"],
                        aws_access_key_id=key or world["access_key_id"],
                        aws_secret_access_key=secret or world["secret_access_key"], aws_session_token=token)
    made.meta.events.register("before-sign", sign_payload_hash)
    return made


def refusal(call) -> tuple[str, str]:
    """The error code and message AWS (moto) refuses a call with."""
    with pytest.raises(botocore_exceptions.ClientError) as refused:
        call()
    error = refused.value.response["Error"]
    code, message = error["Code"], error.get("Message", "")
    if "<Code>" in message:  # moto answers auth failures in XML even for JSON services
        code = message.split("<Code>")[1].split("</Code>")[0]
    return code, message


def describe(world, service=SERVICE) -> dict:
    return client(world, "ecs").describe_services(cluster=CLUSTER, services=[service])["services"][0]


def register(world, image: str) -> str:
    """A new revision of the task definition with `image` in its web container; its ARN."""
    ecs = client(world, "ecs")
    containers = ecs.describe_task_definition(taskDefinition=world["task_definition_arn"])["taskDefinition"][
        "containerDefinitions"]
    containers[0]["image"] = image
    return ecs.register_task_definition(family=FAMILY, containerDefinitions=containers, networkMode="awsvpc",
                                        requiresCompatibilities=["FARGATE"], cpu="256",
                                        memory="512")["taskDefinition"]["taskDefinitionArn"]


def test_the_world_starts_settled(world):
    assert describe(world)["deployments"][0]["rolloutState"] == "COMPLETED"


@pytest.mark.parametrize("who, code", [
    ({"secret": "wrong"}, "SignatureDoesNotMatch"),
    ({"key": "AKIAUNKNOWN000000000"}, "InvalidClientTokenId"),
    ({"readonly": True}, "AccessDenied"),
    ({"token": "a-session-token"}, "InvalidClientTokenId"),
])
def test_signatures_keys_and_permissions_are_checked(world, who, code):
    if who.pop("readonly", False):
        who = {"key": world["readonly_access_key_id"], "secret": world["readonly_secret_access_key"]}
    ecs = client(world, "ecs", **who)
    assert refusal(lambda: ecs.describe_services(cluster=CLUSTER, services=[SERVICE]))[0] == code


def test_echo_credentials_quotes_the_refused_session_token(world, health):
    ecs = client(world, "ecs", token="a-session-token-to-echo")
    health.control(echo_credentials=True)
    try:
        code, message = refusal(lambda: ecs.describe_services(cluster=CLUSTER, services=[SERVICE]))
    finally:
        health.control(echo_credentials=False)
    assert code == "InvalidClientTokenId" and "invalid: a-session-token-to-echo" in message


def test_an_ecs_update_rolls_out_then_completes(world, health):
    second = register(world, "registry.example.com/crm-api:1.1.0")
    client(world, "ecs").update_service(cluster=CLUSTER, service=SERVICE, taskDefinition=second)
    deployments = describe(world)["deployments"]
    assert [d["status"] for d in deployments] == ["PRIMARY", "ACTIVE"]
    assert deployments[0]["rolloutState"] == "IN_PROGRESS" and deployments[0]["taskDefinition"] == second
    assert not any(key.startswith("_") for key in deployments[0]), "the fake's own keys stay hidden"
    time.sleep(ROLLOUT_SECONDS + 0.2)
    deployments = describe(world)["deployments"]
    assert len(deployments) == 1 and deployments[0]["rolloutState"] == "COMPLETED"
    assert health.request("GET", f"/__health/ecs/{CLUSTER}/{SERVICE}").status == 200
    assert health.state()["services"][f"{CLUSTER}:{SERVICE}"]["images"]["web"] == "registry.example.com/crm-api:1.1.0"


def test_a_crashlooping_image_fails_the_rollout_and_the_health_check(world, health):
    broken = register(world, "registry.example.com/crm-api:crashloop-broken")
    client(world, "ecs").update_service(cluster=CLUSTER, service=SERVICE, taskDefinition=broken)
    time.sleep(ROLLOUT_SECONDS + 0.2)
    primary = describe(world)["deployments"][0]
    assert primary["rolloutState"] == "FAILED" and "circuit breaker" in primary["rolloutStateReason"]
    assert health.request("GET", f"/__health/ecs/{CLUSTER}/{SERVICE}").status == 500


def test_a_service_whose_tasks_never_all_start_stays_in_progress(world):
    client(world, "ecs").update_service(cluster=CLUSTER, service=STUCK_SERVICE,
                                        taskDefinition=register(world, "registry.example.com/crm-api:1.2.0"))
    time.sleep(ROLLOUT_SECONDS + 0.2)
    assert describe(world, STUCK_SERVICE)["deployments"][0]["rolloutState"] == "IN_PROGRESS"


def test_a_published_lambda_version_keeps_its_own_code(world, health):
    lam = client(world, "lambda")
    assert lam.get_alias(FunctionName=FUNCTION, Name=ALIAS)["FunctionVersion"] == "1"
    assert refusal(lambda: client(world, "lambda", secret="wrong").get_alias(FunctionName=FUNCTION, Name=ALIAS))[0] \
        == "SignatureDoesNotMatch"
    lam.update_function_code(FunctionName=FUNCTION, S3Bucket=BUCKET, S3Key="crm-api-broken.zip")
    assert lam.publish_version(FunctionName=FUNCTION)["Version"] == "2"
    assert health.request("GET", f"/__health/lambda/{FUNCTION}/{ALIAS}").status == 200, "version 1 keeps its code"
    lam.update_alias(FunctionName=FUNCTION, Name=ALIAS, FunctionVersion="2")
    assert health.request("GET", f"/__health/lambda/{FUNCTION}/{ALIAS}").status == 500
    versions = health.state()["functions"][FUNCTION]["versions"]
    assert versions["1"] == f"s3://{BUCKET}/crm-api-1.0.0.zip" and versions["2"] == f"s3://{BUCKET}/crm-api-broken.zip"


def test_code_from_a_missing_s3_object_is_refused(world):
    lam = client(world, "lambda")
    code, message = refusal(lambda: lam.update_function_code(FunctionName=FUNCTION, S3Bucket=BUCKET, S3Key="nope.zip"))
    assert code == "InvalidParameterValueException" and "NoSuchKey" in message


def test_unknown_health_targets_answer_404(health):
    assert health.request("GET", "/__health/ecs/crm/nothing").status == 404
    assert health.request("GET", "/__health/lambda/crm-api/nothing").status == 404
    assert health.request("GET", "/__health/other").status == 404
