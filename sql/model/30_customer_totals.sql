-- Customers in scope (docs/metrics.md#customers-in-scope): the customers with
-- at least one customer_month row, with their sums over W and over the
-- periods of the calendar (recent, previous, dormant, baseline, M_last), and
-- what the score, the tiers and the outputs take from the CRM snapshot.
-- Kept as one table so that the ranks of 32_customer_score.sql read it
-- several times (a sample and the bucket sizes of each key, then the ranks)
-- without joining the customers each time.
WITH sums AS (
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
)
SELECT
    s.*,
    c.region,
    c.segment,
    c.account_manager,
    c.signup_date,
    c.churn_date,
    c.receivables_turnover,
    c.cooperation_score
FROM sums AS s
JOIN customers AS c ON c.customer_id = s.customer_id
