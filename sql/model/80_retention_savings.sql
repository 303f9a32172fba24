-- SPEC §4.9 Retention savings; the columns of §5 retention_savings.
-- One row per scenario Δ and population (all, MVC, MGC, LVC, BZ), always.
-- customers_retained = base × Δ is exact (DECIMAL) and never rounded; each
-- money figure is one exact product or one exact division, rounded once,
-- half away from zero, to cents (CAST of an exact product, or div_cents).
WITH populations AS (
    SELECT * FROM (VALUES ('all'), ('MVC'), ('MGC'), ('LVC'), ('BZ')) AS p(population)
),
subscribers AS (
    SELECT
        p.population,
        COALESCE(SUM(CASE WHEN s.month = $last_month THEN s.close_subscribers END), 0) AS base,
        COALESCE(SUM(CASE WHEN s.month = $last_month THEN s.open_subscribers + s.close_subscribers END), 0) AS twice_avg,
        COALESCE(SUM(CASE WHEN s.month = $last_month THEN s.revenue END), 0) AS last_revenue,
        COALESCE(SUM(s.open_subscribers), 0) AS opened,
        COALESCE(SUM(s.churned), 0) AS churned
    FROM populations AS p
    LEFT JOIN slice_month AS s ON p.population = 'all' OR s.pyramid_tier = p.population
    GROUP BY p.population
),
lifetimes AS (
    SELECT p.population, SUM(v._clv_fine) AS clv_sum, COUNT(v._clv_fine) AS clv_count
    FROM populations AS p
    LEFT JOIN customer_value AS v ON p.population = 'all' OR v.pyramid_tier = p.population
    GROUP BY p.population
),
retained AS (
    SELECT
        s.*,
        l.clv_sum,
        l.clv_count,
        x.scenario,
        s.base * x.scenario AS customers_retained
    FROM subscribers AS s
    JOIN lifetimes AS l ON l.population = s.population
    CROSS JOIN scenarios AS x
),
rated AS (
    SELECT
        *,
        CASE WHEN opened > 0 THEN CAST(churned AS DOUBLE) / CAST(opened AS DOUBLE) END AS monthly_churn
    FROM retained
)
SELECT
    CAST(scenario AS DOUBLE) AS scenario,
    population,
    CAST(base AS BIGINT) AS base_subscribers,
    CASE WHEN twice_avg > 0 THEN div_double(last_revenue * 2, twice_avg) END AS arpu,
    monthly_churn AS avg_monthly_churn_rate,
    1 - power(1 - monthly_churn, 12) AS annual_churn_rate,
    CAST(customers_retained AS DOUBLE) AS customers_retained,
    CAST(customers_retained * $acquisition_cost AS DECIMAL(18, 2)) AS acquisition_cost_avoided,
    CAST(div_cents(customers_retained * last_revenue * 2, twice_avg) AS DECIMAL(18, 2)) AS monthly_revenue_retained,
    CAST(div_cents(customers_retained * last_revenue * 24, twice_avg) AS DECIMAL(18, 2)) AS annual_revenue_retained,
    CAST(div_cents(customers_retained * clv_sum, clv_count) AS DECIMAL(18, 2)) AS lifetime_value_retained,
    $currency AS currency
FROM rated
