"""Reads the job's outputs back with DuckDB, an engine other than our writer.

Usage: python3 tests/readback.py OUTPUT_DIR
Prints one JSON object: per table, the row count and the column types as
read_parquet gives them, and the same through the views of docs/duckdb.sql
(the DDL the docs tell users to copy).
"""
import json
import sys

import duckdb

TABLES = ["customer_month", "arpu", "customer_value", "churn_watchlist", "retention_savings", "rejected"]


def main(root):
    con = duckdb.connect()
    report = {}
    for table in TABLES:
        glob = f"{root}/{table}/**/*.parquet"
        rel = con.sql(f"SELECT * FROM read_parquet('{glob}', hive_partitioning = true)")
        types = {name: str(kind) for name, kind in zip(rel.columns, rel.types)}
        ((rows,),) = con.sql(f"SELECT COUNT(*) FROM read_parquet('{glob}', hive_partitioning = true)").fetchall()
        report[table] = {"rows": rows, "types": types}
    with open("docs/duckdb.sql", encoding="utf-8") as ddl:
        con.execute(ddl.read().replace("OUTPUT_ROOT", root))
    for table in TABLES:
        rel = con.sql(f"SELECT * FROM {table}")
        report[table]["view_types"] = {name: str(kind) for name, kind in zip(rel.columns, rel.types)}
        ((rows,),) = con.sql(f"SELECT COUNT(*) FROM {table}").fetchall()
        report[table]["view_rows"] = rows
    print(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1])
