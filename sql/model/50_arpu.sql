-- ARPU and churn rate per month and slice (docs/metrics.md#arpu,
-- docs/metrics.md#churn-rate, docs/metrics.md#arpu-slices); the columns of
-- arpu in docs/outputs.md.
-- Per month of W: dimension `all` (value `all`), and one row per value of
-- region, segment and pyramid_tier held by a customer of the snapshot, zeros
-- included. The slices of a dimension sum to `all` by construction: all four
-- are sums of the same slice_month rows.
WITH dimensioned AS (
    -- `all` has a row for every month, even with no customer at all.
    SELECT
        k.month,
        'all' AS dimension,
        'all' AS dimension_value,
        COALESCE(s.revenue, 0) AS revenue,
        COALESCE(s.open_subscribers, 0) AS open_subscribers,
        COALESCE(s.close_subscribers, 0) AS close_subscribers,
        COALESCE(s.churned, 0) AS churned
    FROM calendar AS k
    LEFT JOIN slice_month AS s ON s.month = k.month
    UNION ALL
    SELECT month, 'region', region, revenue, open_subscribers, close_subscribers, churned FROM slice_month
    UNION ALL
    SELECT month, 'segment', segment, revenue, open_subscribers, close_subscribers, churned FROM slice_month
    UNION ALL
    SELECT month, 'pyramid_tier', pyramid_tier, revenue, open_subscribers, close_subscribers, churned FROM slice_month
),
summed AS (
    SELECT
        month,
        dimension,
        dimension_value,
        SUM(revenue) AS revenue,
        SUM(open_subscribers) AS open_subscribers,
        SUM(close_subscribers) AS close_subscribers,
        SUM(churned) AS churned
    FROM dimensioned
    GROUP BY month, dimension, dimension_value
)
SELECT
    month,
    dimension,
    dimension_value,
    CAST(revenue AS DECIMAL(38, 2)) AS revenue,
    CAST(open_subscribers AS BIGINT) AS open_subscribers,
    CAST(close_subscribers AS BIGINT) AS close_subscribers,
    CAST(open_subscribers + close_subscribers AS DOUBLE) / 2 AS avg_subscribers,
    -- arpu(m) = revenue(m) / ((open(m) + close(m)) / 2); null when that is 0.
    CASE
        WHEN open_subscribers + close_subscribers > 0
        THEN div_double(revenue * 2, open_subscribers + close_subscribers)
    END AS arpu,
    CAST(churned AS BIGINT) AS churned,
    -- churn_rate(m) = churned(m) / open(m); null when open(m) = 0.
    CASE WHEN open_subscribers > 0 THEN div_double(churned, open_subscribers) END AS churn_rate
FROM summed
