#!/usr/bin/env bash
# Usage: apt_install.sh COMMAND PACKAGE...
# Installs Debian PACKAGEs (as root, or through sudo) unless COMMAND is already
# on the PATH, so CI re-runs on a prepared machine install nothing.
set -euo pipefail

if command -v "$1" >/dev/null 2>&1; then
  exit 0
fi
shift
if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi
$SUDO apt-get update
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y "$@"
