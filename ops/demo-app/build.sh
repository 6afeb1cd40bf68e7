#!/usr/bin/env bash
# Builds a demo-app release into a folder: the artifact that `release` deploys.
#   build.sh VERSION OUT_DIR [ok|broken|broken-on=ENV]
set -euo pipefail
version="$1"
out="$2"
health="${3:-ok}"
mkdir -p "$out"
echo "$version" >"$out/VERSION"
echo "$health" >"$out/HEALTH"
echo "$out"
