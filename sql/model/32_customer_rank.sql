-- The value of the customers in scope (customer_totals, n of them): score,
-- value_rank and uplift (docs/metrics.md#value-score, #value_rank, #uplift),
-- as the exact figures that the tiers are decided on (34_customer_class.sql).
-- n comes from a one-row count, not COUNT(*) OVER (): an unbounded window
-- holds the whole table as one batch, which a memory limit cannot spill.
-- Every figure is kept exact:
--   * score = Σ w_f·(RANK_f − 1) / ((n − 1)·Σ w): the denominator is the same
--     for everyone, so ranking by score_points = Σ w_f·(RANK_f − 1) (DECIMAL)
--     is ranking by the exact score;
--   * uplift = recent_profit × w / t − profit_w has the sign and the order of
--     uplift_points = recent_profit × w − profit_w × t (t ≥ 1).
WITH scope AS (
    SELECT COUNT(*) AS n FROM customer_totals
),
scored AS (
    SELECT
        t.*,
        c.region,
        c.segment,
        c.account_manager,
        c.signup_date,
        c.churn_date,
        s.n,
        -- PERCENT_RANK's numerator per factor: ascending, nulls first.
        $w_profit * (RANK() OVER (ORDER BY t.profit_w ASC NULLS FIRST) - 1)
        + $w_revenue * (RANK() OVER (ORDER BY t.revenue_w ASC NULLS FIRST) - 1)
        + $w_receivables_turnover * (RANK() OVER (ORDER BY c.receivables_turnover ASC NULLS FIRST) - 1)
        + $w_cooperation_score * (RANK() OVER (ORDER BY c.cooperation_score ASC NULLS FIRST) - 1)
            AS score_points
    FROM customer_totals AS t
    JOIN customers AS c ON c.customer_id = t.customer_id
    CROSS JOIN scope AS s
)
SELECT
    *,
    -- value_rank: by score desc, profit_w desc, customer_id asc.
    ROW_NUMBER() OVER (ORDER BY score_points DESC, profit_w DESC, customer_id ASC) AS value_rank,
    recent_profit * $w - profit_w * $t AS uplift_points
FROM scored
