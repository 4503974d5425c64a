#!/usr/bin/env bash
# Build the documentation site (needs Quarto). nbdev_docs renders README.md with Quarto too; the README's one
# generator is tools/make_readme.py (CI checks it), so it is written again afterwards and the two never disagree.
set -euo pipefail
cd "$(dirname "$0")/.."
nbdev_docs "$@"
python tools/make_readme.py
python tools/check_docs.py
