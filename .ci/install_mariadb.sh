#!/usr/bin/env bash
# Installs Debian's MariaDB server and client for the ML Metadata on MySQL test
# (tests/pipeline/test_mysql_metadata.py starts its own server on loopback;
# nothing runs as a service). Does nothing when mariadbd is already there.
set -euo pipefail

if command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi
$SUDO apt-get update
# policy-rc.d 101: do not start the packaged service during the install
echo 'exit 101' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null && $SUDO chmod +x /usr/sbin/policy-rc.d
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends mariadb-server mariadb-client
$SUDO rm -f /usr/sbin/policy-rc.d
