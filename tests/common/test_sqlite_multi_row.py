"""`executemany` on SQLite: an INSERT (or upsert) of one row of positional parameters runs as
multi-row INSERTs within the connection's limit on parameters, in order, with the rows it
changed; any other statement runs as the driver's executemany."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest

from libs.common.db import MULTI_ROW_MAX, executemany


@pytest.fixture
def conn() -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(":memory:", isolation_level=None)
    connection.execute("CREATE TABLE t (k TEXT PRIMARY KEY, n INTEGER NOT NULL, note TEXT)")
    yield connection
    connection.close()


def statements(connection: sqlite3.Connection) -> list[str]:
    ran: list[str] = []
    connection.set_trace_callback(ran.append)
    return ran


def test_rows_go_in_statements_of_as_many_rows_as_the_parameter_limit_allows(
    conn: sqlite3.Connection,
) -> None:
    conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 10)  # 3 rows of 3 parameters
    ran = statements(conn)
    records = [(f"k{i}", i, None) for i in range(7)]
    changed = executemany(conn.cursor(), "INSERT INTO t (k, n, note) VALUES (?, ?, ?)", records)
    assert changed == 7
    assert len(ran) == 3  # 3 + 3 + 1 rows
    assert conn.execute("SELECT k, n FROM t ORDER BY n").fetchall() == [
        (f"k{i}", i) for i in range(7)
    ]


def test_at_most_multi_row_max_rows_go_in_one_statement(conn: sqlite3.Connection) -> None:
    ran = statements(conn)
    rows = MULTI_ROW_MAX + 1
    changed = executemany(
        conn.cursor(), "INSERT INTO t (k, n) VALUES (?, ?)", ((f"k{i}", i) for i in range(rows))
    )
    assert (changed, len(ran)) == (rows, 2)
    assert conn.execute("SELECT count(*), sum(n) FROM t").fetchone() == (rows, sum(range(rows)))


def test_an_upsert_applies_its_rows_in_order_as_executemany_would(
    conn: sqlite3.Connection,
) -> None:
    sql = (
        "INSERT INTO t (k, n, note) VALUES (?, ?, ?) "
        "ON CONFLICT (k) DO UPDATE SET n = t.n + excluded.n, note = excluded.note"
    )
    records = [("a", 1, "first"), ("b", 10, "b"), ("a", 2, "second"), ("a", 4, "third")]
    ran = statements(conn)
    executemany(conn.cursor(), sql, records)
    assert len(ran) == 1
    multi = conn.execute("SELECT k, n, note FROM t ORDER BY k").fetchall()
    conn.execute("DELETE FROM t")
    conn.cursor().executemany(sql, records)
    assert multi == conn.execute("SELECT k, n, note FROM t ORDER BY k").fetchall()
    assert multi == [("a", 7, "third"), ("b", 10, "b")]


def test_other_statements_run_row_by_row(conn: sqlite3.Connection) -> None:
    executemany(conn.cursor(), "INSERT INTO t (k, n) VALUES (?, ?)", [("a", 1), ("b", 2)])
    ran = statements(conn)
    changed = executemany(conn.cursor(), "UPDATE t SET n = ? WHERE k = ?", [(5, "a"), (6, "b")])
    assert (changed, len(ran)) == (2, 2)
    executemany(conn.cursor(), "INSERT INTO t (k, n) VALUES (?, 0)", [("c",), ("d",)])
    assert len(ran) == 4  # a constant among the values: not one row of parameters
    assert conn.execute("SELECT k, n FROM t ORDER BY k").fetchall() == [
        ("a", 5),
        ("b", 6),
        ("c", 0),
        ("d", 0),
    ]


def test_a_failing_row_fails_the_call_and_its_transaction_undoes_every_row(
    conn: sqlite3.Connection,
) -> None:
    conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 4)  # 2 rows a statement
    conn.execute("BEGIN")
    with pytest.raises(sqlite3.IntegrityError):
        executemany(
            conn.cursor(), "INSERT INTO t (k, n) VALUES (?, ?)", [("a", 1), ("b", 2), ("a", 3)]
        )
    conn.execute("ROLLBACK")
    assert conn.execute("SELECT count(*) FROM t").fetchone() == (0,)


def test_no_rows_run_nothing(conn: sqlite3.Connection) -> None:
    ran = statements(conn)
    assert executemany(conn.cursor(), "INSERT INTO t (k, n) VALUES (?, ?)", []) == 0
    assert ran == []
