-- SPEC §4.4 Customers in scope and their value, §4.5 Tiers (ABC, pyramid).
-- In scope: the customers with at least one customer_month row; n of them.
-- Every decision is taken on exact values:
--   * score = Σ w_f·(RANK_f − 1) / ((n − 1)·Σ w): the denominator is the same
--     for everyone, so ranking by score_points = Σ w_f·(RANK_f − 1) (DECIMAL)
--     is ranking by the exact score;
--   * value_rank ≤ CEIL(share × n) is written value_rank − 1 < share × n,
--     which compares an integer with an exact decimal product;
--   * uplift = recent_profit × w / t − profit_w has the sign and the order of
--     uplift_points = recent_profit × w − profit_w × t (t ≥ 1).
WITH totals AS (
    SELECT
        m.customer_id,
        SUM(m.revenue) AS revenue_w,
        SUM(m.cost) AS cost_w,
        SUM(m.profit) AS profit_w,
        SUM(CASE WHEN k.in_recent THEN m.revenue ELSE 0 END) AS recent_revenue,
        SUM(CASE WHEN k.in_previous THEN m.revenue ELSE 0 END) AS previous_revenue,
        SUM(CASE WHEN k.in_recent THEN m.profit ELSE 0 END) AS recent_profit,
        SUM(CASE WHEN k.in_dormant THEN m.revenue ELSE 0 END) AS dormant_revenue,
        SUM(CASE WHEN k.in_baseline THEN m.revenue ELSE 0 END) AS baseline_sum,
        SUM(CASE WHEN k.is_last THEN m.revenue ELSE 0 END) AS last_month_revenue
    FROM customer_month AS m
    JOIN calendar AS k ON k.month = m.month
    GROUP BY m.customer_id
),
scored AS (
    SELECT
        t.*,
        c.region,
        c.segment,
        c.account_manager,
        c.signup_date,
        c.churn_date,
        COUNT(*) OVER () AS n,
        -- PERCENT_RANK's numerator per factor: ascending, nulls first.
        $w_profit * (RANK() OVER (ORDER BY t.profit_w ASC NULLS FIRST) - 1)
        + $w_revenue * (RANK() OVER (ORDER BY t.revenue_w ASC NULLS FIRST) - 1)
        + $w_receivables_turnover * (RANK() OVER (ORDER BY c.receivables_turnover ASC NULLS FIRST) - 1)
        + $w_cooperation_score * (RANK() OVER (ORDER BY c.cooperation_score ASC NULLS FIRST) - 1)
            AS score_points
    FROM totals AS t
    JOIN customers AS c ON c.customer_id = t.customer_id
),
ranked AS (
    SELECT
        *,
        ROW_NUMBER() OVER (ORDER BY score_points DESC, profit_w DESC, customer_id ASC) AS value_rank,
        recent_profit * $w - profit_w * $t AS uplift_points
    FROM scored
),
classed AS (
    SELECT
        *,
        CASE
            WHEN profit_w > 0 AND value_rank - 1 < $a_share * n THEN 'A'
            WHEN profit_w > 0 AND value_rank - 1 < ($a_share + $b_share) * n THEN 'B'
            ELSE 'C'
        END AS abc_class,
        -- MVC skips ranks whose profit_w ≤ 0 rather than replacing them.
        CASE
            WHEN profit_w < 0 THEN 'BZ'
            WHEN profit_w > 0 AND value_rank - 1 < $mvc_share * n THEN 'MVC'
        END AS fixed_tier
    FROM ranked
),
placed AS (
    SELECT
        *,
        ROW_NUMBER() OVER (PARTITION BY abc_class ORDER BY value_rank) AS class_rank,
        COUNT(*) OVER (PARTITION BY abc_class) AS class_size,
        ROW_NUMBER() OVER (
            PARTITION BY fixed_tier IS NULL AND uplift_points > 0
            ORDER BY uplift_points DESC, customer_id ASC
        ) AS growable_rank
    FROM classed
)
SELECT
    customer_id,
    region,
    segment,
    account_manager,
    signup_date,
    churn_date,
    revenue_w,
    cost_w,
    profit_w,
    recent_revenue,
    previous_revenue,
    recent_profit,
    dormant_revenue,
    baseline_sum,
    last_month_revenue,
    n,
    score_points,
    value_rank,
    uplift_points,
    abc_class,
    abc_class = 'B' AND class_rank - 1 < $b_rising_share * class_size AS b_rising,
    CASE
        WHEN fixed_tier IS NOT NULL THEN fixed_tier
        WHEN uplift_points > 0 AND growable_rank - 1 < $mgc_share * n THEN 'MGC'
        ELSE 'LVC'
    END AS pyramid_tier
FROM placed
