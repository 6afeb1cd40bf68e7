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
- A CloudWatch alarm crm-api-alb-5xx (moto starts it OK and never evaluates it). POST /__control
  {"alarm_states": {"<alarm>": "ALARM"}} sets states (as SetAlarmState does), and
  {"metric_points": {"namespace": …, "metric": …, "dimensions": {…}, "points": [[seconds_ago, value], …]}}
  stores data points (as PutMetricData does), both straight into moto's backend, so that the
  release-ci user needs only cloudwatch:DescribeAlarms and cloudwatch:GetMetricData.
- Three services in cluster crm: crm-api-dev (develop), crm-api (main) and crm-stuck, whose tasks
  never all start.
- A second HTTP server (health_port) answers /__health/ecs/<cluster>/<service> and
  /__health/lambda/<function>/<alias> with 200, or 500 when what is being served (the service's
  container images, the alias's code) contains "broken"; /__state shows the world as JSON.
- POST /__control {"echo_credentials": true} on that server (Tests/Fakes/fakeserver.py's test routes) makes moto's InvalidClientTokenId
  quote the session token it refused ("The security token included in the request is invalid:
  <X-Amz-Security-Token>"), as a careless platform might; the client must never show it. (The
  secret key itself never travels: SigV4 sends only a signature made with it.)

It writes a JSON state file (atomically) with the ports, the region, the IAM keys it created and
the names of everything. Signature checks are switched on only after the world is built
(POST /moto-api/reset-auth with body 0), so from then on a request signed wrongly, with an unknown
key, or by a user without permissions is refused the way AWS refuses it.
"""
import datetime
import io
import json
import os
import sys
import threading
import time
import zipfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import fakeserver  # noqa: E402  (Tests/Fakes/fakeserver.py, shared by every fake)

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
ALARM = "crm-api-alb-5xx"
ARTIFACT_KEYS = ["crm-api-1.0.0.zip", "crm-api-1.1.0.zip", "crm-api-1.2.0.zip", "crm-api-broken.zip"]

ROLLOUT_SECONDS = 1.0


def patch_moto(world: "WorldServer") -> None:
    """Makes moto's ECS deployments and Lambda versions behave as the AWS API reference describes,
    and lets its InvalidClientTokenId quote the session token (`world.echo_credentials`)."""
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
        if world.echo_credentials and token and self._service != "ec2":
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
    # AWS names CloudWatch's actions cloudwatch:*; moto checks them by the endpoint's name, monitoring:*.
    reads = [f"{prefix}:{action}" for prefix in ("cloudwatch", "monitoring") for action in ("DescribeAlarms", "GetMetricData")]
    iam.put_user_policy(UserName="release-ci", PolicyName="release", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["ecs:*", "lambda:*", "iam:PassRole"] + reads, "Resource": "*"}],
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

    client("cloudwatch").put_metric_alarm(
        AlarmName=ALARM, Namespace="AWS/ApplicationELB", MetricName="HTTPCode_Target_5XX_Count", Statistic="Sum",
        Dimensions=[{"Name": "LoadBalancer", "Value": "app/crm/1"}], Period=60, EvaluationPeriods=1, Threshold=10,
        ComparisonOperator="GreaterThanThreshold")

    return {
        "alarm": ALARM,
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


class WorldServer(fakeserver.Fake):
    """The server beside moto: the world's state, health URLs, and the echo_credentials control."""

    name = "moto_world"

    def reset(self) -> None:
        with self.lock:
            super().reset()
            self.echo_credentials = False

    def control_keys(self) -> set[str]:
        return {"echo_credentials", "alarm_states", "metric_points"}

    def apply_controls(self, settings: dict) -> None:
        if "echo_credentials" in settings:
            self.echo_credentials = fakeserver.flag("echo_credentials", settings["echo_credentials"])
        from moto.cloudwatch.models import cloudwatch_backends
        from moto.core.utils import utcnow
        cloudwatch = cloudwatch_backends[ACCOUNT][REGION]
        for name, state in (settings.get("alarm_states") or {}).items():
            if name not in cloudwatch.alarms or state not in ("OK", "ALARM", "INSUFFICIENT_DATA"):
                raise fakeserver.ControlError(f"alarm_states: no alarm {name!r} or no state {state!r}")
            cloudwatch.set_alarm_state(name, "set by the test", None, state)
        if "metric_points" in settings:
            metric = settings["metric_points"]
            now = utcnow()  # naive UTC, as moto keeps its timestamps
            dimensions = [{"Name": key, "Value": value} for key, value in (metric.get("dimensions") or {}).items()]
            cloudwatch.put_metric_data(metric["namespace"], [
                {"MetricName": metric["metric"], "Dimensions": dimensions, "Value": value,
                 "Timestamp": now - datetime.timedelta(seconds=ago)} for ago, value in metric["points"]])

    def control_view(self) -> dict:
        return {"echo_credentials": self.echo_credentials}

    def state(self) -> dict:
        return world_state()

    def test_routes(self) -> list:
        return [("GET", r"/__health/ecs/([^/]+)/([^/]+)", self.ecs_health),
                ("GET", r"/__health/lambda/([^/]+)/([^/]+)", self.lambda_health)]

    def ecs_health(self, request, cluster: str, name: str) -> fakeserver.Answer:
        """500 while any container of the service runs an image whose name says "broken"."""
        service = world_state()["services"].get(f"{cluster}:{name}")
        if service is None:
            return fakeserver.text_answer(404, "no such service\n")
        broken = any("broken" in (image or "") for image in service["images"].values())
        return fakeserver.text_answer(500, "broken\n") if broken else fakeserver.text_answer(200, "ok\n")

    def lambda_health(self, request, name: str, alias: str) -> fakeserver.Answer:
        """500 while the code of the version the alias points at says "broken"."""
        function = world_state()["functions"].get(name)
        if function is None or alias not in function["aliases"]:
            return fakeserver.text_answer(404, "no such alias\n")
        code = function["versions"].get(str(function["aliases"][alias]), "")
        return fakeserver.text_answer(500, "broken\n") if "broken" in code else fakeserver.text_answer(200, "ok\n")


def start(port: int = 0):
    """Starts moto and the health server, builds the world, switches signature checks on."""
    import requests
    from moto.server import ThreadedMotoServer

    import logging
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    server = WorldServer()
    patch_moto(server)
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    moto_port = moto._server.server_port
    endpoint = f"http://127.0.0.1:{moto_port}"
    world = build_world(endpoint)
    answer = requests.post(endpoint + "/moto-api/reset-auth", data=b"0", timeout=10)
    answer.raise_for_status()
    health_server = fakeserver.make_server(server)
    threading.Thread(target=health_server.serve_forever, daemon=True).start()
    world.update(port=moto_port, endpoint=endpoint, health_port=health_server.server_address[1],
                 health_url=f"http://127.0.0.1:{health_server.server_address[1]}")
    return moto, health_server, world


def main(argv=None) -> int:
    parser = fakeserver.argument_parser("moto_server with an ECS service and a Lambda alias, signature checks on.",
                                        port_file=False)
    parser.add_argument("--state-file", required=True, help="where to write the world's JSON description (atomically)")
    parser.add_argument("--rollout-seconds", type=float, default=1.0, help="how long an ECS rollout stays IN_PROGRESS")
    args = parser.parse_args(argv)
    global ROLLOUT_SECONDS
    ROLLOUT_SECONDS = args.rollout_seconds
    fakeserver.limit_lifetime(args.max_seconds)
    _, _, world = start(args.port)
    fakeserver.write_atomically(args.state_file, json.dumps(world, indent=1))
    sys.stderr.write(f"moto_world: moto on {world['endpoint']}, health on {world['health_url']}\n")
    sys.stderr.flush()
    threading.Event().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
