#!/usr/bin/env bash
# Installs t4o-reconcile from this source tree (the Action's pinned ref, or a clone checked
# out at a pinned commit) into a new virtual environment VENV, outside any checkout:
#
#   scripts/ci/install.sh VENV [PYTHON]
#
# Every dependency comes from requirements/runtime.lock, as wheels only, each checked
# against its sha256 (--require-hashes): a changed or substituted file on the index fails
# the install. The tool itself is built from this tree without the network (--no-index,
# no build isolation: setuptools is in the lock too). Python runs isolated (-I), so neither
# the working directory nor PYTHON* variables can put a module in front of pip's own.
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  echo "usage: $0 VENV [PYTHON]" >&2
  exit 2
fi
venv=$1
python=${2:-python3}
source_tree=$(cd "$(dirname "$0")/../.." && pwd -P)
lock="$source_tree/requirements/runtime.lock"

# Nothing below reads the directory the job happens to be in.
cd /

"$python" -I -m venv "$venv"
"$venv/bin/python" -I -m pip install --quiet --disable-pip-version-check --no-input \
  --require-hashes --no-deps --only-binary=:all: -r "$lock"
"$venv/bin/python" -I -m pip install --quiet --disable-pip-version-check --no-input \
  --no-deps --no-build-isolation --no-index "$source_tree"
# A dependency added to pyproject.toml but missing from the lock fails here, by name.
"$venv/bin/python" -I -m pip check
"$venv/bin/t4o-reconcile" --version
