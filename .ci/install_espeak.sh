#!/usr/bin/env bash
# Installs Debian's espeak-ng for the speech-set generator's tests
# (tests/benchmarks/test_audio.py). Does nothing when espeak-ng is already there.
set -euo pipefail
exec bash "$(dirname "$0")/apt_install.sh" espeak-ng espeak-ng
