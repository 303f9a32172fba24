-- Churn watchlist (docs/metrics.md#churn-watchlist); the columns of
-- churn_watchlist in docs/outputs.md.
-- Watched: customers in scope in MVC or MGC, or in class A, not at `exit`.
-- Listed when the last month fell by alert_drop against the baseline (the t
-- months before M_last, averaged), tested exactly as
-- last × t ≤ (1 − alert_drop) × _baseline_sum, or when the stage is decline.
WITH watched AS (
    SELECT
        *,
        _baseline_sum > 0 AND _last_month_revenue * $t <= (1 - $alert_drop) * _baseline_sum AS dropped,
        lifecycle_stage = 'decline' AS declining
    FROM customer_value
    WHERE (pyramid_tier IN ('MVC', 'MGC') OR abc_class = 'A')
      AND lifecycle_stage <> 'exit'
)
SELECT
    customer_id,
    pyramid_tier,
    abc_class,
    lifecycle_stage,
    region,
    segment,
    account_manager,
    CAST(_last_month_revenue AS DECIMAL(38, 2)) AS last_month_revenue,
    CAST(div_cents(_baseline_sum, $t) AS DECIMAL(38, 2)) AS baseline_revenue,
    -- 1 − last / baseline, with baseline = _baseline_sum / t.
    CASE
        WHEN _baseline_sum > 0 THEN div_double(_baseline_sum - _last_month_revenue * $t, _baseline_sum)
    END AS drop_ratio,
    CASE
        WHEN dropped AND declining THEN 'revenue_drop+declining'
        WHEN dropped THEN 'revenue_drop'
        ELSE 'declining'
    END AS reason
FROM watched
WHERE dropped OR declining
