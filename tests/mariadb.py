"""A throwaway MariaDB server on loopback (Debian's mariadbd), for ML Metadata on MySQL."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from contextlib import contextmanager

USER, PASSWORD, DATABASE = "modelsearch", "s3cret", "mlmd"


def find_server() -> str | None:
    for name in ("mariadbd", "mysqld"):
        found = shutil.which(name) or (f"/usr/sbin/{name}" if os.access(f"/usr/sbin/{name}", os.X_OK) else None)
        if found:
            return found
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def mariadb_server(directory: str):
    """Yields `mysql://user:password@127.0.0.1:port/database` of a fresh server."""
    server = find_server()
    if server is None:
        raise FileNotFoundError("mariadbd not found (bash .ci/install_mariadb.sh installs it)")
    os.makedirs(directory, exist_ok=True)
    install_db = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
    client = shutil.which("mariadb") or shutil.which("mysql")
    datadir, sock = os.path.join(directory, "data"), os.path.join(directory, "mysqld.sock")
    user = ["--user=root"] if os.geteuid() == 0 else []
    subprocess.run([install_db, "--no-defaults", f"--datadir={datadir}", "--auth-root-authentication-method=socket",
                    "--skip-test-db", *user], check=True, capture_output=True)
    port = _free_port()
    log = open(os.path.join(directory, "mysqld.log"), "w")
    process = subprocess.Popen([server, "--no-defaults", f"--datadir={datadir}", f"--socket={sock}", f"--port={port}",
                                "--bind-address=127.0.0.1", "--skip-name-resolve", f"--pid-file={directory}/mysqld.pid",
                                *user], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while subprocess.run([client, f"--socket={sock}", "-uroot", "-e", "SELECT 1"],
                             capture_output=True).returncode != 0:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"mariadbd did not start; see {directory}/mysqld.log")
            time.sleep(0.3)
        setup = (f"CREATE DATABASE {DATABASE}; CREATE USER '{USER}'@'%' IDENTIFIED BY '{PASSWORD}'; "
                 f"GRANT ALL ON {DATABASE}.* TO '{USER}'@'%'; FLUSH PRIVILEGES;")
        subprocess.run([client, f"--socket={sock}", "-uroot", "-e", setup], check=True, capture_output=True)
        yield f"mysql://{USER}:{PASSWORD}@127.0.0.1:{port}/{DATABASE}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
