-- The anchor of the benchmark: the metrics of docs/metrics.md in DuckDB, over
-- the same exports, with the validation that matters for the numbers (types,
-- currency, duplicates). Each section below is headed by the docs/metrics.md
-- anchors it computes. Variables (set by run.py): data, out, as_of,
-- window_start, window_end, last_month, last_month_no. Parameters are the
-- defaults (docs/metrics.md#parameters).

-- Inputs --------------------------------------------------------------------
CREATE TEMP TABLE customers AS
WITH raw AS (
    SELECT *, CAST(dt AS DATE) AS dt_day
    FROM read_csv('{data}/customers/dt=*/*.csv', all_varchar = true, hive_partitioning = true, filename = true)
),
latest AS (SELECT MAX(dt_day) AS dt_day FROM raw WHERE dt_day <= getvariable('as_of'))
SELECT
    customer_id,
    NULLIF(TRIM(region), '') AS region,
    NULLIF(TRIM(segment), '') AS segment,
    NULLIF(TRIM(account_manager), '') AS account_manager,
    CAST(signup_date AS DATE) AS signup_date,
    TRY_CAST(NULLIF(churn_date, '') AS DATE) AS churn_date,
    TRY_CAST(NULLIF(receivables_turnover, '') AS DOUBLE) AS receivables_turnover,
    TRY_CAST(NULLIF(cooperation_score, '') AS DOUBLE) AS cooperation_score
FROM raw JOIN latest USING (dt_day)
WHERE regexp_full_match(signup_date, '\d{4}-\d{2}-\d{2}') AND TRY_CAST(signup_date AS DATE) <= getvariable('as_of')
QUALIFY ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY filename DESC) = 1;

CREATE TEMP TABLE billing AS
SELECT b.customer_id, CAST(b.invoice_date AS DATE) AS invoice_date, CAST(b.amount AS DECIMAL(18, 2)) AS amount
FROM read_csv('{data}/billing/dt=*/*.csv', all_varchar = true, hive_partitioning = true, filename = true) AS b
WHERE CAST(b.dt AS DATE) BETWEEN getvariable('window_start') AND getvariable('as_of')
  AND regexp_full_match(b.amount, '[+-]?(\d{1,16}(\.\d{0,2})?|\.\d{1,2})')
  AND regexp_full_match(b.invoice_date, '\d{4}-\d{2}-\d{2}') AND TRY_CAST(b.invoice_date AS DATE) <= getvariable('as_of')
  AND b.currency = 'CNY'
  AND b.customer_id IN (SELECT customer_id FROM customers)
QUALIFY ROW_NUMBER() OVER (PARTITION BY b.invoice_id, CAST(b.line_no AS BIGINT) ORDER BY b.dt DESC, b.filename DESC) = 1;

CREATE TEMP TABLE costs AS
SELECT k.customer_id, CAST(k.cost_date AS DATE) AS cost_date, CAST(k.amount AS DECIMAL(18, 2)) AS amount
FROM read_json('{data}/costs/dt=*/*.ndjson', format = 'newline_delimited', hive_partitioning = true,
               columns = {cost_id: 'VARCHAR', customer_id: 'VARCHAR', cost_date: 'VARCHAR', cost_type: 'VARCHAR', amount: 'VARCHAR', currency: 'VARCHAR'}) AS k
WHERE CAST(k.dt AS DATE) BETWEEN getvariable('window_start') AND getvariable('as_of')
  AND k.currency = 'CNY' AND k.customer_id IN (SELECT customer_id FROM customers)
QUALIFY ROW_NUMBER() OVER (PARTITION BY k.cost_id ORDER BY k.dt DESC) = 1;

-- #calendar, #customer_month ------------------------------------------------
CREATE TEMP TABLE calendar AS
SELECT
    m.month_no,
    make_date(CAST((m.month_no - 1) // 12 AS INT), CAST((m.month_no - 1) % 12 + 1 AS INT), 1) AS month,
    CAST(make_date(CAST((m.month_no - 1) // 12 AS INT), CAST((m.month_no - 1) % 12 + 1 AS INT), 1) + INTERVAL 1 MONTH - INTERVAL 1 DAY AS DATE) AS month_end,
    m.month_no > getvariable('last_month_no') - 3 AS in_recent,
    m.month_no <= getvariable('last_month_no') - 3 AND m.month_no > getvariable('last_month_no') - 6 AS in_previous,
    m.month_no < getvariable('last_month_no') AND m.month_no >= getvariable('last_month_no') - 3 AS in_baseline,
    m.month_no > getvariable('last_month_no') - 2 AS in_dormant,
    m.month_no = getvariable('last_month_no') AS is_last
FROM (SELECT getvariable('last_month_no') - range AS month_no FROM range(12)) AS m;

CREATE TEMP TABLE customer_month AS
WITH billed AS (
    SELECT customer_id, date_trunc('month', invoice_date) AS month, SUM(amount) AS revenue, COUNT(*) AS billing_lines
    FROM billing WHERE invoice_date BETWEEN getvariable('window_start') AND getvariable('window_end') GROUP BY ALL
),
costed AS (
    SELECT customer_id, date_trunc('month', cost_date) AS month, SUM(amount) AS cost
    FROM costs WHERE cost_date BETWEEN getvariable('window_start') AND getvariable('window_end') GROUP BY ALL
),
subscribed AS (
    SELECT c.customer_id, k.month FROM customers c, calendar k
    WHERE c.signup_date <= k.month_end AND (c.churn_date IS NULL OR c.churn_date > k.month)
),
present AS (SELECT customer_id, month FROM subscribed UNION SELECT customer_id, month FROM billed UNION SELECT customer_id, month FROM costed)
SELECT p.customer_id, CAST(p.month AS DATE) AS month,
    COALESCE(b.revenue, 0) AS revenue, COALESCE(o.cost, 0) AS cost, COALESCE(b.revenue, 0) - COALESCE(o.cost, 0) AS profit,
    COALESCE(b.billing_lines, 0) AS billing_lines, s.customer_id IS NOT NULL AS is_subscriber
FROM present p
LEFT JOIN billed b USING (customer_id, month) LEFT JOIN costed o USING (customer_id, month) LEFT JOIN subscribed s USING (customer_id, month);

-- #customers-in-scope, #value-score to #value-pyramid -----------------------
CREATE TEMP TABLE customer_class AS
WITH totals AS (
    SELECT m.customer_id, SUM(revenue) AS revenue_w, SUM(cost) AS cost_w, SUM(profit) AS profit_w,
        SUM(CASE WHEN in_recent THEN revenue ELSE 0 END) AS recent_revenue,
        SUM(CASE WHEN in_previous THEN revenue ELSE 0 END) AS previous_revenue,
        SUM(CASE WHEN in_recent THEN profit ELSE 0 END) AS recent_profit,
        SUM(CASE WHEN in_dormant THEN revenue ELSE 0 END) AS dormant_revenue,
        SUM(CASE WHEN in_baseline THEN revenue ELSE 0 END) AS baseline_sum,
        SUM(CASE WHEN is_last THEN revenue ELSE 0 END) AS last_month_revenue
    FROM customer_month m JOIN calendar k USING (month) GROUP BY m.customer_id
),
ranked AS (
    SELECT t.*, c.region, c.segment, c.account_manager, c.signup_date, c.churn_date,
        COUNT(*) OVER () AS n,
        RANK() OVER (ORDER BY t.profit_w ASC NULLS FIRST) - 1 AS score_points,
        recent_profit * 12 - profit_w * 3 AS uplift_points
    FROM totals t JOIN customers c USING (customer_id)
),
numbered AS (
    SELECT *, ROW_NUMBER() OVER (ORDER BY score_points DESC, profit_w DESC, customer_id ASC) AS value_rank FROM ranked
),
classed AS (
    SELECT *,
        CASE WHEN profit_w > 0 AND value_rank - 1 < 0.20 * n THEN 'A'
             WHEN profit_w > 0 AND value_rank - 1 < 0.50 * n THEN 'B' ELSE 'C' END AS abc_class,
        CASE WHEN profit_w < 0 THEN 'BZ' WHEN profit_w > 0 AND value_rank - 1 < 0.05 * n THEN 'MVC' END AS fixed_tier
    FROM numbered
)
SELECT *,
    abc_class = 'B' AND ROW_NUMBER() OVER (PARTITION BY abc_class ORDER BY value_rank) - 1 < 0.20 * COUNT(*) OVER (PARTITION BY abc_class) AS b_rising,
    CASE WHEN fixed_tier IS NOT NULL THEN fixed_tier
         WHEN uplift_points > 0 AND ROW_NUMBER() OVER (PARTITION BY fixed_tier IS NULL AND uplift_points > 0 ORDER BY uplift_points DESC, customer_id) - 1 < 0.15 * n THEN 'MGC'
         ELSE 'LVC' END AS pyramid_tier
FROM classed;

-- #subscribers to #arpu-slices ----------------------------------------------
CREATE TEMP TABLE slice_month AS
WITH sliced AS (
    SELECT c.customer_id, c.signup_date, c.churn_date, COALESCE(c.region, 'UNKNOWN') AS region,
        COALESCE(c.segment, 'UNKNOWN') AS segment, COALESCE(r.pyramid_tier, 'UNRANKED') AS pyramid_tier
    FROM customers c LEFT JOIN customer_class r USING (customer_id)
),
counted AS (
    SELECT k.month, s.region, s.segment, s.pyramid_tier,
        SUM(CASE WHEN s.signup_date < k.month AND (s.churn_date IS NULL OR s.churn_date >= k.month) THEN 1 ELSE 0 END) AS open_subscribers,
        SUM(CASE WHEN s.signup_date <= k.month_end AND (s.churn_date IS NULL OR s.churn_date > k.month_end) THEN 1 ELSE 0 END) AS close_subscribers,
        SUM(CASE WHEN s.churn_date BETWEEN k.month AND k.month_end THEN 1 ELSE 0 END) AS churned
    FROM sliced s, calendar k GROUP BY ALL
),
billed AS (SELECT m.month, s.region, s.segment, s.pyramid_tier, SUM(m.revenue) AS revenue FROM customer_month m JOIN sliced s USING (customer_id) GROUP BY ALL)
SELECT c.*, COALESCE(b.revenue, 0) AS revenue FROM counted c LEFT JOIN billed b USING (month, region, segment, pyramid_tier);

CREATE TEMP TABLE arpu AS
WITH d AS (
    SELECT month, 'all' AS dimension, 'all' AS dimension_value, revenue, open_subscribers, close_subscribers, churned FROM slice_month
    UNION ALL SELECT month, 'region', region, revenue, open_subscribers, close_subscribers, churned FROM slice_month
    UNION ALL SELECT month, 'segment', segment, revenue, open_subscribers, close_subscribers, churned FROM slice_month
    UNION ALL SELECT month, 'pyramid_tier', pyramid_tier, revenue, open_subscribers, close_subscribers, churned FROM slice_month
)
SELECT month, dimension, dimension_value, SUM(revenue) AS revenue, SUM(open_subscribers) AS open_subscribers,
    SUM(close_subscribers) AS close_subscribers, (SUM(open_subscribers) + SUM(close_subscribers)) / 2 AS avg_subscribers,
    CAST(SUM(revenue) AS DOUBLE) * 2 / NULLIF(SUM(open_subscribers) + SUM(close_subscribers), 0) AS arpu,
    SUM(churned) AS churned, SUM(churned) / NULLIF(SUM(open_subscribers), 0) AS churn_rate
FROM d GROUP BY ALL;

-- #growth_rate, #potential_w, #uplift, #tenure to #tier-policy --------------
CREATE TEMP TABLE customer_value AS
WITH tier_churn AS (SELECT pyramid_tier, SUM(open_subscribers) AS opened, SUM(churned) AS churned FROM slice_month GROUP BY ALL),
tenured AS (
    SELECT r.*, getvariable('last_month_no') - (year(r.signup_date) * 12 + month(r.signup_date)) AS tenure_months,
        tc.opened, tc.churned AS tier_churned
    FROM customer_class r LEFT JOIN tier_churn tc USING (pyramid_tier)
)
SELECT customer_id, region, segment, account_manager, signup_date, churn_date, revenue_w, cost_w, profit_w,
    recent_revenue, previous_revenue, recent_profit,
    CASE WHEN previous_revenue > 0 THEN CAST(recent_revenue - previous_revenue AS DOUBLE) / CAST(previous_revenue AS DOUBLE) END AS growth_rate,
    ROUND(recent_profit * 12 / 3, 2) AS potential_w, ROUND(uplift_points / 3, 2) AS uplift, tenure_months,
    CASE WHEN n > 1 THEN score_points / (n - 1) ELSE 0 END AS score, value_rank, abc_class, b_rising, pyramid_tier,
    CASE
        WHEN (churn_date IS NOT NULL AND churn_date <= getvariable('as_of')) OR (tenure_months >= 2 AND dormant_revenue <= 0) THEN 'exit'
        WHEN tenure_months < 3 THEN 'acquisition'
        WHEN (previous_revenue > 0 AND recent_revenue >= 1.10 * previous_revenue) OR (previous_revenue <= 0 AND recent_revenue > 0) THEN 'growth'
        WHEN previous_revenue > 0 AND recent_revenue <= 0.80 * previous_revenue THEN 'decline'
        ELSE 'maturity'
    END AS lifecycle_stage,
    CASE WHEN opened > 0 AND (0.01 * opened + tier_churned) <> 0
         THEN ROUND(CAST(profit_w * (opened - tier_churned) AS DOUBLE) / (12 * (0.01 * opened + tier_churned)), 2) END AS clv,
    CASE WHEN opened > 0 AND (0.01 * opened + tier_churned) <> 0
         THEN CAST(profit_w * (opened - tier_churned) AS DOUBLE) / (12 * (0.01 * opened + tier_churned)) END AS clv_exact,
    baseline_sum, last_month_revenue
FROM tenured;

-- #churn-watchlist ----------------------------------------------------------
CREATE TEMP TABLE churn_watchlist AS
WITH w AS (
    SELECT *, baseline_sum > 0 AND last_month_revenue * 3 <= 0.70 * baseline_sum AS dropped, lifecycle_stage = 'decline' AS declining
    FROM customer_value WHERE (pyramid_tier IN ('MVC', 'MGC') OR abc_class = 'A') AND lifecycle_stage <> 'exit'
)
SELECT customer_id, pyramid_tier, abc_class, lifecycle_stage, region, segment, account_manager, last_month_revenue,
    ROUND(baseline_sum / 3, 2) AS baseline_revenue,
    CASE WHEN baseline_sum > 0 THEN 1 - CAST(last_month_revenue * 3 AS DOUBLE) / CAST(baseline_sum AS DOUBLE) END AS drop_ratio,
    CASE WHEN dropped AND declining THEN 'revenue_drop+declining' WHEN dropped THEN 'revenue_drop' ELSE 'declining' END AS reason
FROM w WHERE dropped OR declining;

-- #retention-savings --------------------------------------------------------
CREATE TEMP TABLE retention_savings AS
WITH populations AS (SELECT unnest(['all', 'MVC', 'MGC', 'LVC', 'BZ']) AS population),
subs AS (
    SELECT p.population,
        COALESCE(SUM(CASE WHEN s.month = getvariable('last_month') THEN s.close_subscribers END), 0) AS base,
        COALESCE(SUM(CASE WHEN s.month = getvariable('last_month') THEN s.open_subscribers + s.close_subscribers END), 0) AS twice_avg,
        COALESCE(SUM(CASE WHEN s.month = getvariable('last_month') THEN s.revenue END), 0) AS last_revenue,
        COALESCE(SUM(s.open_subscribers), 0) AS opened, COALESCE(SUM(s.churned), 0) AS churned
    FROM populations p LEFT JOIN slice_month s ON p.population = 'all' OR s.pyramid_tier = p.population GROUP BY ALL
),
life AS (
    SELECT p.population, AVG(v.clv_exact) AS mean_clv
    FROM populations p LEFT JOIN customer_value v ON p.population = 'all' OR v.pyramid_tier = p.population GROUP BY ALL
),
scenarios AS (SELECT unnest([0.005, 0.01, 0.02]) AS scenario)
SELECT CAST(x.scenario AS DOUBLE) AS scenario, s.population, s.base AS base_subscribers,
    CAST(s.last_revenue AS DOUBLE) * 2 / NULLIF(s.twice_avg, 0) AS arpu,
    s.churned / NULLIF(s.opened, 0) AS avg_monthly_churn_rate,
    1 - power(1 - s.churned / NULLIF(s.opened, 0), 12) AS annual_churn_rate,
    s.base * x.scenario AS customers_retained,
    ROUND(s.base * x.scenario * 559.00, 2) AS acquisition_cost_avoided,
    ROUND(s.base * x.scenario * CAST(s.last_revenue AS DOUBLE) * 2 / NULLIF(s.twice_avg, 0), 2) AS monthly_revenue_retained,
    ROUND(12 * s.base * x.scenario * CAST(s.last_revenue AS DOUBLE) * 2 / NULLIF(s.twice_avg, 0), 2) AS annual_revenue_retained,
    ROUND(s.base * x.scenario * l.mean_clv, 2) AS lifetime_value_retained,
    'CNY' AS currency
FROM subs s JOIN life l USING (population), scenarios x;

-- Outputs -----------------------------------------------------------------------
COPY (SELECT * EXCLUDE (month), strftime(month, '%Y-%m') AS month FROM customer_month)
    TO '{out}/customer_month' (FORMAT parquet, PARTITION_BY (month), COMPRESSION zstd, OVERWRITE_OR_IGNORE);
COPY (SELECT * EXCLUDE (month), strftime(month, '%Y-%m') AS month FROM arpu)
    TO '{out}/arpu' (FORMAT parquet, PARTITION_BY (month), COMPRESSION zstd, OVERWRITE_OR_IGNORE);
COPY (SELECT * EXCLUDE (clv_exact, baseline_sum, last_month_revenue) FROM customer_value)
    TO '{out}/customer_value' (FORMAT parquet, PARTITION_BY (pyramid_tier), COMPRESSION zstd, OVERWRITE_OR_IGNORE);
COPY churn_watchlist TO '{out}/churn_watchlist.parquet' (FORMAT parquet, COMPRESSION zstd);
COPY retention_savings TO '{out}/retention_savings.parquet' (FORMAT parquet, COMPRESSION zstd);
