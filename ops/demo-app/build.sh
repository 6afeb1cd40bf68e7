#!/usr/bin/env bash
# Builds a demo-app release into a folder: the artifact that `release` deploys.
#   build.sh VERSION OUT_DIR [ok|broken|broken-on=ENV] [ERROR_RATIO]
# ERROR_RATIO is the share of its requests that fail (its metrics say so; default 0.002).
set -euo pipefail
version="$1"
out="$2"
health="${3:-ok}"
mkdir -p "$out"
echo "$version" >"$out/VERSION"
echo "$health" >"$out/HEALTH"
if [ -n "${4:-}" ]; then echo "$4" >"$out/ERRORS"; fi
echo "$out"
