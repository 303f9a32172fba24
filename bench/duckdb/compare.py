"""Checks that cvm-etl and the DuckDB anchor agree on customer_value and
retention_savings: python3 bench/duckdb/compare.py OURS THEIRS"""
import sys

import duckdb

ours, theirs = sys.argv[1], sys.argv[2]
con = duckdb.connect()
con.execute(f"CREATE VIEW a AS SELECT * FROM read_parquet('{ours}/customer_value/**/*.parquet', hive_partitioning = true)")
con.execute(f"CREATE VIEW b AS SELECT * FROM read_parquet('{theirs}/customer_value/**/*.parquet', hive_partitioning = true)")
(n_a,), (n_b,) = con.sql("SELECT COUNT(*) FROM a").fetchall()[0], con.sql("SELECT COUNT(*) FROM b").fetchall()[0]
diff = con.sql("""
    SELECT COUNT(*) FROM a FULL JOIN b USING (customer_id)
    WHERE a.pyramid_tier IS DISTINCT FROM b.pyramid_tier OR a.abc_class IS DISTINCT FROM b.abc_class
       OR a.value_rank IS DISTINCT FROM b.value_rank OR a.lifecycle_stage IS DISTINCT FROM b.lifecycle_stage
       OR a.profit_w IS DISTINCT FROM b.profit_w OR ABS(COALESCE(a.clv, 0) - COALESCE(b.clv, 0)) > 0.01
""").fetchall()[0][0]
con.execute(f"CREATE VIEW r AS SELECT * FROM read_parquet('{ours}/retention_savings/**/*.parquet')")
con.execute(f"CREATE VIEW s AS SELECT * FROM read_parquet('{theirs}/retention_savings.parquet')")
rdiff = con.sql("""
    SELECT COUNT(*) FROM r FULL JOIN s USING (scenario, population)
    WHERE r.base_subscribers IS DISTINCT FROM s.base_subscribers
       OR ABS(COALESCE(r.acquisition_cost_avoided, 0) - COALESCE(s.acquisition_cost_avoided, 0)) > 0.01
       OR ABS(COALESCE(r.monthly_revenue_retained, 0) - COALESCE(s.monthly_revenue_retained, 0)) > 0.01
       OR ABS(COALESCE(r.lifetime_value_retained, 0) - COALESCE(s.lifetime_value_retained, 0)) > 0.01
""").fetchall()[0][0]
print(f"customer_value: {n_a} vs {n_b} rows, {diff} differ; retention_savings: {rdiff} rows differ")
sys.exit(0 if diff == 0 and rdiff == 0 and n_a == n_b else 1)
