-- Value, tiers, lifecycle stage, lifetime value and policy per customer in
-- scope (docs/metrics.md#growth_rate to #tier-policy); the columns of
-- customer_value in docs/outputs.md, plus the `_`-prefixed helpers of the
-- churn watchlist and retention savings (clv as its exact fraction).
--
-- clv = (profit_w / w) × r / (1 + i − r) with r = 1 − C/O (C churned and O
-- opened over W in the customer's tier) is, multiplied out,
--     profit_w × (O − C) / (w × (i × O + C)),
-- one exact division, rounded once, half away from zero (div_cents).
WITH tier_churn AS (
    SELECT pyramid_tier, SUM(open_subscribers) AS opened, SUM(churned) AS churned
    FROM slice_month
    GROUP BY pyramid_tier
),
-- Each customer in scope (customer_class) with its tenure and its clv as
-- the fraction clv_numerator / clv_denominator.
with_tenure_and_clv AS (
    SELECT
        r.*,
        -- Months from the month of signup_date to M_last.
        $last_month_no
            - CAST(date_part('year', r.signup_date) AS BIGINT) * 12
            - CAST(date_part('month', r.signup_date) AS BIGINT) AS tenure_months,
        CASE WHEN tc.opened > 0 THEN r.profit_w * (tc.opened - tc.churned) END AS clv_numerator,
        CASE WHEN tc.opened > 0 THEN $w * ($monthly_discount_rate * tc.opened + tc.churned) END AS clv_denominator
    FROM customer_class AS r
    LEFT JOIN tier_churn AS tc ON tc.pyramid_tier = r.pyramid_tier
),
-- The same, with the lifecycle stage (docs/metrics.md#lifecycle-stage).
with_stage AS (
    SELECT
        *,
        -- The first stage that holds, in the order docs/metrics.md lists them.
        CASE
            WHEN (churn_date IS NOT NULL AND churn_date <= $as_of)
                OR (tenure_months >= $dormant_months AND dormant_revenue <= 0) THEN 'exit'
            WHEN tenure_months < $new_customer_months THEN 'acquisition'
            WHEN (previous_revenue > 0 AND recent_revenue >= (1 + $growth_threshold) * previous_revenue)
                OR (previous_revenue <= 0 AND recent_revenue > 0) THEN 'growth'
            WHEN previous_revenue > 0 AND recent_revenue <= (1 - $decline_threshold) * previous_revenue THEN 'decline'
            ELSE 'maturity'
        END AS lifecycle_stage
    FROM with_tenure_and_clv
)
SELECT
    s.customer_id,
    s.region,
    s.segment,
    s.account_manager,
    s.signup_date,
    s.churn_date,
    CAST(s.revenue_w AS DECIMAL(38, 2)) AS revenue_w,
    CAST(s.cost_w AS DECIMAL(38, 2)) AS cost_w,
    CAST(s.profit_w AS DECIMAL(38, 2)) AS profit_w,
    CAST(s.recent_revenue AS DECIMAL(38, 2)) AS recent_revenue,
    CAST(s.previous_revenue AS DECIMAL(38, 2)) AS previous_revenue,
    CAST(s.recent_profit AS DECIMAL(38, 2)) AS recent_profit,
    CASE
        WHEN s.previous_revenue > 0
        THEN div_double(s.recent_revenue - s.previous_revenue, s.previous_revenue)
    END AS growth_rate,
    CAST(div_cents(s.recent_profit * $w, $t) AS DECIMAL(38, 2)) AS potential_w,
    CAST(div_cents(s.uplift_points, $t) AS DECIMAL(38, 2)) AS uplift,
    s.tenure_months,
    CASE
        WHEN s.n > 1 THEN div_double(s.score_points, (s.n - 1) * $weight_sum)
        ELSE CAST(0 AS DOUBLE)
    END AS score,
    CAST(s.value_rank AS BIGINT) AS value_rank,
    s.abc_class,
    s.b_rising,
    s.pyramid_tier,
    s.lifecycle_stage,
    CAST(div_cents(s.clv_numerator, s.clv_denominator) AS DECIMAL(38, 2)) AS clv,
    CAST(p.points_multiplier AS BIGINT) AS points_multiplier,
    p.action,
    s.clv_numerator AS _clv_numerator,
    s.clv_denominator AS _clv_denominator,
    s.baseline_sum AS _baseline_sum,
    s.last_month_revenue AS _last_month_revenue
FROM with_stage AS s
JOIN tier_policy AS p ON p.pyramid_tier = s.pyramid_tier
