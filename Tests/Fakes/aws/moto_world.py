"""A small AWS world for tests: moto_server on loopback with signature checks switched on, holding
an ECS service and a Lambda alias the way a team running the demo CRM would have them.

moto is the fake here (it follows the AWS API models botocore ships); this script only sets up the
world, closes two gaps that matter for a release manager, and adds a health endpoint:

- moto's UpdateService changes a service's task definition without starting a deployment. Here it
  starts one the way ECS does: the new deployment is PRIMARY and IN_PROGRESS beside the old ACTIVE
  one for --rollout-seconds, then COMPLETED with running = desired; a container image whose tag
  contains "crashloop" ends FAILED ("ECS deployment circuit breaker: tasks failed to start."); a
  service whose running count stays below its desired count (crm-stuck) stays IN_PROGRESS.
- moto's PublishVersion shares the code dictionary between $LATEST and the published version, so a
  later UpdateFunctionCode would change what an old version runs; here each version keeps its own.
- Three services in cluster crm: crm-api-dev (develop), crm-api (main) and crm-stuck, whose tasks
  never all start.
- A second HTTP server (health_port) answers /__health/ecs/<cluster>/<service> and
  /__health/lambda/<function>/<alias> with 200, or 500 when what is being served (the service's
  container images, the alias's code) contains "broken"; /__state shows the world as JSON.
- POST /__control {"echo_credentials": true} on that server makes moto's InvalidClientTokenId
  quote the session token it refused ("The security token included in the request is invalid:
  <X-Amz-Security-Token>"), as a careless platform might; the client must never show it. (The
  secret key itself never travels: SigV4 sends only a signature made with it.)

It writes a JSON state file (atomically) with the ports, the region, the IAM keys it created and
the names of everything. Signature checks are switched on only after the world is built
(POST /moto-api/reset-auth with body 0), so from then on a request signed wrongly, with an unknown
key, or by a user without permissions is refused the way AWS refuses it.
"""
import io
import json
import os
import sys
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import fakeserver  # noqa: E402

# Set before moto creates any service: a service with desired count <= this completes its rollout.
os.environ.setdefault("MOTO_ECS_SERVICE_RUNNING", "1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "world-builder")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "world-builder")

REGION = "us-east-1"
ACCOUNT = "123456789012"
CLUSTER = "crm"
SERVICE = "crm-api"
DEVELOP_SERVICE = "crm-api-dev"
STUCK_SERVICE = "crm-stuck"
FAMILY = "crm-api"
CONTAINER = "web"
FIRST_IMAGE = "registry.example.com/crm-api:1.0.0"
SIDECAR_IMAGE = "registry.example.com/log-router:2.1"
FUNCTION = "crm-api"
IMAGE_FUNCTION = "crm-worker"
ALIAS = "live"
DEVELOP_ALIAS = "dev"
BUCKET = "crm-artifacts"
ARTIFACT_KEYS = ["crm-api-1.0.0.zip", "crm-api-1.1.0.zip", "crm-api-1.2.0.zip", "crm-api-broken.zip"]

ROLLOUT_SECONDS = 1.0
CONTROLS = {"echo_credentials": False}


def patch_moto() -> None:
    """Makes moto's ECS deployments and Lambda versions behave as the AWS API reference describes,
    and lets its InvalidClientTokenId quote the session token (CONTROLS["echo_credentials"])."""
    from moto.awslambda import models as lambda_models
    from moto.core.exceptions import InvalidClientTokenIdError
    from moto.core.utils import utcnow
    from moto.ecs import models as ecs_models
    from moto.iam import access_control
    from moto.moto_api._internal import mock_random

    original_raise_invalid = access_control.IAMRequest._raise_invalid_access_key

    class EchoingInvalidClientTokenId(InvalidClientTokenIdError):
        def __init__(self, token: str):
            super(InvalidClientTokenIdError, self).__init__(
                "InvalidClientTokenId", f"The security token included in the request is invalid: {token}")

    def raise_invalid_access_key(self, reason):
        token = self._headers.get("X-Amz-Security-Token")
        if CONTROLS["echo_credentials"] and token and self._service != "ec2":
            raise EchoingInvalidClientTokenId(token)
        original_raise_invalid(self, reason)

    access_control.IAMRequest._raise_invalid_access_key = raise_invalid_access_key

    backend_class = ecs_models.EC2ContainerServiceBackend
    original_update = backend_class.update_service
    original_describe = backend_class.describe_services

    def update_service(self, service_properties):
        properties = dict(service_properties)
        service = original_update(self, service_properties)
        new_definition = properties.get("task_definition")
        if new_definition and service.deployment_controller.get("type") == "ECS":
            definition = self.describe_task_definition(new_definition)
            images = [c.get("image", "") for c in definition.container_definitions]
            now = utcnow()
            deployment_id = f"ecs-svc/{mock_random.randint(0, 32**12)}"
            for old in service.deployments:
                if old["status"] == "PRIMARY":
                    old["status"] = "ACTIVE"
            service.task_definition = definition.arn
            service.deployments.insert(0, {
                "createdAt": now, "updatedAt": now, "id": deployment_id,
                "desiredCount": service.desired_count, "pendingCount": service.desired_count,
                "runningCount": 0, "failedTasks": 0,
                "launchType": service.launch_type, "platformFamily": "FARGATE",
                "status": "PRIMARY", "taskDefinition": definition.arn,
                "rolloutState": "IN_PROGRESS",
                "rolloutStateReason": f"ECS deployment {deployment_id} in progress.",
                "_settles_at": time.time() + ROLLOUT_SECONDS,
                "_fails": any("crashloop" in image for image in images),
            })
        return service

    def settle(service) -> None:
        if not service.deployments:
            return
        primary = service.deployments[0]
        settles_at = primary.get("_settles_at")
        if settles_at is None or time.time() < settles_at or primary["rolloutState"] != "IN_PROGRESS":
            return
        if primary["_fails"]:
            primary.update(rolloutState="FAILED", failedTasks=3, runningCount=0, updatedAt=utcnow(),
                           rolloutStateReason="ECS deployment circuit breaker: tasks failed to start.")
            return
        if service.running_count < service.desired_count:
            # Some tasks start, never all: the rollout stays IN_PROGRESS.
            primary.update(runningCount=service.running_count, pendingCount=service.desired_count - service.running_count)
            return
        primary.update(rolloutState="COMPLETED", runningCount=service.desired_count, pendingCount=0,
                       updatedAt=utcnow(), rolloutStateReason=f"ECS deployment {primary['id']} completed.")
        service.deployments[:] = [primary]

    def describe_services(self, cluster_str, service_names_or_arns):
        services, failures = original_describe(self, cluster_str, service_names_or_arns)
        for service in services:
            settle(service)
        return services, failures

    backend_class.update_service = update_service
    backend_class.describe_services = describe_services

    # UpdateFunctionCode from an S3 object that does not exist fails in AWS; moto 5.2 accepts it.
    original_update_code = lambda_models.LambdaFunction.update_function_code

    def update_function_code(self, updated_spec):
        if "S3Bucket" in updated_spec and "S3Key" in updated_spec:
            from moto.awslambda.exceptions import InvalidParameterValueException
            from moto.s3.models import s3_backends
            found = s3_backends[self.account_id][self.partition].get_object(
                updated_spec["S3Bucket"], updated_spec["S3Key"], version_id=updated_spec.get("S3ObjectVersion"))
            if found is None:
                raise InvalidParameterValueException(
                    "Error occurred while GetObject. S3 Error Code: NoSuchKey. S3 Error Message: The specified key does not exist.")
        return original_update_code(self, updated_spec)

    lambda_models.LambdaFunction.update_function_code = update_function_code

    storage = lambda_models.LambdaStorage
    original_publish = storage.publish_version

    def publish_version(self, name_or_arn, description=""):
        version = original_publish(self, name_or_arn, description)
        if version is not None and version.version != "$LATEST":
            version.code = dict(version.code)
        return version

    storage.publish_version = publish_version


def zip_bytes(name: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", f"def handler(event, context):\n    return {{'artifact': {name!r}}}\n")
    return buffer.getvalue()


def build_world(endpoint: str) -> dict:
    """Creates users, the ECS cluster and services, the bucket and the Lambda functions."""
    import boto3

    def client(service):
        return boto3.client(service, region_name=REGION, endpoint_url=endpoint,
                            aws_access_key_id="world-builder", aws_secret_access_key="world-builder")

    iam = client("iam")
    iam.create_user(UserName="release-ci")
    iam.put_user_policy(UserName="release-ci", PolicyName="release", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["ecs:*", "lambda:*", "iam:PassRole"], "Resource": "*"}],
    }))
    ci_key = iam.create_access_key(UserName="release-ci")["AccessKey"]
    iam.create_user(UserName="release-readonly")
    readonly_key = iam.create_access_key(UserName="release-readonly")["AccessKey"]
    role = iam.create_role(RoleName="crm-lambda", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }))["Role"]["Arn"]

    ecs = client("ecs")
    ecs.create_cluster(clusterName=CLUSTER)
    definition = ecs.register_task_definition(
        family=FAMILY, networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
        containerDefinitions=[
            {"name": CONTAINER, "image": FIRST_IMAGE, "essential": True,
             "portMappings": [{"containerPort": 8000, "protocol": "tcp"}],
             "environment": [{"name": "DJANGO_SETTINGS_MODULE", "value": "crm.settings"}]},
            {"name": "log-router", "image": SIDECAR_IMAGE, "essential": False},
        ],
        tags=[{"key": "team", "value": "crm"}],
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(cluster=CLUSTER, serviceName=SERVICE, taskDefinition=definition, desiredCount=1,
                       deploymentController={"type": "ECS"})
    ecs.create_service(cluster=CLUSTER, serviceName=DEVELOP_SERVICE, taskDefinition=definition, desiredCount=1,
                       deploymentController={"type": "ECS"})
    ecs.create_service(cluster=CLUSTER, serviceName=STUCK_SERVICE, taskDefinition=definition, desiredCount=3,
                       deploymentController={"type": "ECS"})

    s3 = client("s3")
    s3.create_bucket(Bucket=BUCKET)
    for key in ARTIFACT_KEYS:
        s3.put_object(Bucket=BUCKET, Key=key, Body=zip_bytes(key))

    lam = client("lambda")
    lam.create_function(FunctionName=FUNCTION, Runtime="python3.12", Role=role, Handler="handler.handler",
                        Code={"S3Bucket": BUCKET, "S3Key": ARTIFACT_KEYS[0]}, Publish=True)
    lam.create_alias(FunctionName=FUNCTION, Name=ALIAS, FunctionVersion="1")
    lam.create_alias(FunctionName=FUNCTION, Name=DEVELOP_ALIAS, FunctionVersion="1")
    lam.create_function(FunctionName=IMAGE_FUNCTION, Role=role, PackageType="Image",
                        Code={"ImageUri": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/crm-worker:1.0.0"}, Publish=True)
    lam.create_alias(FunctionName=IMAGE_FUNCTION, Name=ALIAS, FunctionVersion="1")

    return {
        "region": REGION,
        "account": ACCOUNT,
        "access_key_id": ci_key["AccessKeyId"],
        "secret_access_key": ci_key["SecretAccessKey"],
        "readonly_access_key_id": readonly_key["AccessKeyId"],
        "readonly_secret_access_key": readonly_key["SecretAccessKey"],
        "cluster": CLUSTER,
        "service": SERVICE,
        "stuck_service": STUCK_SERVICE,
        "develop_service": DEVELOP_SERVICE,
        "container": CONTAINER,
        "first_image": FIRST_IMAGE,
        "task_definition_arn": definition,
        "function": FUNCTION,
        "image_function": IMAGE_FUNCTION,
        "alias": ALIAS,
        "develop_alias": DEVELOP_ALIAS,
        "bucket": BUCKET,
        "artifact_keys": ARTIFACT_KEYS,
    }


def world_state() -> dict:
    """What is deployed right now, read from moto's backends in this process."""
    from moto.awslambda.models import lambda_backends
    from moto.ecs.models import ecs_backends

    ecs = ecs_backends[ACCOUNT][REGION]
    services = {}
    for key, service in ecs.services.items():
        definition = ecs.describe_task_definition(service.task_definition)
        services[key] = {
            "task_definition": definition.arn,
            "images": {c["name"]: c.get("image") for c in definition.container_definitions},
            "deployments": [{k: v for k, v in d.items() if not k.startswith("_") and k in
                             ("id", "status", "rolloutState", "taskDefinition", "runningCount", "desiredCount")}
                            for d in service.deployments],
        }
    revisions = [d.arn for family in ecs.task_definitions.values() for d in family.values()]
    functions = {}
    lam = lambda_backends[ACCOUNT][REGION]
    for name in (FUNCTION, IMAGE_FUNCTION):
        entry = lam._lambdas._functions.get(name)
        if not entry:
            continue
        aliases = {alias_name: alias.function_version
                   for alias_name, alias in lam._lambdas._get_function_aliases(name).items()}
        functions[name] = {
            "aliases": aliases,
            "versions": {str(v.version): code_of(v) for v in entry["versions"]},
            "latest": code_of(entry["latest"]),
        }
    return {"services": services, "task_definitions": revisions, "functions": functions}


def code_of(function) -> str:
    code = function.code
    if "ImageUri" in code:
        return code["ImageUri"]
    return f"s3://{code.get('S3Bucket', '')}/{code.get('S3Key', '')}"


def health(path: str) -> tuple[int, str]:
    parts = [p for p in path.split("/") if p][1:]
    state = world_state()
    if len(parts) == 3 and parts[0] == "ecs":
        service = state["services"].get(f"{parts[1]}:{parts[2]}")
        if service is None:
            return 404, "no such service\n"
        broken = any("broken" in (image or "") for image in service["images"].values())
        return (500, "broken\n") if broken else (200, "ok\n")
    if len(parts) == 3 and parts[0] == "lambda":
        function = state["functions"].get(parts[1])
        if function is None or parts[2] not in function["aliases"]:
            return 404, "no such alias\n"
        code = function["versions"].get(str(function["aliases"][parts[2]]), "")
        return (500, "broken\n") if "broken" in code else (200, "ok\n")
    return 404, "unknown\n"


class HealthHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path == "/__state":
            body = json.dumps(world_state(), default=str, indent=1).encode()
            fakeserver.write_response(self, 200, body, "application/json")
            return
        if self.path.startswith("/__health/"):
            status, text = health(self.path)
            fakeserver.write_response(self, status, text.encode(), "text/plain")
            return
        fakeserver.write_response(self, 404, b"unknown\n", "text/plain")

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = None
        if self.path != "/__control" or not isinstance(body, dict) or set(body) - set(CONTROLS) \
                or not all(isinstance(value, bool) for value in body.values()):
            fakeserver.write_response(self, 400, f"POST /__control takes {sorted(CONTROLS)} as booleans\n".encode(), "text/plain")
            return
        CONTROLS.update(body)
        fakeserver.write_response(self, 200, json.dumps(CONTROLS).encode(), "application/json")


def write_json_atomically(path: str, value: dict) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(value, handle, indent=1)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def start(port: int = 0):
    """Starts moto and the health server, builds the world, switches signature checks on."""
    import requests
    from moto.server import ThreadedMotoServer

    import logging
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    patch_moto()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    moto_port = moto._server.server_port
    endpoint = f"http://127.0.0.1:{moto_port}"
    world = build_world(endpoint)
    answer = requests.post(endpoint + "/moto-api/reset-auth", data=b"0", timeout=10)
    answer.raise_for_status()
    health_server = ThreadingHTTPServer(("127.0.0.1", 0), HealthHandler)
    threading.Thread(target=health_server.serve_forever, daemon=True).start()
    world.update(port=moto_port, endpoint=endpoint, health_port=health_server.server_address[1],
                 health_url=f"http://127.0.0.1:{health_server.server_address[1]}")
    return moto, health_server, world


def sign_payload_hash(request, **_):
    """Makes botocore sign x-amz-content-sha256, as `release` does, which moto needs on bodiless GETs."""
    import hashlib
    body = request.body or b""
    if isinstance(body, str):
        body = body.encode()
    request.headers["X-Amz-Content-SHA256"] = hashlib.sha256(body).hexdigest()


def self_test() -> int:
    """Checks that the world refuses what AWS refuses and behaves as the fake's docstring says."""
    import boto3
    import botocore.exceptions

    _, _, world = start()

    def client(service, key=None, secret=None):
        made = boto3.client(service, region_name=REGION, endpoint_url=world["endpoint"],
                            aws_access_key_id=key or world["access_key_id"],
                            aws_secret_access_key=secret or world["secret_access_key"])
        made.meta.events.register("before-sign", sign_payload_hash)  # moto checks it on GETs without a body
        return made

    def refused(call, code) -> None:
        try:
            call()
        except botocore.exceptions.ClientError as error:
            got = error.response["Error"]["Code"]
            message = error.response["Error"].get("Message", "")
            if "<Code>" in message:  # moto answers auth failures in XML even for JSON services
                got = message.split("<Code>")[1].split("</Code>")[0]
            assert got == code, f"expected {code}, got {got}"
            return
        raise AssertionError(f"expected {code}, the call succeeded")

    ecs = client("ecs")
    service = ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]
    assert service["deployments"][0]["rolloutState"] == "COMPLETED", service["deployments"]
    refused(lambda: client("ecs", secret="wrong").describe_services(cluster=CLUSTER, services=[SERVICE]),
            "SignatureDoesNotMatch")
    refused(lambda: client("ecs", key="AKIAUNKNOWN000000000").describe_services(cluster=CLUSTER, services=[SERVICE]),
            "InvalidClientTokenId")
    refused(lambda: client("ecs", world["readonly_access_key_id"], world["readonly_secret_access_key"])
            .describe_services(cluster=CLUSTER, services=[SERVICE]), "AccessDenied")
    with_token = boto3.client("ecs", region_name=REGION, endpoint_url=world["endpoint"],
                              aws_access_key_id=world["access_key_id"], aws_secret_access_key=world["secret_access_key"],
                              aws_session_token="a-session-token-to-echo")
    with_token.meta.events.register("before-sign", sign_payload_hash)
    refused(lambda: with_token.describe_services(cluster=CLUSTER, services=[SERVICE]), "InvalidClientTokenId")
    CONTROLS["echo_credentials"] = True
    try:
        with_token.describe_services(cluster=CLUSTER, services=[SERVICE])
        raise AssertionError("a session token beside a long-term key must be refused")
    except botocore.exceptions.ClientError as error:
        assert "invalid: a-session-token-to-echo" in str(error.response), error.response
    CONTROLS["echo_credentials"] = False

    definition = ecs.describe_task_definition(taskDefinition=world["task_definition_arn"])["taskDefinition"]
    containers = definition["containerDefinitions"]
    containers[0]["image"] = "registry.example.com/crm-api:1.1.0"
    second = ecs.register_task_definition(family=FAMILY, containerDefinitions=containers,
                                          networkMode="awsvpc", requiresCompatibilities=["FARGATE"],
                                          cpu="256", memory="512")["taskDefinition"]["taskDefinitionArn"]
    ecs.update_service(cluster=CLUSTER, service=SERVICE, taskDefinition=second)
    deployments = ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]["deployments"]
    assert [d["status"] for d in deployments] == ["PRIMARY", "ACTIVE"], deployments
    assert deployments[0]["rolloutState"] == "IN_PROGRESS" and deployments[0]["taskDefinition"] == second
    assert not any(k.startswith("_") for k in deployments[0])
    time.sleep(ROLLOUT_SECONDS + 0.2)
    deployments = ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]["deployments"]
    assert len(deployments) == 1 and deployments[0]["rolloutState"] == "COMPLETED", deployments
    assert health(f"/__health/ecs/{CLUSTER}/{SERVICE}")[0] == 200

    containers[0]["image"] = "registry.example.com/crm-api:crashloop-broken"
    third = ecs.register_task_definition(family=FAMILY, containerDefinitions=containers, cpu="256", memory="512")["taskDefinition"]["taskDefinitionArn"]
    ecs.update_service(cluster=CLUSTER, service=SERVICE, taskDefinition=third)
    time.sleep(ROLLOUT_SECONDS + 0.2)
    primary = ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]["deployments"][0]
    assert primary["rolloutState"] == "FAILED" and "circuit breaker" in primary["rolloutStateReason"], primary
    assert health(f"/__health/ecs/{CLUSTER}/{SERVICE}")[0] == 500

    ecs.update_service(cluster=CLUSTER, service=STUCK_SERVICE, taskDefinition=second)
    time.sleep(ROLLOUT_SECONDS + 0.2)
    primary = ecs.describe_services(cluster=CLUSTER, services=[STUCK_SERVICE])["services"][0]["deployments"][0]
    assert primary["rolloutState"] == "IN_PROGRESS", primary

    lam = client("lambda")
    assert lam.get_alias(FunctionName=FUNCTION, Name=ALIAS)["FunctionVersion"] == "1"
    refused(lambda: client("lambda", secret="wrong").get_alias(FunctionName=FUNCTION, Name=ALIAS), "SignatureDoesNotMatch")
    lam.update_function_code(FunctionName=FUNCTION, S3Bucket=BUCKET, S3Key="crm-api-broken.zip")
    version = lam.publish_version(FunctionName=FUNCTION)["Version"]
    assert version == "2", version
    assert health(f"/__health/lambda/{FUNCTION}/{ALIAS}")[0] == 200, "version 1 must keep its own code"
    lam.update_alias(FunctionName=FUNCTION, Name=ALIAS, FunctionVersion=version)
    assert health(f"/__health/lambda/{FUNCTION}/{ALIAS}")[0] == 500
    print("moto_world self-test: ok")
    return 0


def main(argv=None) -> int:
    parser = fakeserver.argument_parser("moto_server with an ECS service and a Lambda alias, signature checks on.")
    parser.add_argument("--state-file", help="where to write the world's JSON description (atomically)")
    parser.add_argument("--rollout-seconds", type=float, default=1.0, help="how long an ECS rollout stays IN_PROGRESS")
    args = parser.parse_args(argv)
    global ROLLOUT_SECONDS
    ROLLOUT_SECONDS = args.rollout_seconds
    fakeserver.limit_lifetime(args.max_seconds)
    if args.self_test:
        code = self_test()
        sys.stdout.flush()
        os._exit(code)
    if not args.state_file:
        parser.error("--state-file is required (unless --self-test)")
    _, _, world = start(args.port)
    write_json_atomically(args.state_file, world)
    sys.stderr.write(f"moto_world: moto on {world['endpoint']}, health on {world['health_url']}\n")
    sys.stderr.flush()
    threading.Event().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
