-- SPEC §4.5 Tiers: b_rising within class B and the growth tier MGC among
-- the customers whose tier is not fixed by rank; LVC for the rest.
-- Class sizes come from a grouped count, not COUNT(*) OVER (PARTITION BY):
-- an unbounded window holds the whole table as one batch, which a memory
-- limit cannot spill.
WITH class_sizes AS (
    SELECT abc_class, COUNT(*) AS class_size FROM customer_class GROUP BY abc_class
),
placed AS (
    SELECT
        c.*,
        ROW_NUMBER() OVER (PARTITION BY c.abc_class ORDER BY c.value_rank) AS class_rank,
        z.class_size,
        ROW_NUMBER() OVER (
            PARTITION BY c.fixed_tier IS NULL AND c.uplift_points > 0
            ORDER BY c.uplift_points DESC, c.customer_id ASC
        ) AS growable_rank
    FROM customer_class AS c
    JOIN class_sizes AS z ON z.abc_class = c.abc_class
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
