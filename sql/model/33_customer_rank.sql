-- value_rank, uplift and the ABC class of the customers in scope
-- (docs/metrics.md#value_rank, #uplift, #abc-classes), as the exact figures
-- that the tiers are decided on (34_customer_class.sql).
--   * value_rank is the place by score desc, profit_w desc, customer_id asc,
--     over all customers, range-partitioned by score
--     (src/transforms/ranges.rs): the customers of the buckets of higher
--     scores, plus the place within the customer's own bucket;
--   * uplift = recent_profit × w / t − profit_w has the sign and the order of
--     uplift_points = recent_profit × w − profit_w × t (t ≥ 1).
-- A cut-off value_rank ≤ CEIL(share × n) is written value_rank − 1 < share × n,
-- which compares an integer with an exact decimal product.
WITH ranked AS (
    SELECT
        *,
        CAST(
            range_offset(score_points, $score_cuts, $score_after)
            + ROW_NUMBER() OVER (
                PARTITION BY range_bucket(score_points, $score_cuts)
                ORDER BY score_points DESC, profit_w DESC, customer_id ASC
            ) AS BIGINT
        ) AS value_rank,
        recent_profit * $w - profit_w * $t AS uplift_points
    FROM customer_score
),
classed AS (
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
        -- The two pyramid rules on profit and rank alone, used by the tiers
        -- and by the MGC ranking, which is among the customers that neither
        -- rule takes.
        -- BZ: profit_w < 0.
        profit_w < 0 AS is_bz,
        -- MVC: value_rank ≤ CEIL(mvc_share × n) and profit_w > 0. MVC skips
        -- ranks whose profit_w ≤ 0 rather than replacing them, so it may
        -- hold fewer.
        profit_w > 0 AND value_rank - 1 < $mvc_share * n AS is_mvc
    FROM ranked
),
growable AS (
    SELECT
        *,
        -- Growable: neither BZ nor MVC, with uplift > 0 (the MGC candidates).
        COALESCE(NOT (is_bz OR is_mvc) AND uplift_points > 0, false) AS is_growable
    FROM classed
)
SELECT
    *,
    -- The keys of the two places of 34_customer_class.sql, each one order
    -- over all customers that puts the place's own customers first, in
    -- their order, so that their place over all is their place among
    -- themselves:
    --   * class B by value_rank (≤ n), then the others (> n);
    --   * the growable by uplift desc (uplift_points > 0), then the others
    --     (≤ 0), spread by their uplift so that no bucket takes them all.
    CASE WHEN abc_class = 'B' THEN value_rank ELSE n + value_rank END AS b_key,
    CASE
        WHEN is_growable THEN uplift_points
        ELSE -ABS(COALESCE(uplift_points, 0))
    END AS growable_key
FROM growable
