-- Tiers (docs/metrics.md#abc-classes, #b_rising, #value-pyramid): the ABC
-- class, b_rising and the pyramid tier of every customer in scope, decided on
-- the exact value_rank and uplift_points of customer_rank
-- (32_customer_rank.sql).
-- A cut-off value_rank ≤ CEIL(share × n) is written value_rank − 1 < share × n,
-- which compares an integer with an exact decimal product.
-- The size of class B (for b_rising) is a one-row count, cross-joined: not
-- COUNT(*) OVER (PARTITION BY), whose unbounded window holds the whole table
-- as one batch, and not a join on a grouped count, which the engine builds
-- on the customers' side (a hash table of every customer, which cannot
-- spill).
WITH classed AS (
    SELECT
        *,
        -- A: value_rank ≤ CEIL(a_share × n) and profit_w > 0;
        -- B: not A, value_rank ≤ CEIL((a_share + b_share) × n) and profit_w > 0;
        -- C: all others.
        CASE
            WHEN profit_w > 0 AND value_rank - 1 < $a_share * n THEN 'A'
            WHEN profit_w > 0 AND value_rank - 1 < ($a_share + $b_share) * n THEN 'B'
            ELSE 'C'
        END AS abc_class,
        -- The two pyramid rules on profit and rank alone, used by the tier
        -- CASE below and by the MGC ranking, which is among the customers
        -- that neither rule takes.
        -- BZ: profit_w < 0.
        profit_w < 0 AS is_bz,
        -- MVC: value_rank ≤ CEIL(mvc_share × n) and profit_w > 0. MVC skips
        -- ranks whose profit_w ≤ 0 rather than replacing them, so it may
        -- hold fewer.
        profit_w > 0 AND value_rank - 1 < $mvc_share * n AS is_mvc
    FROM customer_rank
),
class_b AS (
    SELECT COUNT(*) AS b_size FROM classed WHERE abc_class = 'B'
),
placed AS (
    SELECT
        c.*,
        -- The place in the customer's class by value_rank (for b_rising).
        ROW_NUMBER() OVER (PARTITION BY c.abc_class ORDER BY c.value_rank) AS class_rank,
        z.b_size,
        -- The place among the customers neither BZ nor MVC with uplift > 0,
        -- by uplift desc, customer_id asc (for MGC).
        ROW_NUMBER() OVER (
            PARTITION BY NOT (c.is_bz OR c.is_mvc) AND c.uplift_points > 0
            ORDER BY c.uplift_points DESC, c.customer_id ASC
        ) AS growable_rank
    FROM classed AS c
    CROSS JOIN class_b AS z
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
        WHEN uplift_points > 0 AND growable_rank - 1 < $mgc_share * n THEN 'MGC'
        ELSE 'LVC'
    END AS pyramid_tier
FROM placed
