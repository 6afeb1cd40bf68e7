#!/usr/bin/env python3
"""Check the GitHub Actions workflow of `release`, and prove it works by running it locally.

    python3 ops/github/check_workflow.py ops/github/release.yml
    python3 ops/github/check_workflow.py ops/github/release.yml --run \\
        --binary .build/debug/release --database-url "$(ops/pg start)"

Without --run it checks the structure: the two triggers, the two jobs and the steps the
simulation relies on (ids `install-release`, `artifact`, `tests`), the shared environment, that
every `release` subcommand and option used is in the contract's command list, that every
`${{ … }}` expression parses and names only known contexts and earlier steps, and that no secret
or user input is pasted into a script or echoed.

With --run it simulates both jobs the way a runner would: each job's `run:` steps in order with
bash (`-eo pipefail` for `shell: bash`), in a temporary git repository, with the GITHUB_* and
RUNNER_* variables set; GITHUB_ENV, GITHUB_OUTPUT, GITHUB_PATH and GITHUB_STEP_SUMMARY are
honoured; `${{ … }}` expressions are evaluated against a small table (secrets, inputs, vars,
github.*, steps.*); `if:` conditions with success()/failure()/always()/cancelled() and
`steps.X.outcome` comparisons are evaluated (success() is implied when no status function is
named); `continue-on-error` is honoured; steps that `uses:` an action are skipped. The step with
`id: install-release` is replaced by one that puts --binary on the PATH, `id: artifact` by a stub
that exports ARTIFACT, and `id: tests` by `true` or `false`. The temporary repository gets a
release.yml with `command` providers for develop and main (main: `promote_from: develop`,
`gates: {checks: [tests]}`) under an app name of its own, so runs never disturb each other or
other data in the database. Every scenario is verified through `release … --json`, and no
secret's value may appear in any step's output.

Only the standard library and PyYAML are used. Exit status: 0 when everything holds, 1 when a
check fails, 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

# --------------------------------------------------------------------------------------------
# The contract's command list (CONTRACT.md, "Commands"): subcommand → the options it documents.
# `--contract PATH` reads the list from the contract itself instead.
# --------------------------------------------------------------------------------------------

CONTRACT_COMMANDS: dict[str, set[str]] = {
    "migrate": set(),
    "create": {"--commit", "--artifact", "--notes"},
    "list": {"--limit"},
    "check": {"--url"},
    "deploy": set(),
    "promote": {"--version", "--dry-run", "--force", "--reason"},
    "approve": set(),
    "rollback": {"--to", "--reason"},
    "reject": {"--reason"},
    "freeze": {"--reason", "--until"},
    "unfreeze": set(),
    "status": set(),
    "history": {"--limit"},
    "audit": {"--env", "--since", "--until", "--format", "--at"},
    "probe": set(),
    "recover": set(),
    "watch": {"--for"},
    "serve": {"--host", "--port"},
}
GLOBAL_OPTIONS = {"--config", "--database-url", "--actor", "--json", "--quiet", "--no-color", "--help", "-h"}
GLOBAL_VALUED = {"--config", "--database-url", "--actor"}
ROOT_FLAGS = {"--version", "--help", "-h"}

# Contexts a workflow may name in expressions, and the functions the evaluator knows.
KNOWN_CONTEXTS = {"github", "env", "vars", "secrets", "inputs", "steps", "runner", "job", "matrix", "needs", "strategy"}
STATUS_FUNCTIONS = {"success", "failure", "always", "cancelled"}
KNOWN_FUNCTIONS = STATUS_FUNCTIONS | {"contains", "startswith", "endswith", "format", "join", "tojson", "fromjson", "hashfiles"}


class CheckFailed(Exception):
    """A check did not hold; the message says which and why."""


# --------------------------------------------------------------------------------------------
# GitHub Actions expressions: a tokenizer, a parser into tuples, and an evaluator.
# --------------------------------------------------------------------------------------------

TOKEN_PATTERN = re.compile(r"""
    \s*(?:
      (?P<number>-?(?:0x[0-9a-fA-F]+|\d+(?:\.\d+)?(?:[eE][+-]?\d+)?))
    | (?P<string>'(?:[^']|'')*')
    | (?P<op>&&|\|\||==|!=|<=|>=|[<>!()\[\].,*])
    | (?P<name>[A-Za-z_][A-Za-z0-9_-]*)
    )""", re.VERBOSE)
EXPRESSION_PATTERN = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)


def tokenize(text: str) -> list[tuple[str, Any]]:
    """Splits an expression into (kind, value) tokens; raises ValueError on anything unknown."""
    tokens: list[tuple[str, Any]] = []
    position = 0
    text = text.strip()
    while position < len(text):
        match = TOKEN_PATTERN.match(text, position)
        if not match or match.end() == position:
            raise ValueError(f"unexpected {text[position:position + 10]!r} in expression {text!r}")
        position = match.end()
        kind = match.lastgroup
        value = match.group(kind)
        if kind == "string":
            value = value[1:-1].replace("''", "'")
        elif kind == "number":
            value = int(value, 16) if value.lower().startswith(("0x", "-0x")) else float(value)
        elif kind == "name" and value in ("true", "false", "null"):
            kind, value = "literal", {"true": True, "false": False, "null": None}[value]
        tokens.append((kind, value))
    return tokens


class ExpressionParser:
    """Recursive descent over the tokens, lowest precedence first: || && ==/!= </>/<=/>= ! postfix."""

    def __init__(self, text: str):
        """Tokenizes the text; parse() builds the tree."""
        self.text = text
        self.tokens = tokenize(text)
        self.position = 0

    def parse(self) -> tuple:
        """Parses the whole expression and returns its tree."""
        if not self.tokens:
            raise ValueError("empty expression")
        tree = self.parse_or()
        if self.position != len(self.tokens):
            raise ValueError(f"unexpected {self.tokens[self.position][1]!r} in expression {self.text!r}")
        return tree

    def peek(self) -> tuple[str, Any] | None:
        """The next token, or None at the end."""
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self, op: str | None = None) -> tuple[str, Any]:
        """Consumes the next token, which must be the operator `op` when given."""
        token = self.peek()
        if token is None or (op is not None and token != ("op", op)):
            raise ValueError(f"expected {op or 'more'} in expression {self.text!r}")
        self.position += 1
        return token

    def parse_binary(self, operators: set[str], operand: Callable[[], tuple]) -> tuple:
        """A left-associative chain of `operators` between operands."""
        left = operand()
        while (token := self.peek()) and token[0] == "op" and token[1] in operators:
            self.take()
            left = ("binary", token[1], left, operand())
        return left

    def parse_or(self) -> tuple:
        """a || b"""
        return self.parse_binary({"||"}, self.parse_and)

    def parse_and(self) -> tuple:
        """a && b"""
        return self.parse_binary({"&&"}, self.parse_equality)

    def parse_equality(self) -> tuple:
        """a == b, a != b"""
        return self.parse_binary({"==", "!="}, self.parse_comparison)

    def parse_comparison(self) -> tuple:
        """a < b, a > b, a <= b, a >= b"""
        return self.parse_binary({"<", ">", "<=", ">="}, self.parse_unary)

    def parse_unary(self) -> tuple:
        """!a"""
        if self.peek() == ("op", "!"):
            self.take()
            return ("not", self.parse_unary())
        return self.parse_postfix()

    def parse_postfix(self) -> tuple:
        """A primary followed by `.name`, `[index]` or, for a bare name, a call."""
        kind, value = self.take()
        if kind in ("number", "string", "literal"):
            node: tuple = ("literal", value)
        elif kind == "op" and value == "(":
            node = self.parse_or()
            self.take(")")
        elif kind == "name":
            if self.peek() == ("op", "("):
                self.take()
                arguments = []
                if self.peek() != ("op", ")"):
                    arguments.append(self.parse_or())
                    while self.peek() == ("op", ","):
                        self.take()
                        arguments.append(self.parse_or())
                self.take(")")
                return ("call", value.lower(), arguments)
            node = ("context", value)
        else:
            raise ValueError(f"unexpected {value!r} in expression {self.text!r}")
        while (token := self.peek()) and token in (("op", "."), ("op", "[")):
            self.take()
            if token[1] == ".":
                name_kind, name = self.take()
                if name_kind not in ("name", "literal") and name != "*":
                    raise ValueError(f"expected a property name in expression {self.text!r}")
                node = ("member", node, ("literal", name if name_kind == "name" else str(name).lower()))
            else:
                index = self.parse_or()
                self.take("]")
                node = ("member", node, index)
        return node


def parse_expression(text: str) -> tuple:
    """Parses one expression (without the `${{ }}` around it)."""
    return ExpressionParser(text).parse()


def truthy(value: Any) -> bool:
    """GitHub's truthiness: false, 0, NaN, '' and null are false."""
    if isinstance(value, float) and math.isnan(value):
        return False
    return value not in (None, False, 0, "")


def to_number(value: Any) -> float:
    """GitHub's coercion to a number for comparisons between different types."""
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip()) if value.strip() else 0.0
        except ValueError:
            return math.nan
    return math.nan


def to_text(value: Any) -> str:
    """How an expression's value is pasted into a string."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        return json.dumps(value, indent=2)
    return str(value)


def loosely_equal(left: Any, right: Any) -> bool:
    """`==`: strings compare case-insensitively; different types compare as numbers."""
    if isinstance(left, str) and isinstance(right, str):
        return left.casefold() == right.casefold()
    if type(left) is type(right) or (isinstance(left, (int, float)) and isinstance(right, (int, float))
                                      and not isinstance(left, bool) and not isinstance(right, bool)):
        return left == right
    return to_number(left) == to_number(right)  # so null == '' holds, as an unset vars.X == '' does


@dataclass
class Status:
    """What the status functions answer for the step being decided."""
    failed: bool = False
    cancelled: bool = False


def evaluate(tree: tuple, contexts: dict[str, Any], status: Status) -> Any:
    """Evaluates a parsed expression."""
    kind = tree[0]
    if kind == "literal":
        return tree[1]
    if kind == "context":
        return contexts.get(tree[1])
    if kind == "member":
        container = evaluate(tree[1], contexts, status)
        key = evaluate(tree[2], contexts, status)
        if isinstance(container, dict):
            for name, value in container.items():
                if isinstance(key, str) and name.casefold() == key.casefold():
                    return value
            return None
        if isinstance(container, list) and isinstance(key, (int, float)) and 0 <= int(key) < len(container):
            return container[int(key)]
        return None
    if kind == "not":
        return not truthy(evaluate(tree[1], contexts, status))
    if kind == "binary":
        operator = tree[1]
        left = evaluate(tree[2], contexts, status)
        if operator == "&&":
            return evaluate(tree[3], contexts, status) if truthy(left) else left
        if operator == "||":
            return left if truthy(left) else evaluate(tree[3], contexts, status)
        right = evaluate(tree[3], contexts, status)
        if operator == "==":
            return loosely_equal(left, right)
        if operator == "!=":
            return not loosely_equal(left, right)
        if isinstance(left, str) and isinstance(right, str):
            a, b = left.casefold(), right.casefold()
        else:
            a, b = to_number(left), to_number(right)
        return {"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[operator]
    if kind == "call":
        return call_function(tree[1], [evaluate(argument, contexts, status) for argument in tree[2]], status)
    raise ValueError(f"cannot evaluate {tree!r}")


def call_function(name: str, arguments: list[Any], status: Status) -> Any:
    """The built-in functions the workflow may use."""
    if name == "success":
        return not status.failed and not status.cancelled
    if name == "failure":
        return status.failed
    if name == "always":
        return True
    if name == "cancelled":
        return status.cancelled
    if name == "contains":
        haystack, needle = arguments
        if isinstance(haystack, list):
            return any(loosely_equal(item, needle) for item in haystack)
        return to_text(needle).casefold() in to_text(haystack).casefold()
    if name == "startswith":
        return to_text(arguments[0]).casefold().startswith(to_text(arguments[1]).casefold())
    if name == "endswith":
        return to_text(arguments[0]).casefold().endswith(to_text(arguments[1]).casefold())
    if name == "format":
        text = to_text(arguments[0])
        for index, argument in enumerate(arguments[1:]):
            text = text.replace("{" + str(index) + "}", to_text(argument))
        return text
    if name == "join":
        items = arguments[0] if isinstance(arguments[0], list) else [arguments[0]]
        return (to_text(arguments[1]) if len(arguments) > 1 else ",").join(to_text(item) for item in items)
    if name == "tojson":
        return json.dumps(arguments[0], indent=2)
    if name == "fromjson":
        return json.loads(to_text(arguments[0]))
    if name == "hashfiles":
        return "0" * 64
    raise ValueError(f"unknown function {name}()")


def uses_status_function(tree: tuple) -> bool:
    """Whether an expression calls success(), failure(), always() or cancelled()."""
    if tree[0] == "call":
        return tree[1] in STATUS_FUNCTIONS or any(uses_status_function(argument) for argument in tree[2])
    return any(uses_status_function(child) for child in tree[1:] if isinstance(child, tuple))


def substitute(text: str, contexts: dict[str, Any], status: Status | None = None) -> str:
    """Replaces every `${{ … }}` in a string by its value, as the runner does before a step runs."""
    return EXPRESSION_PATTERN.sub(lambda match: to_text(evaluate(parse_expression(match.group(1)), contexts, status or Status())), text)


def condition_tree(condition: Any) -> tuple | None:
    """The tree of an `if:` value, bare or wrapped in one `${{ }}`; None when text surrounds the expression."""
    if isinstance(condition, bool):
        return ("literal", condition)
    text = str(condition).strip()
    whole = EXPRESSION_PATTERN.fullmatch(text)
    if whole:
        return parse_expression(whole.group(1))
    if "${{" in text:
        return None  # text around an expression: the result is a non-empty string, always true
    return parse_expression(text)


def evaluate_condition(condition: Any, contexts: dict[str, Any], status: Status) -> bool:
    """Decides an `if:`; success() is implied when the condition names no status function."""
    if condition is None:
        condition = "success()"
    tree = condition_tree(condition)
    if tree is None:
        return bool(substitute(str(condition), contexts, status))
    if not uses_status_function(tree):
        tree = ("binary", "&&", ("call", "success", []), tree)
    return truthy(evaluate(tree, contexts, status))


def expression_references(tree: tuple) -> list[tuple[str, ...]]:
    """Every context path an expression reads, such as ('steps', 'tests', 'outcome')."""
    if tree[0] == "context":
        return [(tree[1],)]
    if tree[0] == "member":
        inner = expression_references(tree[1])
        if tree[2][0] == "literal" and len(inner) == 1 and tree[1][0] in ("context", "member"):
            return [inner[0] + (str(tree[2][1]),)]
        return inner + expression_references(tree[2])
    if tree[0] == "call":
        return [reference for argument in tree[2] for reference in expression_references(argument)]
    return [reference for child in tree[1:] if isinstance(child, tuple) for reference in expression_references(child)]


def expression_calls(tree: tuple) -> list[str]:
    """Every function an expression calls."""
    own = [tree[1]] if tree[0] == "call" else []
    children = tree[2] if tree[0] == "call" else [child for child in tree[1:] if isinstance(child, tuple)]
    return own + [name for child in children for name in expression_calls(child)]


# --------------------------------------------------------------------------------------------
# Reading the workflow
# --------------------------------------------------------------------------------------------

def load_workflow(path: Path) -> dict[str, Any]:
    """Loads the workflow; YAML 1.1 reads the key `on` as True, so it is renamed back."""
    try:
        document = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise CheckFailed(f"{path} is not valid YAML: {error}") from error
    if not isinstance(document, dict):
        raise CheckFailed(f"{path} is not a mapping of workflow keys")
    if True in document and "on" not in document:
        document["on"] = document.pop(True)
    return document


def parse_contract(path: Path) -> dict[str, set[str]]:
    """Reads the command table of CONTRACT.md: each `release SUBCOMMAND …` and the options in it."""
    commands: dict[str, set[str]] = {}
    for line in path.read_text().splitlines():
        if not line.startswith("| `release "):
            continue
        first_cell = line.replace("\\|", "/").split("|")[1]
        for usage in re.findall(r"`release ([^`]*)`", first_cell):
            words = usage.split()
            options = set(re.findall(r"--[a-z][a-z-]*", usage))
            commands.setdefault(words[0], set()).update(options)
    if not commands:
        raise CheckFailed(f"{path} has no command table (rows starting with | `release …`)")
    return commands


def strip_heredocs(script: str) -> str:
    """Drops the bodies of here-documents (their text is data, not commands)."""
    kept, terminator = [], None
    for line in script.splitlines():
        if terminator is not None:
            if line.strip() == terminator:
                terminator = None
            continue
        kept.append(line)
        for match in re.finditer(r"<<-?\s*['\"]?([A-Za-z_][A-Za-z0-9_]*)['\"]?", line):
            if line[:match.start()].count('"') % 2 == 0:  # not NAME<<EOF inside a quoted echo
                terminator = match.group(1)
                break
    return "\n".join(kept)


SHELL_OPERATORS = ";&|()<>"
SHELL_PREFIXES = {"!", "if", "elif", "then", "else", "do", "while", "until", "sudo", "command", "exec", "time", "{"}


def release_invocations(script: str) -> list[list[str]]:
    """The argument lists of every `release …` command a bash script runs.

    Each logical line is split into simple commands at the shell's operators; a command whose
    first word (after keywords such as `then` and VAR=value assignments) is `release` counts.
    A `release` inside a quoted "$(…)" is not seen; the workflow writes those as plain commands.
    """
    invocations = []
    for line in strip_heredocs(script).replace("\\\n", " ").splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=SHELL_OPERATORS)
        lexer.whitespace_split = True
        lexer.commenters = "#"
        tokens = []
        try:
            for token in lexer:
                tokens.append(token)
        except ValueError:
            pass  # an unterminated quote: what was read before it is enough
        command: list[str] = []
        for token in tokens + [";"]:
            if token and all(character in SHELL_OPERATORS for character in token):
                words = list(command)
                while words and (words[0] in SHELL_PREFIXES or re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[0])):
                    words.pop(0)
                if words and words[0] == "release":
                    invocations.append(words[1:])
                command = []
            else:
                command.append(token)
    return invocations


def subcommand_of(arguments: list[str]) -> tuple[str | None, list[str]]:
    """Skips global options written before the subcommand; returns it and what follows."""
    index = 0
    while index < len(arguments) and arguments[index].startswith("-"):
        name = arguments[index].split("=", 1)[0]
        index += 2 if name in GLOBAL_VALUED and "=" not in arguments[index] else 1
    if index >= len(arguments):
        return None, []
    return arguments[index], arguments[index + 1:]


# --------------------------------------------------------------------------------------------
# Structure checks
# --------------------------------------------------------------------------------------------

def all_strings(node: Any, where: str = "") -> list[tuple[str, str]]:
    """Every string in the document with a dotted path saying where it is."""
    if isinstance(node, dict):
        return [item for key, value in node.items() for item in all_strings(value, f"{where}.{key}" if where else str(key))]
    if isinstance(node, list):
        return [item for index, value in enumerate(node) for item in all_strings(value, f"{where}[{index}]")]
    return [(where, node)] if isinstance(node, str) else []


def job_environment_sources(workflow: dict[str, Any], job: dict[str, Any]) -> dict[str, str]:
    """The `env:` a job's steps inherit: the workflow's, then the job's."""
    merged = {str(key): str(value) for key, value in (workflow.get("env") or {}).items()}
    merged.update({str(key): str(value) for key, value in (job.get("env") or {}).items()})
    return merged


def check_triggers(workflow: dict[str, Any]) -> list[str]:
    """Both triggers: push to develop, and workflow_dispatch with `version` and boolean `dry_run`."""
    problems = []
    triggers = workflow.get("on")
    if not isinstance(triggers, dict):
        return ["`on:` must be a mapping with push and workflow_dispatch"]
    branches = ((triggers.get("push") or {}).get("branches") or []) if "push" in triggers else None
    if branches is None:
        problems.append("`on.push` is missing")
    elif "develop" not in branches:
        problems.append(f"`on.push.branches` must include develop (found {branches})")
    if "workflow_dispatch" not in triggers:
        problems.append("`on.workflow_dispatch` is missing")
    else:
        inputs = (triggers.get("workflow_dispatch") or {}).get("inputs") or {}
        version = inputs.get("version")
        if not isinstance(version, dict) or version.get("required", False):
            problems.append("workflow_dispatch needs an optional `version` input")
        dry_run = inputs.get("dry_run")
        if not isinstance(dry_run, dict) or dry_run.get("type") != "boolean":
            problems.append("workflow_dispatch needs a boolean `dry_run` input")
    return problems


def check_job_shape(name: str, job: Any) -> list[str]:
    """runs-on, a list of steps, each with exactly one of uses/run, unique ids."""
    if not isinstance(job, dict):
        return [f"job {name} is missing"]
    problems = []
    if job.get("runs-on") != "ubuntu-latest":
        problems.append(f"job {name}: runs-on should be ubuntu-latest (found {job.get('runs-on')!r})")
    steps = job.get("steps")
    if not isinstance(steps, list) or not steps:
        return problems + [f"job {name}: `steps` must be a non-empty list"]
    ids = set()
    for index, step in enumerate(steps):
        where = f"job {name}, step {index + 1} ({step.get('name') or step.get('id') or '?'})" if isinstance(step, dict) else f"job {name}, step {index + 1}"
        if not isinstance(step, dict):
            problems.append(f"{where}: not a mapping")
            continue
        if ("uses" in step) == ("run" in step):
            problems.append(f"{where}: needs exactly one of `uses:` and `run:`")
        unknown = set(step) - {"id", "name", "if", "uses", "run", "with", "env", "shell", "working-directory",
                               "continue-on-error", "timeout-minutes"}
        if unknown:
            problems.append(f"{where}: unknown keys {sorted(unknown)}")
        if "id" in step:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", str(step["id"])):
                problems.append(f"{where}: id {step['id']!r} must start with a letter or _ and hold only letters, digits, - and _")
            if step["id"] in ids:
                problems.append(f"{where}: duplicate id {step['id']}")
            ids.add(step["id"])
    return problems


def check_expressions(workflow: dict[str, Any]) -> list[str]:
    """Every `${{ }}` and `if:` parses, names known contexts and functions, and earlier steps only."""
    problems = []
    for where, text in all_strings(workflow):
        for match in EXPRESSION_PATTERN.finditer(text):
            problems += check_one_expression(match.group(1), where)
    for job_name, job in (workflow.get("jobs") or {}).items():
        if not isinstance(job, dict):
            continue
        if isinstance(job.get("if"), str) and not EXPRESSION_PATTERN.search(job["if"]):
            problems += check_one_expression(job["if"], f"jobs.{job_name}.if")
        earlier: set[str] = set()
        for index, step in enumerate(job.get("steps") or []):
            if not isinstance(step, dict):
                continue
            where = f"jobs.{job_name}.steps[{index}]"
            condition = step.get("if")
            if isinstance(condition, str) and not EXPRESSION_PATTERN.search(condition):
                problems += check_one_expression(condition, f"{where}.if")
            for field_where, text in all_strings(step, where):
                texts = [match.group(1) for match in EXPRESSION_PATTERN.finditer(text)]
                if field_where == f"{where}.if" and not texts:
                    texts = [text]
                for expression in texts:
                    try:
                        references = expression_references(parse_expression(expression))
                    except ValueError:
                        continue  # reported above
                    for reference in references:
                        if reference[0] == "steps" and len(reference) > 1 and reference[1] not in earlier:
                            problems.append(f"{field_where}: steps.{reference[1]} is not an earlier step of job {job_name}")
            if "id" in step:
                earlier.add(str(step["id"]))
    return problems


def check_one_expression(expression: str, where: str) -> list[str]:
    """One expression: it parses, its contexts and functions are known."""
    try:
        tree = parse_expression(expression)
    except ValueError as error:
        return [f"{where}: {error}"]
    problems = []
    for reference in expression_references(tree):
        if reference[0] not in KNOWN_CONTEXTS:
            problems.append(f"{where}: unknown context {reference[0]!r} in {expression.strip()!r}")
    for name in expression_calls(tree):
        if name not in KNOWN_FUNCTIONS:
            problems.append(f"{where}: unknown function {name}() in {expression.strip()!r}")
    return problems


def check_release_commands(workflow: dict[str, Any], contract: dict[str, set[str]]) -> list[str]:
    """Every `release` subcommand and option used is in the contract's command list."""
    problems = []
    for job_name, step in iterate_steps(workflow):
        for arguments in release_invocations(str(step.get("run") or "")):
            subcommand, rest = subcommand_of(arguments)
            where = f"job {job_name}, step {step.get('id') or step.get('name')}"
            if subcommand is None:
                if not set(arguments) <= GLOBAL_OPTIONS | ROOT_FLAGS:
                    problems.append(f"{where}: `release {' '.join(arguments)}` names no subcommand")
                continue
            if subcommand not in contract:
                problems.append(f"{where}: `release {subcommand}` is not in the contract's command list")
                continue
            for argument in rest:
                if argument.startswith("--"):
                    option = argument.split("=", 1)[0]
                    if option not in contract[subcommand] | GLOBAL_OPTIONS:
                        problems.append(f"{where}: `release {subcommand}` has no option {option} in the contract")
    return problems


def iterate_steps(workflow: dict[str, Any]):
    """(job name, step) for every step of every job."""
    for job_name, job in (workflow.get("jobs") or {}).items():
        if isinstance(job, dict):
            for step in job.get("steps") or []:
                if isinstance(step, dict):
                    yield job_name, step


def job_commands(job: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """(step id, release arguments) for every `release` command a job runs, in order."""
    return [(str(step.get("id") or step.get("name")), arguments)
            for step in job.get("steps") or [] if isinstance(step, dict)
            for arguments in release_invocations(str(step.get("run") or ""))]


def check_jobs(workflow: dict[str, Any]) -> list[str]:
    """The develop and promote jobs have the steps, environment and order the flow needs."""
    problems = []
    jobs = workflow.get("jobs") or {}
    for name in ("develop", "promote"):
        problems += check_job_shape(name, jobs.get(name))
    if problems:
        return problems
    for name, job in (("develop", jobs["develop"]), ("promote", jobs["promote"])):
        env = job_environment_sources(workflow, job)
        if "secrets.RELEASE_DATABASE_URL" not in env.get("RELEASE_DATABASE_URL", ""):
            problems.append(f"job {name}: RELEASE_DATABASE_URL must come from secrets.RELEASE_DATABASE_URL")
        if not re.search(r"github\.(triggering_)?actor", env.get("RELEASE_ACTOR", "")):
            problems.append(f"job {name}: RELEASE_ACTOR must come from github.actor (or github.triggering_actor)")
        if not env.get("RELEASE_CONFIG"):
            problems.append(f"job {name}: RELEASE_CONFIG must be set")
        commands = job_commands(job)
        subcommands = [subcommand_of(arguments)[0] for _, arguments in commands]
        if subcommands.count("migrate") != 1:
            problems.append(f"job {name}: must run `release migrate` exactly once (found {subcommands.count('migrate')})")
        elif subcommands[0] != "migrate":
            problems.append(f"job {name}: `release migrate` must come before the other release commands")
        ids = [step.get("id") for step in job["steps"] if isinstance(step, dict)]
        if "install-release" not in ids:
            problems.append(f"job {name}: no step with `id: install-release` (the checker replaces it by --binary)")
        else:
            first_use = next((index for index, step in enumerate(job["steps"])
                              if isinstance(step, dict) and release_invocations(str(step.get("run") or ""))), None)
            if first_use is not None and first_use < ids.index("install-release"):
                problems.append(f"job {name}: `release` runs before the install-release step")
    develop = jobs["develop"]
    develop_ids = [step.get("id") for step in develop["steps"]]
    for required in ("artifact", "tests"):
        if required not in develop_ids:
            problems.append(f"job develop: no step with `id: {required}`")
    develop_commands = [subcommand_of(arguments) for _, arguments in job_commands(develop)]
    create = [rest for subcommand, rest in develop_commands if subcommand == "create"]
    if not create or not {"--commit", "--artifact"} <= {argument.split("=")[0] for argument in create[0]}:
        problems.append("job develop: needs `release create VERSION --commit … --artifact …`")
    if not any(subcommand == "check" and "tests" in rest for subcommand, rest in develop_commands):
        problems.append("job develop: needs `release check VERSION tests passed|failed`")
    if not any(subcommand == "deploy" and "develop" in rest for subcommand, rest in develop_commands):
        problems.append("job develop: needs `release deploy VERSION develop`")
    if "develop" not in str(develop.get("if", "")) and "push" not in str(develop.get("if", "")):
        problems.append("job develop: needs `if: github.event_name == 'push'` so a dispatch does not run it")
    promote = jobs["promote"]
    environment = promote.get("environment")
    if (environment.get("name") if isinstance(environment, dict) else environment) != "production":
        problems.append("job promote: needs `environment: production`")
    if not isinstance(promote.get("concurrency"), (dict, str)):
        problems.append("job promote: needs a `concurrency` group")
    promotions = [(step_id, rest) for step_id, arguments in job_commands(promote)
                  for subcommand, rest in [subcommand_of(arguments)] if subcommand == "promote"]
    dry = [index for index, (_, rest) in enumerate(promotions) if "--dry-run" in rest]
    real = [index for index, (_, rest) in enumerate(promotions) if "--dry-run" not in rest]
    if not dry or not real or dry[0] > real[0]:
        problems.append("job promote: needs `release promote develop main --dry-run` before `release promote develop main`")
    for step in promote["steps"]:
        runs = [subcommand_of(arguments) for arguments in release_invocations(str(step.get("run") or ""))]
        if any(subcommand == "promote" and "--dry-run" not in rest for subcommand, rest in runs):
            if "inputs.dry_run" not in str(step.get("if", "")):
                problems.append(f"job promote, step {step.get('id')}: the real promotion must be skipped when inputs.dry_run is true")
    if "dispatch" not in str(promote.get("if", "")):
        problems.append("job promote: needs `if: github.event_name == 'workflow_dispatch'` so a push does not run it")
    return problems


SECRET_DUMPERS = re.compile(r"^\s*(?:env|printenv|export -p|set)\s*(?:[|>;]|$)|\bset\s+-[a-z]*x|\bbash\s+-[a-z]*x")


def check_secrets(workflow: dict[str, Any]) -> list[str]:
    """No secret or user input pasted into a script; nothing that echoes a secret-bearing variable."""
    problems = []
    for job_name, step in iterate_steps(workflow):
        script = str(step.get("run") or "")
        where = f"job {job_name}, step {step.get('id') or step.get('name')}"
        for match in EXPRESSION_PATTERN.finditer(script):
            expression = match.group(1)
            if "secrets." in expression:
                problems.append(f"{where}: `${{{{{expression}}}}}` pastes a secret into the script; pass it through env:")
            if re.search(r"\binputs\.|github\.event\.|github\.head_ref", expression):
                problems.append(f"{where}: `${{{{{expression}}}}}` pastes user input into the script; pass it through env:")
        env = job_environment_sources(workflow, (workflow.get("jobs") or {}).get(job_name) or {})
        env.update({str(key): str(value) for key, value in (step.get("env") or {}).items()})
        secret_names = [name for name, value in env.items() if "secrets." in value]
        commands = strip_heredocs(script)
        for line in commands.splitlines():
            if SECRET_DUMPERS.search(line):
                problems.append(f"{where}: `{line.strip()}` would print secrets (an environment dump or a command trace)")
            if re.match(r"\s*(echo|printf|cat)\b", line):
                for name in secret_names:
                    if re.search(r"\$\{?" + re.escape(name) + r"\b", line):
                        problems.append(f"{where}: `{line.strip()}` prints the secret ${name}")
    return problems


def check_env_file_conflicts(workflow: dict[str, Any]) -> list[str]:
    """A name written to $GITHUB_ENV must not also be in the workflow's or job's env: (which wins is murky)."""
    problems = []
    for job_name, job in (workflow.get("jobs") or {}).items():
        if not isinstance(job, dict):
            continue
        declared = set(job_environment_sources(workflow, job))
        for step in job.get("steps") or []:
            for line in str((step or {}).get("run") or "").splitlines():
                if "GITHUB_ENV" in line:
                    for name in re.findall(r"\b([A-Za-z_][A-Za-z0-9_]*)=", line):
                        if name in declared:
                            problems.append(f"job {job_name}: {name} is both written to $GITHUB_ENV and declared in an env: map")
    return problems


def check_structure(workflow: dict[str, Any], contract: dict[str, set[str]]) -> list[str]:
    """All structure checks; returns the problems found (empty: the workflow is sound)."""
    problems = check_triggers(workflow)
    problems += check_jobs(workflow)
    problems += check_expressions(workflow)
    problems += check_release_commands(workflow, contract)
    problems += check_secrets(workflow)
    problems += check_env_file_conflicts(workflow)
    return problems


# --------------------------------------------------------------------------------------------
# Simulation
# --------------------------------------------------------------------------------------------

@dataclass
class StepResult:
    """What one step did."""
    id: str
    name: str
    outcome: str            # success | failure | skipped
    conclusion: str         # the outcome after continue-on-error
    outputs: dict[str, str] = field(default_factory=dict)
    log: str = ""
    note: str = ""


@dataclass
class JobResult:
    """What one job did: whether it ran, its result and its steps by id."""
    ran: bool
    result: str              # success | failure | skipped
    steps: list[StepResult]

    def step(self, step_id: str) -> StepResult:
        """The step with this id."""
        for step in self.steps:
            if step.id == step_id:
                return step
        raise CheckFailed(f"the job has no step {step_id}")


@dataclass
class Event:
    """One simulated trigger of the workflow."""
    name: str                # push | workflow_dispatch
    sha: str
    ref_name: str
    run_number: int
    actor: str
    inputs: dict[str, Any] = field(default_factory=dict)
    tests_pass: bool = True


def read_env_file(path: Path) -> dict[str, str]:
    """Parses a GITHUB_ENV / GITHUB_OUTPUT file: NAME=value lines and NAME<<DELIMITER blocks."""
    values: dict[str, str] = {}
    if not path.exists():
        return values
    lines = path.read_text().splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if not line.strip():
            continue
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            body = []
            while index < len(lines) and lines[index] != delimiter:
                body.append(lines[index])
                index += 1
            index += 1
            values[name] = "\n".join(body)
        elif "=" in line:
            name, value = line.split("=", 1)
            values[name] = value
        else:
            raise CheckFailed(f"{path.name}: malformed line {line!r} (expected NAME=value or NAME<<DELIMITER)")
    return values


class JobRunner:
    """Runs one job of the workflow for one event, as a runner would (see the module docstring)."""

    def __init__(self, workflow: dict[str, Any], job_name: str, event: Event, workspace: Path,
                 binary: Path, secrets: dict[str, str], variables: dict[str, str], verbose: bool,
                 real_install_step: bool):
        """Prepares a runner temp directory for the job; run() runs it."""
        self.workflow = workflow
        self.job_name = job_name
        self.job = workflow["jobs"][job_name]
        self.event = event
        self.workspace = workspace
        self.binary = binary
        self.secrets = secrets
        self.variables = variables
        self.verbose = verbose
        self.real_install_step = real_install_step
        self.temp = Path(tempfile.mkdtemp(prefix=f"runner-{job_name}-", dir=workspace.parent))
        self.env_from_files: dict[str, str] = {}
        self.path_entries: list[str] = []
        self.summary = self.temp / "step_summary.md"
        self.steps: dict[str, dict[str, Any]] = {}
        self.status = Status()

    def github_context(self) -> dict[str, Any]:
        """The `github` context (and the matching GITHUB_* variables)."""
        repository = "acme/crm-api"
        return {
            "sha": self.event.sha, "ref": f"refs/heads/{self.event.ref_name}", "ref_name": self.event.ref_name,
            "ref_type": "branch", "event_name": self.event.name, "actor": self.event.actor,
            "triggering_actor": self.event.actor, "repository": repository, "repository_owner": "acme",
            "run_id": str(1000 + self.event.run_number), "run_number": str(self.event.run_number), "run_attempt": "1",
            "server_url": "https://github.com", "api_url": "https://api.github.com", "workflow": self.workflow.get("name", ""),
            "job": self.job_name, "workspace": str(self.workspace), "token": self.secrets.get("GITHUB_TOKEN", ""),
            "event": {"inputs": {key: to_text(value) for key, value in self.event.inputs.items()},
                      "ref": f"refs/heads/{self.event.ref_name}", "after": self.event.sha},
        }

    def contexts(self, env: dict[str, str]) -> dict[str, Any]:
        """Every context an expression may read at this point of the job."""
        return {
            "github": self.github_context(), "inputs": dict(self.event.inputs), "secrets": self.secrets,
            "vars": self.variables, "env": env, "steps": self.steps, "matrix": {}, "needs": {}, "strategy": {},
            "runner": {"os": "Linux", "arch": "X64", "temp": str(self.temp), "name": "check-workflow"},
            "job": {"status": "failure" if self.status.failed else "success"},
        }

    def default_environment(self, step_id: str) -> dict[str, str]:
        """The variables a runner sets for every step, plus a few of the caller's (PATH, HOME, locale)."""
        github = self.github_context()
        env = {name: os.environ[name] for name in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "USER", "LOGNAME") if name in os.environ}
        env.update({
            "CI": "true", "GITHUB_ACTIONS": "true", "GITHUB_SHA": github["sha"], "GITHUB_REF": github["ref"],
            "GITHUB_REF_NAME": github["ref_name"], "GITHUB_REF_TYPE": "branch", "GITHUB_EVENT_NAME": github["event_name"],
            "GITHUB_ACTOR": github["actor"], "GITHUB_TRIGGERING_ACTOR": github["triggering_actor"],
            "GITHUB_REPOSITORY": github["repository"], "GITHUB_REPOSITORY_OWNER": github["repository_owner"],
            "GITHUB_RUN_ID": github["run_id"], "GITHUB_RUN_NUMBER": github["run_number"], "GITHUB_RUN_ATTEMPT": "1",
            "GITHUB_SERVER_URL": github["server_url"], "GITHUB_API_URL": github["api_url"], "GITHUB_WORKFLOW": github["workflow"],
            "GITHUB_JOB": self.job_name, "GITHUB_ACTION": step_id, "GITHUB_WORKSPACE": str(self.workspace),
            "GITHUB_EVENT_PATH": str(self.temp / "event.json"), "RUNNER_OS": "Linux", "RUNNER_ARCH": "X64",
            "RUNNER_TEMP": str(self.temp), "GITHUB_STEP_SUMMARY": str(self.summary),
        })
        if self.path_entries:
            env["PATH"] = os.pathsep.join(reversed(self.path_entries)) + os.pathsep + env.get("PATH", "")
        return env

    def declared_environment(self, step: dict[str, Any]) -> dict[str, str]:
        """workflow env, job env, $GITHUB_ENV values, step env: each later one wins."""
        env: dict[str, str] = {}
        for source in (self.workflow.get("env") or {}, self.job.get("env") or {}):
            for name, value in source.items():
                env[str(name)] = substitute(to_text(value), self.contexts(env), self.status)
        env.update(self.env_from_files)
        for name, value in (step.get("env") or {}).items():
            env[str(name)] = substitute(to_text(value), self.contexts(env), self.status)
        return env

    def replacement(self, step: dict[str, Any]) -> tuple[str | None, str]:
        """The script that stands in for a marked step (None: run the step's own), and a note."""
        step_id = step.get("id")
        if step_id == "install-release" and not self.real_install_step:
            bin_dir = shlex.quote(str(self.temp / "release-bin"))
            return (f"mkdir -p {bin_dir}\nln -sf {shlex.quote(str(self.binary))} {bin_dir}/release\n"
                    f"echo {bin_dir} >> \"$GITHUB_PATH\"\n{bin_dir}/release --version\n", f"replaced: --binary {self.binary}")
        if step_id == "artifact":
            return ('artifact="check.invalid/crm-api:${VERSION:-unversioned}"\n'
                    'echo "ARTIFACT=$artifact" >> "$GITHUB_ENV"\necho "artifact=$artifact" >> "$GITHUB_OUTPUT"\n',
                    "replaced: artifact stub")
        if step_id == "tests":
            return ("true\n" if self.event.tests_pass else "false\n"), f"replaced: tests {'pass' if self.event.tests_pass else 'fail'}"
        return None, ""

    def run(self) -> JobResult:
        """Decides the job's `if:`, then runs its steps in order."""
        (self.temp / "event.json").write_text(json.dumps(self.github_context()["event"]))
        if not evaluate_condition(self.job.get("if"), self.contexts({}), Status()):
            return JobResult(ran=False, result="skipped", steps=[])
        results = []
        for index, step in enumerate(self.job["steps"]):
            results.append(self.run_step(index, step))
        return JobResult(ran=True, result="failure" if self.status.failed else "success", steps=results)

    def run_step(self, index: int, step: dict[str, Any]) -> StepResult:
        """Runs (or skips) one step and records its outcome, outputs and exported variables."""
        step_id = str(step.get("id") or f"__step{index}")
        name = str(step.get("name") or step.get("id") or step.get("uses") or step.get("run", "")[:40])
        env = self.declared_environment(step)
        contexts = self.contexts(env)
        if not evaluate_condition(step.get("if"), contexts, self.status):
            return self.record(step_id, StepResult(step_id, name, "skipped", "skipped", note="(if: false)"))
        if "uses" in step:
            return self.record(step_id, StepResult(step_id, name, "success", "success", note=f"(uses: {step['uses']}, not run)"))
        script, note = self.replacement(step)
        if script is None:
            script = substitute(str(step["run"]), contexts, self.status)
        files = {name: self.temp / f"{name.lower()}.{index}" for name in ("GITHUB_ENV", "GITHUB_OUTPUT", "GITHUB_PATH")}
        for path in files.values():
            path.write_text("")
        process_env = self.default_environment(step_id)
        process_env.update(env)
        process_env.update({name: str(path) for name, path in files.items()})
        script_path = self.temp / f"step{index}.sh"
        script_path.write_text(script)
        shell = step.get("shell") or ((self.job.get("defaults") or {}).get("run") or {}).get("shell") \
            or ((self.workflow.get("defaults") or {}).get("run") or {}).get("shell")
        command = ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script_path)] if shell == "bash" \
            else ["bash", "-e", str(script_path)]
        directory = self.workspace / str(step.get("working-directory", "."))
        timeout = float(step.get("timeout-minutes") or 10) * 60
        try:
            finished = subprocess.run(command, cwd=directory, env=process_env, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
            log, code = finished.stdout, finished.returncode
        except subprocess.TimeoutExpired as error:
            output = error.stdout or ""
            log, code = (output.decode(errors="replace") if isinstance(output, bytes) else output) + "\n(timed out)", 124
        outcome = "success" if code == 0 else "failure"
        self.env_from_files.update(read_env_file(files["GITHUB_ENV"]))
        self.path_entries += [line.strip() for line in files["GITHUB_PATH"].read_text().splitlines() if line.strip()]
        outputs = read_env_file(files["GITHUB_OUTPUT"])
        continue_on_error = truthy(step.get("continue-on-error", False))
        conclusion = "success" if outcome == "success" or continue_on_error else "failure"
        if conclusion == "failure":
            self.status.failed = True
        result = StepResult(step_id, name, outcome, conclusion, outputs, log, note or (f"exit {code}" if code else ""))
        if self.verbose:
            print(f"    --- {self.event.name} #{self.event.run_number} {self.job_name} / {name}: {outcome} (exit {code}) {note}")
            if log.strip():
                print("    | " + log.rstrip().replace("\n", "\n    | "))
        return self.record(step_id, result)

    def record(self, step_id: str, result: StepResult) -> StepResult:
        """Makes a step's outcome and outputs visible to later steps as steps.<id>."""
        if self.verbose and result.note.startswith("("):
            print(f"    --- {self.event.name} #{self.event.run_number} {self.job_name} / {result.name}: {result.outcome} {result.note}")
        self.steps[step_id] = {"outcome": result.outcome, "conclusion": result.conclusion, "outputs": result.outputs}
        return result


class ReleaseProbe:
    """Asks `release` about the state of the scenario's app, always with --json."""

    def __init__(self, binary: Path, database_url: str, config: Path):
        """Runs the binary with only the database URL, the config and an actor of its own."""
        self.binary = binary
        self.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp"),
                    "RELEASE_DATABASE_URL": database_url, "RELEASE_CONFIG": str(config), "RELEASE_ACTOR": "check-workflow"}

    def json(self, *arguments: str) -> dict[str, Any]:
        """Runs `release ARGUMENTS --json` and returns the document (exit 0 required)."""
        finished = subprocess.run([str(self.binary), *arguments, "--json"], env=self.env, capture_output=True, text=True, timeout=120)
        if finished.returncode != 0:
            raise CheckFailed(f"`release {' '.join(arguments)} --json` exited {finished.returncode}: {finished.stdout}{finished.stderr}")
        return json.loads(finished.stdout)

    def live(self, environment: str) -> dict[str, Any] | None:
        """`status ENV --json`: what is live there (None: nothing)."""
        return self.json("status", environment)["environments"][0]["live"]

    def release(self, version: str) -> dict[str, Any] | None:
        """The registered release with this version, from `list --json`."""
        return next((item for item in self.json("list", "--limit", "1000")["releases"] if item["version"] == version), None)

    def checks(self, version: str) -> list[tuple[str, str]]:
        """The (check, status) pairs recorded for a version, oldest first, from the audit trail."""
        events = sorted(self.json("audit", "--format", "json")["events"], key=lambda event: event["id"])
        return [(event["details"]["check"], event["details"]["status"]) for event in events
                if event["action"] == "check.recorded" and event["version"] == version]

    def snapshot(self) -> tuple:
        """Everything a dry run must leave alone: live releases, deployments, audit events."""
        status = self.json("status")
        history = self.json("history", "--limit", "1000")
        audit = self.json("audit", "--format", "json")
        return (json.dumps(status, sort_keys=True), [item["id"] for item in history["deployments"]],
                [event["id"] for event in audit["events"]])

    def subcommands(self) -> set[str]:
        """The subcommands the binary lists in its --help."""
        text = subprocess.run([str(self.binary), "--help"], capture_output=True, text=True, env=self.env).stdout
        section = text.split("SUBCOMMANDS:", 1)[-1]
        return set(re.findall(r"^  ([a-z][a-z-]*)\s", section, re.MULTILINE))


def git(workspace: Path, *arguments: str) -> str:
    """Runs git in the scenario repository."""
    return subprocess.run(["git", "-c", "user.name=check-workflow", "-c", "user.email=check@example.invalid",
                           "-c", "commit.gpgsign=false", *arguments], cwd=workspace, check=True,
                          capture_output=True, text=True).stdout.strip()


def make_repository(root: Path, app: str, deploy_log: Path) -> Path:
    """A git repository on branch develop holding a release.yml with command providers."""
    workspace = root / "crm-api"
    workspace.mkdir()
    git(workspace, "init", "-q", "-b", "develop")
    deploy = 'echo "$RELEASE_ENV $RELEASE_VERSION $RELEASE_ARTIFACT $RELEASE_OPERATION" >> ' + shlex.quote(str(deploy_log))
    config = {
        "app": app,
        "environments": {
            "develop": {"provider": "command", "command": {"deploy": deploy}},
            "main": {"provider": "command", "command": {"deploy": deploy}, "promote_from": "develop",
                     "gates": {"checks": ["tests"]}},
        },
    }
    (workspace / "release.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    (workspace / "app.py").write_text("print('crm-api')\n")
    git(workspace, "add", ".")
    git(workspace, "commit", "-q", "-m", "Initial commit")
    return workspace


def new_commit(workspace: Path, message: str) -> str:
    """Adds a commit to the repository and returns its SHA."""
    with open(workspace / "app.py", "a") as file:
        file.write(f"# {message}\n")
    git(workspace, "commit", "-q", "-am", message)
    return git(workspace, "rev-parse", "HEAD")


@dataclass
class Simulation:
    """The state shared by the scenarios of one --run."""
    workflow: dict[str, Any]
    workspace: Path
    binary: Path
    secrets: dict[str, str]
    variables: dict[str, str]
    probe: ReleaseProbe
    deploy_log: Path
    verbose: bool
    real_install_step: bool
    run_number: int = 0
    passing_version: str = ""
    failing_version: str = ""

    def trigger(self, event: Event) -> dict[str, JobResult]:
        """Runs every job of the workflow for one event (jobs whose `if:` is false are skipped)."""
        results = {}
        for job_name in self.workflow["jobs"]:
            runner = JobRunner(self.workflow, job_name, event, self.workspace, self.binary, self.secrets,
                               self.variables, self.verbose, self.real_install_step)
            results[job_name] = runner.run()
        for job_name, result in results.items():
            for step in result.steps:
                for name, value in self.secrets.items():
                    if len(value) >= 8 and value in step.log:
                        raise CheckFailed(f"job {job_name}, step {step.name} printed the secret {name}")
        return results

    def push(self, message: str, tests_pass: bool) -> Event:
        """A push to develop with a new commit."""
        self.run_number += 1
        return Event("push", new_commit(self.workspace, message), "develop", self.run_number, "dev-alice", tests_pass=tests_pass)

    def dispatch(self, version: str = "", dry_run: bool = False) -> Event:
        """A workflow_dispatch (from the default branch) with the two inputs."""
        self.run_number += 1
        return Event("workflow_dispatch", git(self.workspace, "rev-parse", "HEAD"), "main", self.run_number, "ops-bob",
                     inputs={"version": version, "dry_run": dry_run})

    def deploys(self) -> list[list[str]]:
        """The deployments the command provider ran, as [env, version, artifact, operation]."""
        return [line.split() for line in self.deploy_log.read_text().splitlines()] if self.deploy_log.exists() else []


def expect(condition: bool, message: str) -> None:
    """Raises CheckFailed with the message unless the condition holds."""
    if not condition:
        raise CheckFailed(message)


def only_job(results: dict[str, JobResult], name: str) -> JobResult:
    """The job the event ran, after checking that every other job was skipped by its `if:`."""
    for other, result in results.items():
        expect((other == name) == result.ran, f"job {other} {'ran' if result.ran else 'was skipped'} on this event")
    return results[name]


def scenario_promote_nothing_live(sim: Simulation) -> str:
    """Before anything is on develop a promotion is refused at the dry run and main stays empty."""
    before = sim.probe.snapshot()
    job = only_job(sim.trigger(sim.dispatch()), "promote")
    expect(job.result == "failure", "the promote job succeeded with nothing live on develop")
    expect(job.step("gates").outcome == "failure", "the dry-run step did not refuse")
    expect(job.step("promote").outcome == "skipped", "the promotion ran after a refused dry run")
    expect(sim.probe.snapshot() == before, "a refused promotion changed the database")
    return "promote, nothing live on develop: refused at the dry run, nothing changed"


def scenario_develop_pass(sim: Simulation) -> str:
    """A push whose tests pass: release created, `tests passed` recorded, live on develop."""
    event = sim.push("Add contacts endpoint", tests_pass=True)
    job = only_job(sim.trigger(event), "develop")
    version = job.step("version").outputs.get("version", "")
    expect(job.result == "success", f"the develop job failed with passing tests ({failed_steps(job)})")
    release = sim.probe.release(version)
    expect(release is not None, f"release {version!r} was not created")
    expect(release["commit"] == event.sha, f"release {version} has commit {release['commit']}, expected {event.sha}")
    artifact = f"check.invalid/crm-api:{version}"
    expect(release["artifact"] == artifact, f"release {version} has artifact {release['artifact']!r}, expected {artifact!r}")
    expect(sim.probe.checks(version)[-1:] == [("tests", "passed")], f"checks recorded for {version}: {sim.probe.checks(version)}")
    live = sim.probe.live("develop")
    expect(live is not None and live["version"] == version, f"develop runs {live}, expected {version}")
    expect(live["by"] == event.actor, f"develop's release was put there by {live['by']}, expected {event.actor}")
    expect(["develop", version, artifact, "deploy"] in sim.deploys(), "the develop deploy command did not run with the release's values")
    sim.passing_version = version
    return f"develop, tests pass: {version} created, tests passed, live on develop"


def scenario_develop_fail(sim: Simulation) -> str:
    """A push whose tests fail: `tests failed` recorded, not deployed, the job fails."""
    live_before = sim.probe.live("develop")
    job = only_job(sim.trigger(sim.push("Break the contacts endpoint", tests_pass=False)), "develop")
    version = job.step("version").outputs.get("version", "")
    expect(job.result == "failure", "the develop job succeeded although the tests failed")
    expect(job.step("record-tests").outcome == "success", "the failed tests were not recorded")
    expect(sim.probe.checks(version)[-1:] == [("tests", "failed")], f"checks recorded for {version}: {sim.probe.checks(version)}")
    expect(job.step("deploy").outcome == "skipped", "the deploy step ran although the tests failed")
    live = sim.probe.live("develop")
    expect(live == live_before, f"develop changed to {live} although the tests failed")
    expect(not any(deploy[1] == version for deploy in sim.deploys()), f"{version} was deployed somewhere")
    sim.failing_version = version
    return f"develop, tests fail: {version} created, tests failed, not deployed, job failed"


def scenario_promote_dry_run(sim: Simulation) -> str:
    """A dispatch with dry_run true prints the gates and changes nothing."""
    before = sim.probe.snapshot()
    job = only_job(sim.trigger(sim.dispatch(dry_run=True)), "promote")
    expect(job.result == "success", f"the dry-run promotion failed ({failed_steps(job)})")
    gates = job.step("gates")
    expect(gates.outcome == "success", "the dry-run step failed")
    expect(all(name in gates.log for name in ("checks", "freeze", "source")), "the dry run did not print the gates")
    expect(job.step("promote").outcome == "skipped", "the promotion ran on a dry run")
    expect(sim.probe.snapshot() == before, "the dry run changed the database")
    expect(sim.probe.live("main") is None, "main has a release after a dry run")
    return "promote, dry_run true: gates printed, nothing changed"


def scenario_promote(sim: Simulation) -> str:
    """A dispatch with dry_run false puts develop's release live on main, the same artifact."""
    version = sim.passing_version
    event = sim.dispatch(dry_run=False)
    job = only_job(sim.trigger(event), "promote")
    expect(job.result == "success", f"the promotion failed ({failed_steps(job)})")
    live = sim.probe.live("main")
    expect(live is not None and live["version"] == version, f"main runs {live}, expected {version}")
    expect(live["by"] == event.actor, f"main's release was put there by {live['by']}, expected {event.actor}")
    develop_artifact = next(deploy[2] for deploy in sim.deploys() if deploy[:2] == ["develop", version])
    expect(["main", version, develop_artifact, "deploy"] in sim.deploys(), "main did not receive the very artifact develop runs")
    return f"promote, dry_run false: {version} live on main (same artifact as develop)"


def scenario_promote_failed_version(sim: Simulation) -> str:
    """Asking to promote the release whose tests failed is refused; main keeps what it had."""
    version = sim.failing_version
    before = sim.probe.snapshot()
    job = only_job(sim.trigger(sim.dispatch(version=version)), "promote")
    expect(job.result == "failure", f"promoting {version} (tests failed) succeeded")
    expect(job.step("promote").outcome == "skipped", "the promotion ran after a refused dry run")
    expect("tests failed" in job.step("gates").log, "the dry run did not show the failed tests gate")
    expect(sim.probe.snapshot() == before, "a refused promotion changed the database")
    return f"promote, version {version} (tests failed): refused at the dry run, main unchanged"


def failed_steps(job: JobResult) -> str:
    """The steps that failed with the last lines of their output, for error messages."""
    failures = [f"step {step.name!r} {step.note}:\n      " + "\n      ".join(step.log.rstrip().splitlines()[-15:])
                for step in job.steps if step.outcome == "failure"]
    return "\n    ".join(failures) or "no step failed"


def run_simulation(workflow: dict[str, Any], binary: Path, database_url: str, contract: dict[str, set[str]],
                   tests: str, verbose: bool, keep: bool, real_install_step: bool) -> None:
    """Runs the scenarios against a real database and the built binary, one line each."""
    root = Path(tempfile.mkdtemp(prefix="check-workflow-"))
    try:
        app = f"check-workflow-{os.getpid()}-{int(time.time())}"
        deploy_log = root / "deploys.log"
        workspace = make_repository(root, app, deploy_log)
        probe = ReleaseProbe(binary, database_url, workspace / "release.yml")
        probe.json("migrate")  # the probes below need the schema before the first job migrates
        used = {subcommand_of(arguments)[0] for _, step in iterate_steps(workflow)
                for arguments in release_invocations(str(step.get("run") or ""))} - {None}
        offered = probe.subcommands()
        missing = sorted(used - offered)
        expect(not missing, f"the binary has no subcommand {', '.join(missing)} (it offers {', '.join(sorted(offered))})")
        absent = sorted(set(contract) - offered)
        if absent:
            print(f"note: the binary does not offer the contract's {', '.join(absent)} (the workflow does not use them)")
        secrets = {"RELEASE_DATABASE_URL": database_url, "GITHUB_TOKEN": "ghs_checkworkflowcanary0001"}
        for _, text in all_strings(workflow):
            for name in re.findall(r"secrets\.([A-Za-z_][A-Za-z0-9_]*)", text):
                secrets.setdefault(name, f"canary-{name.lower()}-{os.getpid()}")
        variables = {"RELEASE_BIN": str(binary)}
        sim = Simulation(workflow, workspace, binary, secrets, variables, probe, deploy_log, verbose, real_install_step)
        scenarios: list[Callable[[Simulation], str]] = [scenario_promote_nothing_live]
        if tests in ("both", "pass"):
            scenarios.append(scenario_develop_pass)
        if tests in ("both", "fail"):
            scenarios.append(scenario_develop_fail)
        if tests in ("both", "pass"):
            scenarios += [scenario_promote_dry_run, scenario_promote]
        if tests == "both":
            scenarios.append(scenario_promote_failed_version)
        for scenario in scenarios:
            print(f"ok: {scenario(sim)}")
    finally:
        if keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------

def parse_arguments(argv: list[str]) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workflow", type=Path, help="the workflow file, e.g. ops/github/release.yml")
    parser.add_argument("--contract", type=Path, help="read the command list from CONTRACT.md instead of the built-in copy")
    parser.add_argument("--run", action="store_true", help="also simulate both jobs against a database")
    parser.add_argument("--binary", type=Path, help="the built release binary (with --run)")
    parser.add_argument("--database-url", help="a PostgreSQL URL for release (with --run); the schema is migrated")
    outcome = parser.add_mutually_exclusive_group()
    outcome.add_argument("--tests-pass", dest="tests", action="store_const", const="pass",
                         help="simulate only pushes whose tests pass (and the promotions)")
    outcome.add_argument("--tests-fail", dest="tests", action="store_const", const="fail",
                         help="simulate only a push whose tests fail")
    parser.add_argument("--run-install-step", action="store_true",
                        help="run the install-release step as written, with vars.RELEASE_BIN = --binary, instead of replacing it")
    parser.add_argument("--verbose", action="store_true", help="print every step's output")
    parser.add_argument("--keep", action="store_true", help="keep the temporary repository")
    arguments = parser.parse_args(argv)
    arguments.tests = arguments.tests or "both"
    if arguments.run and (not arguments.binary or not arguments.database_url):
        parser.error("--run needs --binary and --database-url")
    if arguments.binary and not os.access(arguments.binary, os.X_OK):
        parser.error(f"--binary {arguments.binary} is not an executable")
    return arguments


def main(argv: list[str]) -> int:
    """Checks the structure, then (with --run) runs the scenarios; prints `check_workflow: ok`."""
    arguments = parse_arguments(argv)
    try:
        workflow = load_workflow(arguments.workflow)
        contract = parse_contract(arguments.contract) if arguments.contract else CONTRACT_COMMANDS
        problems = check_structure(workflow, contract)
        if problems:
            for problem in problems:
                print(f"FAIL: {problem}")
            return 1
        print(f"ok: structure of {arguments.workflow} (triggers, jobs, expressions, release commands, secrets)")
        if arguments.run:
            run_simulation(workflow, arguments.binary.resolve(), arguments.database_url, contract, arguments.tests,
                           arguments.verbose, arguments.keep, arguments.run_install_step)
    except CheckFailed as error:
        print(f"FAIL: {error}")
        return 1
    print("check_workflow: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
