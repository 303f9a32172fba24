-- Tiers (docs/metrics.md#b_rising, #value-pyramid): b_rising and the pyramid
-- tier of every customer in scope, decided on the exact value_rank,
-- uplift_points and ABC class of customer_rank (33_customer_rank.sql).
-- The size of class B (for b_rising) is a one-row count, cross-joined: not
-- COUNT(*) OVER (PARTITION BY), whose unbounded window holds the whole table
-- as one batch, and not a join on a grouped count, which the engine builds
-- on the customers' side (a hash table of every customer, which cannot
-- spill).
-- The two places are over all customers, range-partitioned
-- (src/transforms/ranges.rs) on b_key and growable_key, which put the
-- place's own customers first (33_customer_rank.sql).
WITH class_b AS (
    SELECT COUNT(*) AS b_size FROM customer_rank WHERE abc_class = 'B'
),
placed AS (
    SELECT
        c.*,
        -- The place in class B by value_rank (for b_rising).
        range_offset(c.b_key, $b_place_cuts, $b_place_before)
        + ROW_NUMBER() OVER (
            PARTITION BY range_bucket(c.b_key, $b_place_cuts) ORDER BY c.b_key
        ) AS class_rank,
        z.b_size,
        -- The place among the growable customers by uplift desc,
        -- customer_id asc (for MGC).
        range_offset(c.growable_key, $growable_cuts, $growable_after)
        + ROW_NUMBER() OVER (
            PARTITION BY range_bucket(c.growable_key, $growable_cuts)
            ORDER BY c.growable_key DESC, c.customer_id ASC
        ) AS growable_rank
    FROM class_b AS z
    CROSS JOIN customer_rank AS c
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
    -- b_rising: the first CEIL(b_rising_share × n_B) of B by value_rank.
    abc_class = 'B' AND class_rank - 1 < $b_rising_share * b_size AS b_rising,
    -- The pyramid: the first rule that holds.
    CASE
        WHEN is_bz THEN 'BZ'
        WHEN is_mvc THEN 'MVC'
        -- MGC: of the customers neither BZ nor MVC with uplift > 0, the
        -- first CEIL(mgc_share × n) by uplift desc, customer_id asc.
        WHEN is_growable AND growable_rank - 1 < $mgc_share * n THEN 'MGC'
        ELSE 'LVC'
    END AS pyramid_tier
FROM placed
