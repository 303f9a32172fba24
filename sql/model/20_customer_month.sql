-- customer_month (docs/metrics.md#customer_month). One row per customer and
-- month of W where the customer was a subscriber during the month or has
-- accepted billing or cost lines in it (a line of amount 0 counts). Lines
-- outside W count nowhere.
-- One aggregation over billing lines, cost items and subscriber months
-- together: no joins, so billing is read once and the grouping can spill.
WITH facts AS (
    SELECT
        customer_id,
        CAST(date_trunc('month', invoice_date) AS DATE) AS month,
        amount AS revenue,
        CAST(0 AS DECIMAL(18, 2)) AS cost,
        CAST(1 AS BIGINT) AS billing_lines,
        FALSE AS is_subscriber
    FROM billing
    WHERE invoice_date BETWEEN $window_start AND $window_end
    UNION ALL
    SELECT
        customer_id,
        CAST(date_trunc('month', cost_date) AS DATE),
        CAST(0 AS DECIMAL(18, 2)),
        amount,
        CAST(0 AS BIGINT),
        FALSE
    FROM costs
    WHERE cost_date BETWEEN $window_start AND $window_end
    UNION ALL
    -- Subscriber during m: signed up by its last day, not churned by its first.
    SELECT c.customer_id, k.month, CAST(0 AS DECIMAL(18, 2)), CAST(0 AS DECIMAL(18, 2)), CAST(0 AS BIGINT), TRUE
    FROM customers AS c
    CROSS JOIN calendar AS k
    WHERE c.signup_date <= k.month_end
      AND (c.churn_date IS NULL OR c.churn_date > k.month)
)
SELECT
    customer_id,
    month,
    CAST(SUM(revenue) AS DECIMAL(38, 2)) AS revenue,
    CAST(SUM(cost) AS DECIMAL(38, 2)) AS cost,
    CAST(SUM(revenue) - SUM(cost) AS DECIMAL(38, 2)) AS profit,
    SUM(billing_lines) AS billing_lines,
    BOOL_OR(is_subscriber) AS is_subscriber
FROM facts
GROUP BY customer_id, month
