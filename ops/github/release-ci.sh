#!/usr/bin/env bash
# The shell of the GitHub Actions workflow beside it (release.yml): every step of its two jobs
# that is not YAML runs this script. Copy it into the application's repository next to the
# workflow, as .github/release-ci.sh (the workflow's RELEASE_CI names it); see README.md.
#
#   release-ci.sh install                 put `release` on the PATH, then `release migrate`
#   release-ci.sh develop version         compute VERSION (and RUN_URL) for the later steps
#   release-ci.sh develop register        release create VERSION …; the tests check pending
#   release-ci.sh develop finish OUTCOME  record the tests (OUTCOME: success or failure) and,
#                                         when they passed, deploy VERSION to develop
#   release-ci.sh promote                 the dry run's gates table, then the promotion to main
#   release-ci.sh recover ENV             settle an operation that a cancelled job left in flight
#   release-ci.sh summary                 what is live where, into the job summary
#
# It reads what a runner sets (GITHUB_SHA, GITHUB_RUN_NUMBER, GITHUB_ENV, GITHUB_OUTPUT,
# GITHUB_PATH, GITHUB_STEP_SUMMARY, RUNNER_TEMP, …) and the workflow's env: RELEASE_BIN,
# RELEASE_TARBALL_URL, RELEASE_TOOL_PATH (install); REQUESTED_VERSION, DRY_RUN (promote).
# Exits with `release`'s own exit code: 1 deployment failed, 2 usage/configuration/credentials,
# 3 refused by a gate, 4 busy, 5 database or provider unreachable.
set -euo pipefail

busy_attempts="${RELEASE_CI_BUSY_ATTEMPTS:-3}"
busy_delay="${RELEASE_CI_BUSY_DELAY:-30}"

error() { echo "::error::$*"; }
usage() { sed -n '6,13s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2; exit 2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# What each exit code of a deploy, a promotion or a dry run means, as an annotation.
explain() {
    local what="$1" env="$2" code="$3"
    case "$code" in
        0) ;;
        1) error "$what failed (exit 1); the message above says whether $env was rolled back." ;;
        2) error "$what: usage, configuration or credentials (exit 2); see the message above." ;;
        3) error "$what was refused by a gate (exit 3): checks, soak, approvals, a freeze, \`allowed:\` or a quarantined release." ;;
        4) error "$env is busy (exit 4): another operation is in flight. See \`release status $env\`;" \
                 "\`release recover $env\` settles a run that died." ;;
        5) error "$what: the database or a provider could not be reached (exit 5)." ;;
        6) error "$what: live on $env but not verified (exit 6): its signals were inconclusive. Decide with" \
                 "\`release verify $env\`, \`release accept $env --reason …\` or \`release rollback $env --reason …\`." ;;
        *) error "$what exited $code." ;;
    esac
}

# ---- install --------------------------------------------------------------------------------
# RELEASE_BIN: an installed binary. RELEASE_TARBALL_URL: release-VERSION-linux-x86_64.tar.gz,
# with its checksum at the same URL + .sha256 (what ops/package makes). Neither: build the tool
# checked out at RELEASE_TOOL_PATH (default .release-tool) with its ops/package, and install that.
install() {
    local bin="${RUNNER_TEMP:?}/release-bin"
    mkdir -p "$bin"
    if [ -n "${RELEASE_BIN:-}" ]; then
        [ -x "$RELEASE_BIN" ] || { error "RELEASE_BIN=$RELEASE_BIN is not an executable"; exit 2; }
        ln -sf "$RELEASE_BIN" "$bin/release"
    elif [ -n "${RELEASE_TARBALL_URL:-}" ]; then
        install_tarball "$RELEASE_TARBALL_URL" "$bin"
    else
        local tool="${RELEASE_TOOL_PATH:-.release-tool}"
        [ -x "$tool/ops/package" ] || { error "No RELEASE_BIN, no RELEASE_TARBALL_URL, and no release tool checked out at $tool"; exit 2; }
        local tarball
        tarball="$("$tool/ops/package" --out "$RUNNER_TEMP/release-dist")"   # prints the tarball's path
        install_tarball "file://$tarball" "$bin"
    fi
    echo "$bin" >>"${GITHUB_PATH:?}"
    "$bin/release" --version
    "$bin/release" migrate   # safe when several jobs run it at once
}

install_tarball() {
    local url="$1" bin="$2" name dir
    name="${url##*/}"
    case "$name" in
        release-*-linux-x86_64.tar.gz) ;;
        *) error "RELEASE_TARBALL_URL must end in release-VERSION-linux-x86_64.tar.gz, not $name"; exit 2 ;;
    esac
    dir="$RUNNER_TEMP/release-download"
    rm -rf "$dir"
    mkdir -p "$dir"
    curl -fsSL --retry 3 -o "$dir/$name" "$url"
    curl -fsSL --retry 3 -o "$dir/$name.sha256" "$url.sha256"
    if ! (cd "$dir" && sha256sum --check --strict "$name.sha256"); then
        error "$name does not match its published checksum ($url.sha256); not installed."
        exit 2
    fi
    tar -xzf "$dir/$name" -C "$dir"
    # ldconfig lives in /sbin; its list is read whole (grep -q would end a pipe early under pipefail).
    local libraries
    libraries="$(PATH="$PATH:/usr/sbin:/sbin" ldconfig -p)"
    if ! grep -q 'libpq\.so\.5 ' <<<"$libraries"; then
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libpq5
    fi
    ln -sf "$dir/${name%.tar.gz}/bin/release" "$bin/release"
}

# ---- develop --------------------------------------------------------------------------------
# The version is derived from the run, so a re-run registers the very same release again (a
# no-op). If the artifact gets a new digest on every build, add -$GITHUB_RUN_ATTEMPT, or a
# re-run is refused as "same version, other values". To version from tags, check out with
# fetch-depth: 0 and use e.g. git describe --tags --exact-match | sed 's/^v//'.
develop_version() {
    local version="0.0.${GITHUB_RUN_NUMBER:?}-${GITHUB_SHA:0:7}"
    {
        echo "VERSION=$version"
        echo "RUN_URL=${GITHUB_SERVER_URL:-https://github.com}/${GITHUB_REPOSITORY:-}/actions/runs/${GITHUB_RUN_ID:-}"
    } >>"${GITHUB_ENV:?}"
    echo "version=$version" >>"${GITHUB_OUTPUT:?}"
    echo "Version: $version"
}

develop_register() {
    local subject
    subject="$(git log -1 --format=%s "${GITHUB_SHA:?}" 2>/dev/null || true)"
    release create "${VERSION:?run develop version first}" --commit "$GITHUB_SHA" \
        --artifact "${ARTIFACT:?the artifact step exports ARTIFACT}" \
        --notes "${GITHUB_REF_NAME:-develop}@${GITHUB_SHA:0:7}: ${subject:-no commit message}"
    release check "$VERSION" tests pending --url "${RUN_URL:?}"
}

develop_finish() {
    local outcome="${1:-}" code attempt
    case "$outcome" in
        success) release check "${VERSION:?}" tests passed --url "${RUN_URL:?}" ;;
        failure) release check "${VERSION:?}" tests failed --url "${RUN_URL:?}"
                 error "The tests failed: $VERSION is recorded as failed and is not deployed."
                 exit 1 ;;
        *) usage ;;
    esac
    for ((attempt = 1; attempt <= busy_attempts; attempt++)); do
        code=0
        release deploy "$VERSION" develop || code=$?
        [ "$code" -eq 4 ] || break
        if [ "$attempt" -lt "$busy_attempts" ]; then
            echo "::warning::develop is busy (exit 4); retrying in ${busy_delay}s ($attempt/$busy_attempts)"
            sleep "$busy_delay"
        fi
    done
    explain "The deploy of $VERSION to develop" develop "$code"
    exit "$code"
}

# ---- promote --------------------------------------------------------------------------------
# Pins the version (REQUESTED_VERSION, else what is live on develop now) and names it with
# --version in both the dry run and the promotion: if develop moves on in between, the promotion
# is refused instead of shipping something nobody looked at.
promote() {
    local version="${REQUESTED_VERSION:-}" code=0 gates="${RUNNER_TEMP:?}/gates.json"
    if [ -z "$version" ]; then
        version="$(release status develop --json | python3 -c '
import json, sys
live = json.load(sys.stdin)["environments"][0]["live"]
print(live["version"] if live else "")')"
        [ -n "$version" ] || { error "Nothing is live on develop, so there is nothing to promote."; exit 3; }
    fi
    echo "version=$version" >>"${GITHUB_OUTPUT:?}"
    release promote develop main --version "$version" --dry-run --json >"$gates" || code=$?
    python3 - "$gates" "$version" "${GITHUB_STEP_SUMMARY:?}" <<'PY'
import json, sys
path, version, summary = sys.argv[1:]
text = open(path).read()
try:
    document = json.loads(text)
except ValueError:
    print(text)
    sys.exit(0)
if "error" in document:
    print(f"::error::{document['error']['message']}")
    sys.exit(0)
lines = [f"Promotion of {version} from develop to main (dry run):", "",
         "| gate | result | detail | earliest pass |", "|---|---|---|---|"]
for gate in document["gates"]:
    result = "pass" if gate["passed"] else "FAIL"
    lines.append(f"| {gate['name']} | {result} | {gate['detail']} | {gate.get('earliest') or '-'} |")
print("\n".join(lines))
with open(summary, "a") as handle:
    handle.write("\n".join(lines) + "\n\n")
PY
    explain "The promotion of $version" main "$code"
    [ "$code" -eq 0 ] || exit "$code"
    echo "Every gate passes."
    if [ "${DRY_RUN:-false}" = true ]; then
        echo "Dry run: nothing promoted."
        return 0
    fi
    release promote develop main --version "$version" || code=$?
    explain "The promotion of $version" main "$code"
    exit "$code"
}

summary() {
    release status --json | python3 -c '
import json, sys
print("| environment | live | since | by | health |\n|---|---|---|---|---|")
for env in json.load(sys.stdin)["environments"]:
    live = env["live"] or {}
    row = [env["name"]] + [live.get(key, "-") for key in ("version", "since", "by")] + [env["health"]]
    print("| " + " | ".join(map(str, row)) + " |")' >>"${GITHUB_STEP_SUMMARY:?}"
}

case "${1:-} ${2:-}" in
    "install "*) install ;;
    "develop version") develop_version ;;
    "develop register") develop_register ;;
    "develop finish") develop_finish "${3:-}" ;;
    "promote "*) promote ;;
    "recover "?*) release recover "$2" ;;
    "summary "*) summary ;;
    *) usage ;;
esac
