#!/usr/bin/env bash
# Sets up everything the tests need (Dovecot, Chromium, Python packages) and runs the whole suite.
# Extra arguments go to pytest, e.g. deploy/test.sh -k intake_flow
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/system-deps.sh --with-browser
deploy/venv.sh test
set +e
.venv/bin/python -m pytest "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "client-intake: pytest collected no tests; that is a failure" >&2
  exit 1
fi
exit "$rc"
