#!/usr/bin/env bash
# Installs Debian's chromium for the report's headless-browser test
# (tests/pipeline/test_report.py). Does nothing when chromium is already there.
set -euo pipefail
exec bash "$(dirname "$0")/apt_install.sh" chromium chromium
