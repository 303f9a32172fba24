-- DuckDB views over the cvm-etl outputs, one per table.
--
-- Replace OUTPUT_ROOT with the job's output location (a local folder such as
-- /data/cvm, or s3://bucket/cvm with the httpfs extension loaded and
-- credentials set up), then run this file:
--
--     sed 's#OUTPUT_ROOT#/data/cvm#g' docs/duckdb.sql | duckdb cvm.duckdb
--
-- Each glob names the Parquet files only (part-00000.parquet), never the
-- _SUCCESS markers beside them. The partition columns come from the folder
-- names; hive_types gives them their types instead of letting DuckDB guess.
-- Every other column takes its type from the files, as docs/outputs.md lists
-- it. A view is checked when it is created: create them once the job has
-- written the table at least once.

-- One row per customer and month of the window. Partition: month=YYYY-MM.
CREATE OR REPLACE VIEW customer_month AS
SELECT * FROM read_parquet('OUTPUT_ROOT/customer_month/*/*.parquet',
    hive_partitioning = true,
    hive_types = {'month': VARCHAR});

-- One row per month, dimension and dimension value. Partition: month=YYYY-MM.
CREATE OR REPLACE VIEW arpu AS
SELECT * FROM read_parquet('OUTPUT_ROOT/arpu/*/*.parquet',
    hive_partitioning = true,
    hive_types = {'month': VARCHAR});

-- One row per customer in scope. Partitions: as_of=YYYY-MM-DD/pyramid_tier=X.
CREATE OR REPLACE VIEW customer_value AS
SELECT * FROM read_parquet('OUTPUT_ROOT/customer_value/*/*/*.parquet',
    hive_partitioning = true,
    hive_types = {'as_of': DATE, 'pyramid_tier': VARCHAR});

-- One row per customer on the watchlist. Partition: as_of=YYYY-MM-DD.
CREATE OR REPLACE VIEW churn_watchlist AS
SELECT * FROM read_parquet('OUTPUT_ROOT/churn_watchlist/*/*.parquet',
    hive_partitioning = true,
    hive_types = {'as_of': DATE});

-- One row per scenario and population. Partition: as_of=YYYY-MM-DD.
CREATE OR REPLACE VIEW retention_savings AS
SELECT * FROM read_parquet('OUTPUT_ROOT/retention_savings/*/*.parquet',
    hive_partitioning = true,
    hive_types = {'as_of': DATE});

-- One row per rejected input record. Partitions: as_of=YYYY-MM-DD/source=X.
CREATE OR REPLACE VIEW rejected AS
SELECT * FROM read_parquet('OUTPUT_ROOT/rejected/*/*/*.parquet',
    hive_partitioning = true,
    hive_types = {'as_of': DATE, 'source': VARCHAR});
