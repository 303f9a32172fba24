"""Reads the job's outputs back with DuckDB, an engine other than our writer.

Usage: python3 tests/readback.py OUTPUT_DIR
Prints one JSON object: per table, the row count and the column types.
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
    print(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1])
