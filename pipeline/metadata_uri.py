"""`--metadata`: where a study's ML Metadata lives, and how to name it without its password.

`--metadata` is a SQLite path or `mysql://user:password@host:port/database`.
The password may instead come from `MODEL_SEARCH_MYSQL_PASSWORD`, or from the
file named by `MODEL_SEARCH_MYSQL_PASSWORD_FILE`, so that it need not be on a
command line, which every user of the machine can read in the process list.
Wherever the location is shown - output, `--json`, logs, error messages - it
goes through `redacted`, which keeps everything but the password.
"""

from __future__ import annotations

import os
import re
import socket
from urllib.parse import unquote, urlparse

from search_algo.errors import UserError

PASSWORD_ENV = "MODEL_SEARCH_MYSQL_PASSWORD"
PASSWORD_FILE_ENV = "MODEL_SEARCH_MYSQL_PASSWORD_FILE"
MYSQL_FORM = "mysql://user:password@host:port/database"
DEFAULT_MYSQL_PORT = 3306
# The --metadata help of every command that takes it.
PASSWORD_HELP = (f"without a password in the URL it is read from ${PASSWORD_ENV}, or from the file "
                 f"${PASSWORD_FILE_ENV} names, which keeps it off the command line")
HIDDEN = "***"
# How long the diagnosis of a failed connection waits for the server's port.
PROBE_SECONDS = 5.0
# Text that starts like a MySQL URL, typos included (`mysql:/u:pw@h/db`,
# `mysql:u:pw@...`, `mysql//u:pw@h/db`): it is a MySQL URL or an error, never
# a SQLite path, and its password is hidden even where it does not parse.
MYSQL_LIKE = re.compile(r"(mysql)([:/\\]+)(.*)", re.IGNORECASE | re.DOTALL)


def redacted(uri: str) -> str:
    """`uri` with the password of its user replaced by `***`
    (`mysql://user:***@host:port/database`); text without one is unchanged.

    The user part runs to the last `@`, as `urllib.parse` reads it, but also
    across a `/`, `?` or `#` left unencoded in the password, where the URL is
    malformed and urllib would split the password off as a path or fragment:
    better to hide too much of a malformed URL than to show part of a password.
    Text that starts like a MySQL URL but is not one (`mysql:/u:pw@h/db`,
    `mysql//u:pw@h/db`) is read the same way after its `mysql` and separators.
    """
    scheme, separator, rest = uri.partition("://")
    if separator and not rest.startswith("/"):
        return _without_password(f"{scheme}{separator}", rest)
    mysql_like = MYSQL_LIKE.fullmatch(uri)
    if mysql_like:
        return _without_password(mysql_like.group(1) + mysql_like.group(2), mysql_like.group(3))
    return uri  # not a URL, or one without a user part (file:///...)


def _without_password(prefix: str, rest: str) -> str:
    """`prefix` + `rest`, where `rest` is `user:password@host...`, with the password hidden."""
    user_part, at, after = rest.rpartition("@")
    user, colon, _password = user_part.partition(":")
    if not at or not colon:
        return prefix + rest
    return f"{prefix}{user}:{HIDDEN}@{after}"


def mysql_password(url_password: str | None) -> str:
    """The password in the URL; without one, `MODEL_SEARCH_MYSQL_PASSWORD`
    or the contents of the file `MODEL_SEARCH_MYSQL_PASSWORD_FILE` names
    (its trailing newline stripped); else none."""
    if url_password:
        return unquote(url_password)
    direct, file = os.environ.get(PASSWORD_ENV), os.environ.get(PASSWORD_FILE_ENV)
    if direct and file:
        raise UserError(f"both {PASSWORD_ENV} and {PASSWORD_FILE_ENV} are set; set one")
    if file:
        try:
            with open(file, encoding="utf-8") as handle:
                return handle.read().rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as error:
            reason = error.strerror if isinstance(error, OSError) and error.strerror else type(error).__name__
            raise UserError(f"{PASSWORD_FILE_ENV}={file}: cannot read the password from it ({reason})") from None
    return direct or ""


def connection_config(uri: str | None, default_sqlite_path: str, create: bool = True):
    """The ML Metadata connection config for `--metadata` (None: SQLite at
    `default_sqlite_path`). Without `create` (the commands that only read a
    study, and `gc`) the store must exist: no SQLite file or MySQL database is
    made for them, so a mistyped `--metadata` cannot leave one behind."""
    from tfx.orchestration import metadata

    if not uri:
        return _sqlite(default_sqlite_path, default_sqlite_path, create)
    shown = redacted(uri)
    # urllib's ValueErrors may quote a piece of the URL, which may be a piece of
    # the password: the messages here show the redacted URL alone.
    malformed = UserError(f"--metadata {shown}: expected {MYSQL_FORM}, the port a number "
                          "(percent-encode / # ? @ : in the password)")
    try:
        parsed = urlparse(uri)
    except ValueError:  # e.g. an unclosed [ of an IPv6 address
        raise malformed from None
    if parsed.scheme == "mysql" or MYSQL_LIKE.fullmatch(uri):
        if parsed.scheme != "mysql":  # mysql//..., mysql/...: a typo, or a SQLite path that reads like one
            raise UserError(f"--metadata {shown}: expected {MYSQL_FORM} (a SQLite file in a folder named mysql: "
                            "./mysql/...)")
        try:
            port = parsed.port
        except ValueError:  # not a number, or out of range
            raise malformed from None
        if not parsed.hostname or not parsed.path.strip("/"):
            raise UserError(f"--metadata {shown}: expected {MYSQL_FORM}")
        config = metadata.mysql_metadata_connection_config(
            host=parsed.hostname,
            port=port or DEFAULT_MYSQL_PORT,
            database=parsed.path.strip("/"),
            username=unquote(parsed.username or "root"),
            password=mysql_password(parsed.password),
        )
        # ML Metadata creates a missing database unless told not to.
        config.mysql.skip_db_creation = not create
        return config
    if parsed.scheme in ("", "sqlite", "file"):
        return _sqlite(os.path.abspath(parsed.path if parsed.scheme else uri), f"--metadata {shown}", create)
    raise UserError(f"--metadata {shown}: use a SQLite file path or {MYSQL_FORM}")


def _sqlite(path: str, named: str, create: bool):
    """SQLite at `path` (`named` so in an error)."""
    from tfx.orchestration import metadata

    if create:
        # SQLite is a local file by nature.
        os.makedirs(os.path.dirname(path), exist_ok=True)
    elif not os.path.isfile(path):
        raise UserError(f"{named}: no such SQLite file (this command reads ML Metadata; it does not create it)")
    return metadata.sqlite_metadata_connection_config(path)


def shown_location(connection_config) -> str:
    """The store a connection config opens, fit to show: a SQLite path, or a
    MySQL URL whose password is `***`."""
    if connection_config.HasField("mysql"):
        mysql = connection_config.mysql
        user = f"{mysql.user}:{HIDDEN}" if mysql.password else mysql.user
        return f"mysql://{user}@{mysql.host}:{mysql.port}/{mysql.database}"
    if connection_config.HasField("sqlite"):
        return connection_config.sqlite.filename_uri
    # Not built from --metadata; its text form would show any password it holds.
    return f"a {connection_config.WhichOneof('config') or 'configured'} store"


def connect(connection_config):
    """An ML Metadata store for the connection config; a UserError naming the
    store (password hidden) and why, when it cannot be opened."""
    from ml_metadata import metadata_store

    try:
        return metadata_store.MetadataStore(connection_config)
    except Exception as error:  # noqa: BLE001 - whatever ML Metadata raises, the store is unusable
        raise UserError(f"ML Metadata at {shown_location(connection_config)} could not be opened: "
                        f"{_why(error, connection_config)}") from None


def _why(error: Exception, connection_config) -> str:
    # ML Metadata reports MySQL failures as "... failed: errno: X, error: Y";
    # Y is empty when the server could not be reached or refused the login.
    message = str(error).strip()
    detail = re.search(r"error: (.+)$", message)
    if detail and detail.group(1).strip():
        return detail.group(1).strip().splitlines()[0]
    if connection_config.HasField("mysql"):
        mysql = connection_config.mysql
        problem = _unreachable(mysql.host, mysql.port)
        if problem:
            return problem
        return (f"the server at {mysql.host}:{mysql.port} accepts connections but not this login: check the user "
                "and password (and that the server offers mysql_native_password, which ML Metadata uses)")
    first_line = message.splitlines()[0] if message else ""
    # A failed SQL statement is reported as "...: <why> query: <the statement>".
    return first_line.rsplit(" query: ", 1)[0].strip() or type(error).__name__


def _unreachable(host: str, port: int) -> str | None:
    """Why nothing answers at host:port, or None when something does."""
    try:
        with socket.create_connection((host, port), timeout=PROBE_SECONDS):
            return None
    except socket.gaierror:
        return f"cannot resolve the host name {host!r}"
    except ConnectionRefusedError:
        return f"nothing listens on {host}:{port} (connection refused)"
    except socket.timeout:
        return f"no answer from {host}:{port} within {PROBE_SECONDS:g} s"
    except OSError as error:
        return f"cannot reach {host}:{port} ({error.strerror or type(error).__name__})"
