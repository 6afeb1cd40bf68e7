#!/usr/bin/env bash
# The demo app's deploy script, run by release's command provider.
#
# Switches the environment's `current` symlink to the release's artifact folder atomically, the way
# Capistrano-style deploys do. It is idempotent: deploying the same artifact twice changes nothing.
# DEMO_ROOT is the folder holding one subfolder per environment; DEMO_DEPLOY_SECONDS, if set,
# makes the deploy take that long; DEMO_DEPLOY_GATE, if set to a file, makes it wait (at most a
# minute) until that file is gone, so tests can hold a deploy in flight as long as they need.
set -euo pipefail
: "${RELEASE_ENV:?}" "${RELEASE_ARTIFACT:?}" "${DEMO_ROOT:?}"
target="$DEMO_ROOT/$RELEASE_ENV"
mkdir -p "$target"
if [ ! -f "$RELEASE_ARTIFACT/VERSION" ]; then
    echo "artifact $RELEASE_ARTIFACT is not a demo-app build" >&2
    exit 1
fi
echo "$RELEASE_OPERATION $RELEASE_APP $RELEASE_VERSION to $RELEASE_ENV (was ${RELEASE_PREVIOUS_VERSION:-nothing})"
if [ -n "${DEMO_DEPLOY_SECONDS:-}" ]; then sleep "$DEMO_DEPLOY_SECONDS"; fi
if [ -n "${DEMO_DEPLOY_GATE:-}" ]; then
    for _ in $(seq 600); do [ -e "$DEMO_DEPLOY_GATE" ] || break; sleep 0.1; done
fi
ln -sfn "$RELEASE_ARTIFACT" "$target/current.new"
mv -T "$target/current.new" "$target/current"
echo "switched $RELEASE_ENV to $(cat "$target/current/VERSION")"
