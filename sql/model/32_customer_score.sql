-- The score of the customers in scope (docs/metrics.md#value-score), as the
-- exact figure that value_rank is decided on (33_customer_rank.sql):
-- score = Σ w_f·(RANK_f − 1) / ((n − 1)·Σ w). The denominator is the same
-- for everyone, so ranking by score_points = Σ w_f·(RANK_f − 1) (DECIMAL)
-- is ranking by the exact score.
-- n comes from a one-row count, not COUNT(*) OVER (): an unbounded window
-- holds the whole table as one batch, which a memory limit cannot spill.
--
-- RANK_f, ascending with nulls first, is over all customers and
-- range-partitioned (src/transforms/ranges.rs): the customers of the buckets
-- before the customer's own, plus its RANK within its bucket. The buckets
-- are ranked in parallel; one window over all customers would be one task.
SELECT
    customer_id,
    revenue_w,
    cost_w,
    profit_w,
    recent_revenue,
    previous_revenue,
    recent_profit,
    dormant_revenue,
    baseline_sum,
    last_month_revenue,
    region,
    segment,
    account_manager,
    signup_date,
    churn_date,
    s.n,
    $w_profit * (
        range_offset(profit_w, $profit_cuts, $profit_before)
        + RANK() OVER (
            PARTITION BY range_bucket(profit_w, $profit_cuts)
            ORDER BY profit_w ASC NULLS FIRST
        ) - 1
    )
    + $w_revenue * (
        range_offset(revenue_w, $revenue_cuts, $revenue_before)
        + RANK() OVER (
            PARTITION BY range_bucket(revenue_w, $revenue_cuts)
            ORDER BY revenue_w ASC NULLS FIRST
        ) - 1
    )
    + $w_receivables_turnover * (
        range_offset(receivables_turnover, $turnover_cuts, $turnover_before)
        + RANK() OVER (
            PARTITION BY range_bucket(receivables_turnover, $turnover_cuts)
            ORDER BY receivables_turnover ASC NULLS FIRST
        ) - 1
    )
    + $w_cooperation_score * (
        range_offset(cooperation_score, $cooperation_cuts, $cooperation_before)
        + RANK() OVER (
            PARTITION BY range_bucket(cooperation_score, $cooperation_cuts)
            ORDER BY cooperation_score ASC NULLS FIRST
        ) - 1
    ) AS score_points
FROM (SELECT COUNT(*) AS n FROM customer_totals) AS s
CROSS JOIN customer_totals
