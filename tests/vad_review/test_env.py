"""Settings read from the environment: PostgreSQL's statement options."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from annotation.models import Item
from vad_review.env import database_from_url, postgres_statement_options


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, {"server_side_binding": True, "prepare_threshold": 5}),
        ("", {"server_side_binding": True, "prepare_threshold": 5}),
        ("0", {"server_side_binding": True, "prepare_threshold": 0}),
        ("off", {}),
        ("None", {}),
    ],
)
def test_prepared_statements_are_on_unless_turned_off(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv("DATABASE_PREPARE_THRESHOLD", raising=False)
    else:
        monkeypatch.setenv("DATABASE_PREPARE_THRESHOLD", value)
    assert postgres_statement_options() == expected


def test_a_threshold_that_is_not_a_number_is_refused_by_name(monkeypatch):
    monkeypatch.setenv("DATABASE_PREPARE_THRESHOLD", "often")
    with pytest.raises(ImproperlyConfigured, match=r"DATABASE_PREPARE_THRESHOLD.*'often'"):
        postgres_statement_options()


@pytest.mark.django_db
def test_the_app_s_connection_prepares_a_statement_it_runs_again_and_again():
    def prepared() -> list[str]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT statement FROM pg_prepared_statements")
            return [row[0] for row in cursor.fetchall()]

    assert not any("annotation_item" in statement for statement in prepared())
    for pk in range(1, 8):  # the same SQL with other values: bound by the server
        Item.objects.filter(pk=pk).exists()
    statements = [s for s in prepared() if "annotation_item" in s]
    assert len(statements) == 1 and "$1" in statements[0]


def test_without_a_database_url_the_quick_start_gets_sqlite_in_its_folder(tmp_path):
    database = database_from_url(None, var_dir=tmp_path / "var")
    assert database["ENGINE"] == "django.db.backends.sqlite3"
    assert database["NAME"] == str(tmp_path / "var" / "db.sqlite3")
    assert (tmp_path / "var").is_dir() and database["CONN_MAX_AGE"] == 0
    assert database["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in database["OPTIONS"]["init_command"]


def test_postgresql_gets_its_statement_options(monkeypatch, tmp_path):
    monkeypatch.delenv("DATABASE_PREPARE_THRESHOLD", raising=False)
    database = database_from_url("postgres://vad:secret@db:5432/vad", var_dir=tmp_path)
    assert (database["ENGINE"], database["NAME"], database["HOST"]) == (
        "django.db.backends.postgresql",
        "vad",
        "db",
    )
    assert database["OPTIONS"] == {"server_side_binding": True, "prepare_threshold": 5}
    assert not (tmp_path / "db.sqlite3").exists()
