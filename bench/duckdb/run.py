"""Runs bench/duckdb/cvm.sql: python3 bench/duckdb/run.py DATA OUT AS_OF

DUCKDB_MEMORY_LIMIT (e.g. 4GB) sets DuckDB's memory_limit (default: 80% of
the machine's memory); DUCKDB_TEMP_DIR and DUCKDB_MAX_TEMP (e.g. 20GB) where
it spills and how much, so that a run that outgrows the disk fails instead
of filling it."""
import datetime as dt
import os
import sys

import duckdb


def main(data, out, as_of):
    d = dt.date.fromisoformat(as_of)
    month_end = (d.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
    last = d.replace(day=1) if d == month_end else (d.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    last_no = last.year * 12 + last.month
    start_no = last_no - 11
    window_start = dt.date((start_no - 1) // 12, (start_no - 1) % 12 + 1, 1)
    window_end = (last.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
    os.makedirs(out, exist_ok=True)
    con = duckdb.connect()
    for setting, variable in [("memory_limit", "DUCKDB_MEMORY_LIMIT"), ("temp_directory", "DUCKDB_TEMP_DIR"), ("max_temp_directory_size", "DUCKDB_MAX_TEMP")]:
        if os.environ.get(variable):
            con.execute(f"SET {setting} = '{os.environ[variable]}'")
    for name, value in [("as_of", d), ("window_start", window_start), ("window_end", window_end), ("last_month", last)]:
        con.execute(f"SET VARIABLE {name} = DATE '{value}'")
    con.execute(f"SET VARIABLE last_month_no = {last_no}")
    sql = open(os.path.join(os.path.dirname(__file__), "cvm.sql")).read()
    con.execute(sql.replace("{data}", data).replace("{out}", out))


if __name__ == "__main__":
    main(*sys.argv[1:4])
