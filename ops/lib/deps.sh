# shellcheck shell=bash
# Installs what `release` needs to build and test, when it is missing. Sourced by ops scripts.

pg_bindir() {
    local dir
    for dir in /usr/lib/postgresql/*/bin; do
        [ -x "$dir/initdb" ] && { echo "$dir"; return 0; }
    done
    command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ] && { pg_config --bindir; return 0; }
    return 1
}

# What building `release` needs beyond Swift: libpq's headers, found with pkg-config.
missing_build_packages() {
    command -v pkg-config >/dev/null 2>&1 || echo pkg-config
    pkg-config --exists libpq 2>/dev/null || echo libpq-dev
}

apt_install() {
    [ $# -eq 0 ] && return 0
    echo "ops: installing $* (apt)" >&2
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

ensure_build_packages() {
    local missing
    mapfile -t missing < <(missing_build_packages)
    apt_install "${missing[@]}"
}

ensure_system_packages() {
    local missing
    mapfile -t missing < <(missing_build_packages)
    pg_bindir >/dev/null 2>&1 || missing+=(postgresql)
    command -v psql >/dev/null 2>&1 || missing+=(postgresql-client)
    command -v python3 >/dev/null 2>&1 || missing+=(python3)
    command -v git >/dev/null 2>&1 || missing+=(git)
    command -v curl >/dev/null 2>&1 || missing+=(curl)
    # The Django leg of the tests runs Django in a virtual environment (ensure_django).
    python3 -c "import ensurepip, venv" >/dev/null 2>&1 || missing+=(python3-venv)
    # ops/test lints the ops scripts and the GitHub workflow's script with it.
    command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)
    apt_install "${missing[@]}"
}

ensure_browser() {
    # The dashboard's end-to-end test opens it in headless Chromium (Tests/Browser/browser.py);
    # fonts-liberation gives its screenshots readable text.
    local missing=()
    [ -x /usr/lib/chromium/chromium-headless-shell ] || missing+=(chromium-headless-shell)
    dpkg -s fonts-liberation >/dev/null 2>&1 || missing+=(fonts-liberation)
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "ops: installing ${missing[*]} (apt)" >&2
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

ensure_swift() {
    if ! command -v swift >/dev/null 2>&1; then
        [ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"
    fi
    command -v swift >/dev/null 2>&1 || { echo "ops: Swift 6 is required (https://swift.org/install)" >&2; return 1; }
}

ensure_python_packages() {
    # The fake platform APIs in Tests/Fakes validate requests against the official descriptions:
    # Heroku's hyper-schema with jsonschema (4.18 or later, which brings referencing), Railway's
    # GraphQL schema with graphql-core, DigitalOcean's OpenAPI with PyYAML and
    # openapi-schema-validator. The AWS world is moto_server (moto[server], which brings boto3) run
    # in-process by Tests/Fakes/aws/moto_world.py. The fakes' own tests run under pytest.
    local missing=()
    python3 -c "import jsonschema, referencing" 2>/dev/null || missing+=("jsonschema>=4.18")
    python3 -c "import pytest" 2>/dev/null || missing+=(pytest)
    python3 -c "import graphql" 2>/dev/null || missing+=(graphql-core)
    python3 -c "import yaml" 2>/dev/null || missing+=(PyYAML)
    python3 -c "import openapi_schema_validator" 2>/dev/null || missing+=(openapi-schema-validator)
    python3 -c "import moto.server, boto3, flask, werkzeug" 2>/dev/null || missing+=("moto[server]")
    # Tests/Browser/browser.py talks to Chromium's DevTools over a WebSocket.
    python3 -c "import websocket" 2>/dev/null || missing+=(websocket-client)
    # ops/test validates ops/github/release.yml against GitHub's workflow schema (bundled: offline).
    python3 -c "import check_jsonschema" 2>/dev/null || missing+=(check-jsonschema)
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "ops: installing ${missing[*]} (pip)" >&2
    python3 -m pip install --quiet "${missing[@]}"
}

# Django 5.2 from PyPI in a virtual environment of its own (DIR, made once): the schema migration
# tests run a real `manage.py migrate` with it. Prints the environment's python.
ensure_django() {
    local dir="$1"
    if ! "$dir/bin/python" -c "import django, sys; sys.exit(django.VERSION[:2] != (5, 2))" >/dev/null 2>&1; then
        echo "ops: installing Django 5.2 (pip, into $dir)" >&2
        rm -rf "$dir"
        python3 -m venv "$dir" >&2
        "$dir/bin/python" -m pip install --quiet "django>=5.2,<5.3" >&2
    fi
    echo "$dir/bin/python"
}
