"""The SQLite aging report's helper thread (``collection_reports._in_helper_thread``) and
the JSON rows it reads (``_json_rows``), on plain sqlite3 connections."""

from __future__ import annotations

import json
import queue
import sqlite3
import threading
import time
from decimal import Decimal

import pytest

from cfdi_cobranza.domain.money import ZERO
from cfdi_cobranza.services import collection_reports as reports

SQL = "SELECT ? * 10"


def _helpers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "cobranza-aging-sqlite"]


@pytest.fixture
def conn(tmp_path):
    con = sqlite3.connect(tmp_path / "x.db", check_same_thread=False, isolation_level=None)
    yield con
    con.close()


def test_values_come_in_order_from_another_thread(conn):
    seen: list[str] = []
    conn.create_function("who", 0, lambda: seen.append(threading.current_thread().name) or 1)
    got = list(reports._in_helper_thread(conn, "SELECT ? * who()", [[i] for i in range(20)]))
    assert got == list(range(20))
    assert set(seen) == {"cobranza-aging-sqlite"}
    assert not _helpers()


def test_an_error_in_the_helper_is_raised_to_the_caller(conn):
    it = reports._in_helper_thread(conn, "SELECT 1 / 0 + nosuchcolumn", [[1], [2]])
    with pytest.raises(sqlite3.OperationalError, match="nosuchcolumn"):
        list(it)
    assert not _helpers()
    assert conn.execute("SELECT 2").fetchone() == (2,)


def test_a_failing_later_statement_stops_after_the_good_ones(conn):
    def raise_if_two(v: int) -> int:
        if v == 2:
            raise ValueError("two")
        return v

    conn.create_function("raise_if_two", 1, raise_if_two)
    got: list[int] = []
    with pytest.raises(sqlite3.OperationalError, match="user-defined function raised exception"):
        for value in reports._in_helper_thread(conn, "SELECT raise_if_two(?)", [[1], [2], [3]]):
            got.append(value)
    assert got == [1]
    assert not _helpers()


def test_closing_early_stops_the_helper(conn):
    ran: list[int] = []
    release = threading.Event()

    def note(v: int) -> int:
        ran.append(v)
        if v:
            release.wait(5)  # the helper is held in its second statement
        return v

    conn.create_function("note", 1, note)
    it = reports._in_helper_thread(conn, "SELECT note(?)", [[i] for i in range(1000)])
    assert next(it) == 0
    threading.Timer(0.05, release.set).start()
    it.close()
    assert not _helpers()
    assert ran == [0, 1]  # the statement in course ended, no other started
    assert conn.execute("SELECT 3").fetchone() == (3,)


def test_closing_interrupts_a_long_statement(conn):
    """Closing does not wait for a long statement (the single range of a past fecha de
    corte): the helper's statement in course is interrupted."""
    conn.execute("CREATE TABLE n (v)")
    conn.executemany("INSERT INTO n VALUES (?)", [(i,) for i in range(1000)])
    slow = "SELECT CASE WHEN ? THEN (SELECT count(*) FROM n a, n b, n c) ELSE 1 END"  # 10^9 rows
    it = reports._in_helper_thread(conn, slow, [[0], [1]])
    assert next(it) == 1
    time.sleep(0.2)  # the helper is in the second statement
    assert _helpers()
    t0 = time.perf_counter()
    it.close()
    assert time.perf_counter() - t0 < 3
    assert not _helpers()
    assert conn.execute("SELECT 4").fetchone() == (4,)


def test_a_connection_bound_to_its_thread_is_used_from_the_callers(tmp_path):
    con = sqlite3.connect(tmp_path / "y.db")  # check_same_thread=True
    seen: list[str] = []
    con.create_function("who", 0, lambda: seen.append(threading.current_thread().name) or 1)
    try:
        assert list(reports._in_helper_thread(con, "SELECT ? * who()", [[3], [4]])) == [3, 4]
    finally:
        con.close()
    assert set(seen) == {threading.current_thread().name}


def test_json_rows_keep_names_and_exact_sums(conn):
    """Any text survives (quotes, backslashes, separators, newlines, accents); each sum is
    the integer of millionths Money stores, read with exponent -6; NULL is ZERO."""
    names = ['ÑANDÚ "EL BUENO", S.A.', "back\\slash\ttab\nline\x1f\x1e", "[1,2]", ""]
    conn.execute("CREATE TABLE r (clave, nombre, moneda, n, b0, b1)")
    rows = [(f"K{i}", name, "MXN", i + 1, 5 * 10**i, None) for i, name in enumerate(names)]
    rows.append(("NEG", "negative", "USD", 1, -1, 9_223_372_036_854_775_807))
    conn.executemany("INSERT INTO r VALUES (?, ?, ?, ?, ?, ?)", rows)
    sql = reports._json_rows("SELECT * FROM r ORDER BY clave", 2)
    (text,) = conn.execute(sql).fetchone()
    keys, nombres, monedas, docs, amounts = reports._sqlite_columns(
        json.loads(text, parse_float=reports._not_exact), 2)
    got = list(zip(keys, nombres, monedas, docs, *amounts, strict=True))
    expected = [(*r[:4], *(ZERO if v is None else Decimal(v).scaleb(-6) for v in r[4:]))
                for r in sorted(rows)]
    assert all(v is ZERO for row in got for v in row[4:] if not v)  # an empty bucket is ZERO itself
    assert got == expected
    assert [str(r[4]) for r in got][:2] == ["0.000005", "0.000050"]
    assert str(got[-1][4]) == "-0.000001" and str(got[-1][5]) == "9223372036854.775807"
    assert all(v.as_tuple().exponent == -6 for r in got for v in r[4:] if v is not ZERO)


def test_json_rows_refuse_a_float_sum(conn):
    conn.execute("CREATE TABLE r (clave, nombre, moneda, n, b0)")
    conn.execute("INSERT INTO r VALUES ('K', 'N', 'MXN', 1, 1.5)")
    (text,) = conn.execute(reports._json_rows("SELECT * FROM r", 1)).fetchone()
    with pytest.raises(TypeError, match="float"):
        json.loads(text, parse_float=reports._not_exact)


def test_json_rows_of_no_rows(conn):
    conn.execute("CREATE TABLE r (clave, nombre, moneda, n, b0)")
    (text,) = conn.execute(reports._json_rows("SELECT * FROM r", 1)).fetchone()
    assert reports._sqlite_columns(json.loads(text), 1) == ((), (), (), (), [[]])


def test_requests_run_in_the_helper_between_statements(conn):
    """Work the caller needs on the connection meanwhile (the exchange rates) runs in the
    helper before its next statement; its result or error comes back in its future."""
    from concurrent.futures import Future

    requests: queue.SimpleQueue = queue.SimpleQueue()
    done, failed = Future(), Future()
    requests.put((lambda: (threading.current_thread().name, conn.execute("SELECT 7").fetchone()[0]), done))
    requests.put((lambda: 1 / 0, failed))
    got = list(reports._in_helper_thread(conn, SQL, [[1], [2]], requests))
    assert got == [10, 20]
    assert done.result(timeout=1) == ("cobranza-aging-sqlite", 7)
    assert isinstance(failed.exception(timeout=1), ZeroDivisionError)
    assert not _helpers()
