#!/usr/bin/env bash
# Sets up and runs the demo: a local Dovecot and SMTP server, sample client mail, the worker and the PM queue.
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/system-deps.sh
deploy/venv.sh demo
exec .venv/bin/python -m deploy.demo "$@"
