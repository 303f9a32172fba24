-- SPEC §4.3 customer_month. One row per customer and month of W where the
-- customer was a subscriber during the month or has accepted billing or cost
-- lines in it (a line of amount 0 counts). Lines outside W count nowhere.
WITH billed AS (
    SELECT customer_id, CAST(date_trunc('month', invoice_date) AS DATE) AS month, SUM(amount) AS revenue, COUNT(*) AS billing_lines
    FROM billing
    WHERE invoice_date BETWEEN $window_start AND $window_end
    GROUP BY customer_id, CAST(date_trunc('month', invoice_date) AS DATE)
),
costed AS (
    SELECT customer_id, CAST(date_trunc('month', cost_date) AS DATE) AS month, SUM(amount) AS cost
    FROM costs
    WHERE cost_date BETWEEN $window_start AND $window_end
    GROUP BY customer_id, CAST(date_trunc('month', cost_date) AS DATE)
),
-- Subscriber during m: signed up by its last day, not churned by its first.
subscribed AS (
    SELECT c.customer_id, k.month
    FROM customers AS c
    CROSS JOIN calendar AS k
    WHERE c.signup_date <= k.month_end
      AND (c.churn_date IS NULL OR c.churn_date > k.month)
),
present AS (
    SELECT customer_id, month FROM subscribed
    UNION
    SELECT customer_id, month FROM billed
    UNION
    SELECT customer_id, month FROM costed
)
SELECT
    p.customer_id,
    p.month,
    CAST(COALESCE(b.revenue, 0) AS DECIMAL(38, 2)) AS revenue,
    CAST(COALESCE(o.cost, 0) AS DECIMAL(38, 2)) AS cost,
    CAST(COALESCE(b.revenue, 0) - COALESCE(o.cost, 0) AS DECIMAL(38, 2)) AS profit,
    CAST(COALESCE(b.billing_lines, 0) AS BIGINT) AS billing_lines,
    s.customer_id IS NOT NULL AS is_subscriber
FROM present AS p
LEFT JOIN billed AS b ON b.customer_id = p.customer_id AND b.month = p.month
LEFT JOIN costed AS o ON o.customer_id = p.customer_id AND o.month = p.month
LEFT JOIN subscribed AS s ON s.customer_id = p.customer_id AND s.month = p.month
