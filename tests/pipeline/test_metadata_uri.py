"""`--metadata`: parsing, where the MySQL password comes from, that it is never
shown, and a one-line error for a store that cannot be opened."""

from __future__ import annotations

import pytest

from pipeline import metadata_uri
from pipeline.metadata_uri import PASSWORD_ENV, PASSWORD_FILE_ENV, connection_config, redacted
from search_algo.errors import UserError

SECRET = "SECRET"


@pytest.fixture(autouse=True)
def no_password_in_the_environment(monkeypatch):
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    monkeypatch.delenv(PASSWORD_FILE_ENV, raising=False)


@pytest.mark.parametrize("uri, shown", [
    ("mysql://user:pw@host:3306/db", "mysql://user:***@host:3306/db"),
    ("mysql://user:p%40ss%2F@127.0.0.1/db", "mysql://user:***@127.0.0.1/db"),
    ("mysql://:pw@host/db", "mysql://:***@host/db"),
    # Malformed: @ / # ? left unencoded in the password are hidden with it.
    ("mysql://user:p@ss@host:1/db", "mysql://user:***@host:1/db"),
    ("mysql://user:pa/ss#x?y@host:1/db", "mysql://user:***@host:1/db"),
    # Starts like a MySQL URL but does not parse: the password is hidden all the same.
    ("mysql:/user:pw@host/db", "mysql:/user:***@host/db"),
    ("mysql:///user:pw@host/db", "mysql:///user:***@host/db"),
    ("mysql:user:pw@host/db", "mysql:user:***@host/db"),
    ("mysql//user:pw@host/db", "mysql//user:***@host/db"),
    ("MySQL:/user:p@ss@host/db", "MySQL:/user:***@host/db"),
    # No password: unchanged.
    ("mysql:/user@host/db", "mysql:/user@host/db"),
    ("mysql://user@host:3306/db", "mysql://user@host:3306/db"),
    ("mysql://host:3306/db", "mysql://host:3306/db"),
    ("/tmp/run/metadata.sqlite", "/tmp/run/metadata.sqlite"),
    ("file:///tmp/a@b:c.sqlite", "file:///tmp/a@b:c.sqlite"),
    ("sqlite:meta.db", "sqlite:meta.db"),
    ("", ""),
])
def test_redacted_hides_the_password_alone(uri, shown):
    assert redacted(uri) == shown


def test_a_mysql_url_becomes_a_connection_config():
    mysql = connection_config("mysql://ms:p%2Fw%40x@db.example:3307/mlmd", "unused").mysql
    assert (mysql.host, mysql.port, mysql.database, mysql.user, mysql.password) == (
        "db.example", 3307, "mlmd", "ms", "p/w@x")
    mysql = connection_config("mysql://db.example/mlmd", "unused").mysql
    assert (mysql.port, mysql.user, mysql.password) == (3306, "root", "")


def test_sqlite_by_default_and_for_a_path(tmp_path):
    assert connection_config(None, str(tmp_path / "m.sqlite")).sqlite.filename_uri == str(tmp_path / "m.sqlite")
    path = tmp_path / "sub" / "other.sqlite"
    assert connection_config(str(path), "unused").sqlite.filename_uri == str(path)


def test_the_password_from_the_environment_when_the_url_has_none(monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, "from-env")
    assert connection_config("mysql://ms@h/db", "unused").mysql.password == "from-env"
    # One in the URL wins.
    assert connection_config("mysql://ms:in-url@h/db", "unused").mysql.password == "in-url"


def test_the_password_from_a_file_without_its_trailing_newline(monkeypatch, tmp_path):
    secret_file = tmp_path / "password"
    secret_file.write_text("from file \n")
    monkeypatch.setenv(PASSWORD_FILE_ENV, str(secret_file))
    assert connection_config("mysql://ms@h/db", "unused").mysql.password == "from file "


def test_an_unreadable_password_file_or_both_sources_are_user_errors(monkeypatch, tmp_path):
    monkeypatch.setenv(PASSWORD_FILE_ENV, str(tmp_path / "missing"))
    with pytest.raises(UserError, match=rf"^{PASSWORD_FILE_ENV}=.*missing: cannot read the password from it \("):
        connection_config("mysql://ms@h/db", "unused")
    monkeypatch.setenv(PASSWORD_ENV, "x")
    with pytest.raises(UserError, match=f"both {PASSWORD_ENV} and {PASSWORD_FILE_ENV} are set"):
        connection_config("mysql://ms@h/db", "unused")


@pytest.mark.parametrize("uri, shown", [
    (f"mysql://u:{SECRET}@127.0.0.1:abc/db", "--metadata mysql://u:***@127.0.0.1:abc/db: expected mysql://"),
    (f"mysql://u:{SECRET}@127.0.0.1:99999/db", "--metadata mysql://u:***@127.0.0.1:99999/db: expected mysql://"),
    # An unencoded # cuts the URL inside the password: urllib reads "SEC" as the port.
    (f"mysql://u:SEC#{SECRET}@127.0.0.1:3306/db", "--metadata mysql://u:***@127.0.0.1:3306/db: expected mysql://"),
    (f"mysql://u:{SECRET}@[::1/db", "--metadata mysql://u:***@[::1/db: expected mysql://"),
    (f"mysql://u:{SECRET}@127.0.0.1:3306/", "--metadata mysql://u:***@127.0.0.1:3306/: expected mysql://"),
    (f"postgres://u:{SECRET}@host/db", "--metadata postgres://u:***@host/db: use a SQLite file path or mysql://"),
    (f"mysql:/u:{SECRET}@h/db", "--metadata mysql:/u:***@h/db: expected mysql://"),
    (f"mysql:///u:{SECRET}@h/db", "--metadata mysql:///u:***@h/db: expected mysql://"),
    (f"mysql:u:{SECRET}@h/db", "--metadata mysql:u:***@h/db: expected mysql://"),
    # A typo, not a SQLite path named `mysql/u:...`.
    (f"mysql//u:{SECRET}@h/db", "--metadata mysql//u:***@h/db: expected mysql://"),
    (f"MYSQL/u:{SECRET}@h/db", "--metadata MYSQL/u:***@h/db: expected mysql://"),
])
def test_a_malformed_url_is_a_user_error_without_the_password(uri, shown, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError) as error:
        connection_config(uri, "unused")
    assert str(error.value).startswith(shown)
    assert "SEC" not in str(error.value) and "\n" not in str(error.value)
    assert list(tmp_path.iterdir()) == [], "nothing is created for a URL that does not parse"


def test_a_store_that_is_only_read_is_never_created(tmp_path):
    missing = tmp_path / "sub" / "m.sqlite"
    with pytest.raises(UserError, match=rf"^--metadata {missing}: no such SQLite file "):
        connection_config(str(missing), "unused", create=False)
    with pytest.raises(UserError, match=rf"^{missing}: no such SQLite file "):
        connection_config(None, str(missing), create=False)
    assert list(tmp_path.iterdir()) == []
    # ML Metadata creates a missing MySQL database unless told not to.
    assert connection_config("mysql://u@h/db", "unused", create=False).mysql.skip_db_creation
    assert not connection_config("mysql://u@h/db", "unused").mysql.skip_db_creation
    existing = tmp_path / "m.sqlite"
    metadata_uri.connect(connection_config(str(existing), "unused"))
    assert connection_config(str(existing), "unused", create=False).sqlite.filename_uri == str(existing)


def test_an_unreachable_server_is_one_line_naming_it_without_the_password():
    # Nothing listens on port 1.
    config = connection_config(f"mysql://u:{SECRET}@127.0.0.1:1/db", "unused")
    with pytest.raises(UserError) as error:
        metadata_uri.connect(config)
    assert str(error.value) == ("ML Metadata at mysql://u:***@127.0.0.1:1/db could not be opened: "
                                "nothing listens on 127.0.0.1:1 (connection refused)")


def test_an_unknown_host_is_named(monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, SECRET)
    config = connection_config("mysql://u@no-such-host.invalid:3306/db", "unused")
    with pytest.raises(UserError) as error:
        metadata_uri.connect(config)
    assert str(error.value) == ("ML Metadata at mysql://u:***@no-such-host.invalid:3306/db could not be opened: "
                                "cannot resolve the host name 'no-such-host.invalid'")


def test_sqlite_opens_and_an_unusable_file_is_named(tmp_path):
    assert metadata_uri.connect(connection_config(None, str(tmp_path / "m.sqlite"))).get_contexts() == []
    not_a_database = tmp_path / "garbage.sqlite"
    not_a_database.write_bytes(b"not a database" * 100)
    with pytest.raises(UserError, match=rf"^ML Metadata at {not_a_database} could not be opened: .*file is not a database$"):
        metadata_uri.connect(connection_config(None, str(not_a_database)))


def test_the_run_summary_shows_the_metadata_location_redacted(tmp_path):
    """`model-search run`'s summary and --json take "metadata" from here (local_runner.collect_results)."""
    from pipeline import factory
    from pipeline.config import StudyConfig

    on_mysql = StudyConfig(output=str(tmp_path), metadata=f"mysql://ms:{SECRET}@db:3306/mlmd")
    assert factory.metadata_location(on_mysql) == "mysql://ms:***@db:3306/mlmd"
    assert factory.metadata_location(StudyConfig(output=str(tmp_path))) == str(tmp_path / "metadata.sqlite")
