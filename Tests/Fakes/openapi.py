"""One OpenAPI description (3.0 or 3.1, one file, YAML or JSON), and every API request checked
against it: the fakes of Prometheus, Datadog and Sentry stand on it.

    description = openapi.Description(path)          # SystemExit naming the file if it cannot load
    call = description.check(request)                 # openapi.Invalid: what the description does not describe
    call.operation.id, call.path_params, call.query, call.body
    description.validate(description.response_schema(call.operation, 200), value)   # None, or the problem

What a request must be to pass `check`:
- its method and path one of the description's operations, the path after the `servers` path
  (Prometheus: `/api/v1`), literal segments winning over `{params}`;
- every required path, query and header parameter given, and every query parameter one the
  operation describes (a misspelt or undescribed one is refused, not ignored), each value
  satisfying its schema once read as the schema's type (`"300"` is an integer, `"true"` a
  boolean; an array parameter is the parameter repeated);
- a body only where the operation takes one, of a media type it takes (JSON, or form-encoded
  fields read as the schema's types), satisfying its schema; a required body present.

Schemas keep their local `$ref`s (`#/components/...`): each is validated with the description's
`components` beside it, by the validator of its OpenAPI version (OAS30Validator, OAS31Validator).
Formats are not checked (a fake checks the values it reads itself).
"""

from __future__ import annotations

import json
import re
import threading
import urllib.parse
from dataclasses import dataclass, field

import fakeserver

try:
    import yaml
    import jsonschema.exceptions
    from openapi_schema_validator import OAS30Validator, OAS31Validator
except ImportError as missing:  # pragma: no cover
    raise SystemExit(f"the fakes need {missing.name}: python3 -m pip install PyYAML jsonschema openapi-schema-validator")

HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
FORM = "application/x-www-form-urlencoded"


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """Safe YAML that keeps timestamps as strings, as they are in JSON."""


_Loader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}


class Invalid(Exception):
    """A request the description does not describe; `where` is path, method, parameter or body;
    `name` the parameter's name, or for a body that breaks its schema, where in it (`version`,
    `tags[0]`, `body` for the whole)."""

    def __init__(self, where: str, message: str, name: str | None = None):
        super().__init__(message)
        self.where, self.message, self.name = where, message, name


@dataclass
class Operation:
    method: str
    template: str  # as the description writes it, e.g. /query or /api/0/organizations/{organization_id_or_slug}/releases/
    spec: dict
    parameters: list  # path-item and operation parameters, $refs followed
    regex: re.Pattern = field(repr=False, default=None)  # the path after the servers path
    path_names: dict = field(repr=False, default_factory=dict)  # regex group -> path parameter

    @property
    def id(self) -> str:
        return self.spec.get("operationId") or f"{self.method} {self.template}"

    def security_schemes(self) -> set[str]:
        """The schemes any of the operation's security requirements names."""
        return {name for requirement in self.spec.get("security") or [] for name in requirement}


@dataclass
class Call:
    """A request that passed: its operation and what it gave, read as the description's types."""

    operation: Operation
    path_params: dict
    query: dict  # name -> value (a list for array parameters)
    body: object  # the JSON, or the form fields as a dict, or None


class Description:
    """An OpenAPI description loaded once; `check` is safe from several threads."""

    def __init__(self, path: str):
        self.path = path
        try:
            with open(path, encoding="utf-8") as handle:
                self.root = json.load(handle) if path.endswith(".json") else yaml.load(handle, Loader=_Loader)
        except (OSError, ValueError, yaml.YAMLError) as error:
            raise SystemExit(f"cannot load the OpenAPI description {path}: {error}")
        self.version = str(self.root.get("openapi", ""))
        if not self.version.startswith("3."):
            raise SystemExit(f"{path} is not an OpenAPI 3 description")
        self.validator_class = OAS31Validator if self.version.startswith("3.1") else OAS30Validator
        self.components = self.root.get("components") or {}
        server = ((self.root.get("servers") or [{}])[0]).get("url", "")
        self.prefix = server.rstrip("/") if server.startswith("/") else ""
        self.operations: list[Operation] = []
        for template, item in (self.root.get("paths") or {}).items():
            item = self.deref(item)
            shared = item.get("parameters") or []
            for method, spec in item.items():
                if method in HTTP_METHODS:
                    self.operations.append(self._operation(method, template, self.deref(spec), shared))
        # Most literal segments first, so /api/v1/monitor/can_delete wins over /api/v1/monitor/{monitor_id}.
        self.operations.sort(key=lambda op: (-sum(not part.startswith("{") for part in op.template.split("/")),
                                             op.template))
        self._lock = threading.Lock()
        self._validators: dict[str, object] = {}

    def _operation(self, method: str, template: str, spec: dict, shared: list) -> Operation:
        parameters = {}
        for parameter in [self.deref(p) for p in shared] + [self.deref(p) for p in spec.get("parameters") or []]:
            parameters[(parameter.get("in"), parameter.get("name"))] = parameter
        parts = (self.prefix + template).split("/")
        pattern = "/".join("(?P<p%d>[^/]+)" % i if part.startswith("{") else re.escape(part) for i, part in enumerate(parts))
        names = {f"p{i}": part[1:-1] for i, part in enumerate(parts) if part.startswith("{")}
        return Operation(method.upper(), template, spec, list(parameters.values()), re.compile(pattern), names)

    # ---- the description ------------------------------------------------------------------------

    def deref(self, node):
        """A node with the local `$ref` at its top followed (#/components/...)."""
        seen = set()
        while isinstance(node, dict) and isinstance(node.get("$ref"), str):
            ref = node["$ref"]
            if ref in seen or not ref.startswith("#/"):
                raise SystemExit(f"{self.path}: cannot follow $ref {ref}")
            seen.add(ref)
            node = self.root
            for token in ref[2:].split("/"):
                node = node[urllib.parse.unquote(token).replace("~1", "/").replace("~0", "~")]
        return node

    def operation(self, operation_id: str) -> Operation:
        return next(op for op in self.operations if op.id == operation_id)

    def schema(self, name: str) -> dict:
        """A named schema of `components.schemas`, to validate with."""
        return {"$ref": f"#/components/schemas/{name}"}

    def response_schema(self, operation: Operation, status: int):
        """The JSON schema of the operation's answer with that status (else `default`), or None."""
        responses = operation.spec.get("responses") or {}
        response = self.deref(responses.get(str(status), responses.get("default")))
        media = ((response or {}).get("content") or {}).get("application/json") or {}
        return media.get("schema")

    def validate(self, schema, value) -> str | None:
        """None when the value satisfies the schema, else one line: where, then what."""
        with self._lock:  # keyed by identity: the cache keeps each schema alive, so no id is reused
            schema_and_validator = self._validators.get(id(schema))
            if schema_and_validator is None:
                validator = self.validator_class({**schema, "components": self.components})
                schema_and_validator = self._validators[id(schema)] = (schema, validator)
        validator = schema_and_validator[1]
        error = jsonschema.exceptions.best_match(validator.iter_errors(value))
        return None if error is None else fakeserver.schema_problem(error)

    # ---- requests -------------------------------------------------------------------------------

    def match(self, method: str, path: str) -> tuple[Operation, dict]:
        """The operation of a method and path (path without its query), and its path parameters."""
        path_known = False
        for operation in self.operations:
            found = operation.regex.fullmatch(path)
            if found:
                path_known = True
                if operation.method == method.upper():
                    params = {operation.path_names[group]: urllib.parse.unquote(value)
                              for group, value in found.groupdict().items()}
                    return operation, params
        if path_known:
            raise Invalid("method", f"the API has no operation {method.upper()} {path}")
        raise Invalid("path", f"the API has no path {path}")

    def check(self, request: fakeserver.Request) -> Call:
        """The call a request makes; Invalid for what the description does not describe."""
        operation, path_params = self.match(request.method, request.path)
        given = urllib.parse.parse_qs(urllib.parse.urlsplit(request.target).query, keep_blank_values=True)
        described = {p["name"] for p in operation.parameters if p.get("in") == "query"}
        unknown = sorted(set(given) - described)
        if unknown:
            raise Invalid("parameter", f"unknown query parameter {unknown[0]!r} for {operation.method} {operation.template}"
                          f" (it takes {sorted(described) or 'none'})", unknown[0])
        query = {}
        for parameter in operation.parameters:
            where, name, schema = parameter.get("in"), parameter.get("name"), parameter.get("schema") or {}
            if where == "path":
                self._parameter(name, schema, [path_params[name]], "path parameter")
            elif where == "query" and name in given:
                query[name] = self._parameter(name, schema, given[name], "query parameter")
            elif where == "query" and parameter.get("required"):
                raise Invalid("parameter", f"the query parameter {name!r} is required", name)
            elif where == "header" and parameter.get("required") and not request.header(name):
                raise Invalid("parameter", f"the header {name} is required", name)
        return Call(operation, path_params, query, self._body(operation, request))

    def _parameter(self, name: str, schema: dict, values: list[str], what: str):
        schema = self.deref(schema)
        if schema.get("type") == "array":
            items = self.deref(schema.get("items") or {})
            value = [self._read(item, items) for text in values for item in self._items(text, schema)]
        else:
            value = self._read(values[0], schema)
        problem = self.validate(schema, value)
        if problem:
            raise Invalid("parameter", f"the {what} {name!r} is invalid: {problem.replace('body: ', '', 1)}", name)
        return value

    @staticmethod
    def _items(text: str, schema: dict) -> list[str]:
        return text.split(",") if schema.get("explode") is False else [text]

    def _read(self, text: str, schema: dict):
        """A text as the first of its readings (string, integer, number, boolean) the schema takes."""
        readings = [text]
        if re.fullmatch(r"[+-]?\d+", text):
            readings.append(int(text))
        if re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", text):
            readings.append(float(text))
        if text in ("true", "false"):
            readings.append(text == "true")
        return next((reading for reading in readings if self.validate(schema, reading) is None), text)

    def _body(self, operation: Operation, request: fakeserver.Request):
        body_spec = self.deref(operation.spec.get("requestBody"))
        if not request.raw.strip():
            if body_spec and body_spec.get("required"):
                raise Invalid("body", f"{operation.method} {operation.template} requires a request body")
            return None
        if not body_spec:
            raise Invalid("body", f"{operation.method} {operation.template} takes no request body")
        content = body_spec.get("content") or {}
        media_type = request.header("Content-Type").split(";")[0].strip().lower() or "application/json"
        if media_type not in content:
            raise Invalid("body", f"{operation.method} {operation.template} takes {' or '.join(content)}, not {media_type}")
        schema = self.deref(content[media_type].get("schema") or {})
        if media_type == FORM:
            form = urllib.parse.parse_qs(request.raw.decode("utf-8", "replace"), keep_blank_values=True)
            properties = schema.get("properties") or {}
            body = {name: self._read(values[0], self.deref(properties.get(name) or {})) for name, values in form.items()}
        else:
            try:
                body = json.loads(request.raw.decode("utf-8"))
            except ValueError as error:
                raise Invalid("body", f"the request body is not JSON: {error}")
        problem = self.validate(schema, body)
        if problem:
            raise Invalid("body", problem, problem.partition(": ")[0])
        return body


def flat_query(request: fakeserver.Request, hidden: tuple[str, ...] = ()) -> dict:
    """The query string for a request log: name -> value, a list when repeated; `hidden` values
    (credentials) replaced by "[hidden]"."""
    given = urllib.parse.parse_qs(urllib.parse.urlsplit(request.target).query, keep_blank_values=True)
    return {name: "[hidden]" if name in hidden else values[0] if len(values) == 1 else values
            for name, values in given.items()}
