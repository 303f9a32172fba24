-- Subscribers (docs/metrics.md#subscribers), cut by the slices of
-- docs/metrics.md#arpu-slices. Per month of W and per (region, segment,
-- pyramid_tier) held by a customer of the snapshot: open, close, churned and
-- revenue. Every customer of the snapshot counts, in scope or not; one not in
-- scope is UNRANKED, a null region or segment UNKNOWN (validation has already
-- made empty and whitespace-only text null).
WITH sliced AS (
    SELECT
        c.customer_id,
        c.signup_date,
        c.churn_date,
        COALESCE(c.region, 'UNKNOWN') AS region,
        COALESCE(c.segment, 'UNKNOWN') AS segment,
        COALESCE(r.pyramid_tier, 'UNRANKED') AS pyramid_tier
    FROM customers AS c
    LEFT JOIN customer_class AS r ON r.customer_id = c.customer_id
),
counted AS (
    SELECT
        k.month,
        s.region,
        s.segment,
        s.pyramid_tier,
        -- open(m): subscribers at the end of the day before m's first day.
        SUM(CASE WHEN s.signup_date < k.month AND (s.churn_date IS NULL OR s.churn_date >= k.month) THEN 1 ELSE 0 END)
            AS open_subscribers,
        -- close(m): subscribers at the end of m's last day.
        SUM(CASE WHEN s.signup_date <= k.month_end AND (s.churn_date IS NULL OR s.churn_date > k.month_end) THEN 1 ELSE 0 END)
            AS close_subscribers,
        -- churned(m): churn_date in m, even for a sign-up in the same month.
        SUM(CASE WHEN s.churn_date BETWEEN k.month AND k.month_end THEN 1 ELSE 0 END) AS churned
    FROM sliced AS s
    CROSS JOIN calendar AS k
    GROUP BY k.month, s.region, s.segment, s.pyramid_tier
),
billed AS (
    SELECT m.month, s.region, s.segment, s.pyramid_tier, SUM(m.revenue) AS revenue
    FROM customer_month AS m
    JOIN sliced AS s ON s.customer_id = m.customer_id
    GROUP BY m.month, s.region, s.segment, s.pyramid_tier
)
SELECT
    c.month,
    c.region,
    c.segment,
    c.pyramid_tier,
    COALESCE(b.revenue, 0) AS revenue,
    CAST(c.open_subscribers AS BIGINT) AS open_subscribers,
    CAST(c.close_subscribers AS BIGINT) AS close_subscribers,
    CAST(c.churned AS BIGINT) AS churned
FROM counted AS c
LEFT JOIN billed AS b
    ON b.month = c.month AND b.region = c.region AND b.segment = c.segment AND b.pyramid_tier = c.pyramid_tier
