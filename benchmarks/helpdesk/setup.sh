#!/bin/sh
# Makes benchmarks/helpdesk/.venv: the latest django-helpdesk from PyPI, for benchmarks/peer.py only.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-python3}
# Its own virtualenv: none of the peer's dependencies may reach the project's environment.
[ -x "$here/.venv/bin/python" ] || "$python" -m venv "$here/.venv"
"$here/.venv/bin/pip" install --quiet --disable-pip-version-check --upgrade django-helpdesk
"$here/.venv/bin/python" "$here/manage.py" check >/dev/null
"$here/.venv/bin/python" - <<'PY'
from importlib.metadata import version
print(f"django-helpdesk {version('django-helpdesk')}, Django {version('Django')} ready in benchmarks/helpdesk/.venv")
PY
