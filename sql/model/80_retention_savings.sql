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
-- Within a tier every clv is profit_w × (O − C) / (w × (i·O + C)) with the
-- same denominator, so a tier's clv sum is one fraction; `all` adds the
-- four tiers' fractions exactly (ratio_sum_cents). Customers whose clv is
-- null are left out of the mean.
tier_lifetimes AS (
    SELECT
        pyramid_tier,
        SUM(_clv_numerator) AS numerator,
        MAX(_clv_denominator) AS denominator,
        COUNT(*) AS customers
    FROM customer_value
    WHERE _clv_numerator IS NOT NULL AND _clv_denominator <> 0
    GROUP BY pyramid_tier
),
lifetimes AS (
    SELECT
        p.population,
        COALESCE(SUM(l.customers), 0) AS clv_count,
        MAX(CASE WHEN l.pyramid_tier = 'MVC' THEN l.numerator END) AS mvc_numerator,
        MAX(CASE WHEN l.pyramid_tier = 'MVC' THEN l.denominator END) AS mvc_denominator,
        MAX(CASE WHEN l.pyramid_tier = 'MGC' THEN l.numerator END) AS mgc_numerator,
        MAX(CASE WHEN l.pyramid_tier = 'MGC' THEN l.denominator END) AS mgc_denominator,
        MAX(CASE WHEN l.pyramid_tier = 'LVC' THEN l.numerator END) AS lvc_numerator,
        MAX(CASE WHEN l.pyramid_tier = 'LVC' THEN l.denominator END) AS lvc_denominator,
        MAX(CASE WHEN l.pyramid_tier = 'BZ' THEN l.numerator END) AS bz_numerator,
        MAX(CASE WHEN l.pyramid_tier = 'BZ' THEN l.denominator END) AS bz_denominator
    FROM populations AS p
    LEFT JOIN tier_lifetimes AS l ON p.population = 'all' OR l.pyramid_tier = p.population
    GROUP BY p.population
),
retained AS (
    SELECT
        s.*,
        l.clv_count,
        l.mvc_numerator, l.mvc_denominator, l.mgc_numerator, l.mgc_denominator,
        l.lvc_numerator, l.lvc_denominator, l.bz_numerator, l.bz_denominator,
        x.scenario,
        s.base * x.scenario AS customers_retained
    FROM subscribers AS s
    JOIN lifetimes AS l ON l.population = s.population
    CROSS JOIN scenarios AS x
),
rated AS (
    SELECT
        *,
        div_double(churned, opened) AS monthly_churn
    FROM retained
)
SELECT
    CAST(scenario AS DOUBLE) AS scenario,
    population,
    CAST(base AS BIGINT) AS base_subscribers,
    CASE WHEN twice_avg > 0 THEN div_double(last_revenue * 2, twice_avg) END AS arpu,
    monthly_churn AS avg_monthly_churn_rate,
    -- 1 − (1 − avg_monthly_churn_rate)^12, exact, then the nearest DOUBLE.
    annual_churn(churned, opened) AS annual_churn_rate,
    CAST(customers_retained AS DOUBLE) AS customers_retained,
    CAST(customers_retained * $acquisition_cost AS DECIMAL(38, 2)) AS acquisition_cost_avoided,
    CAST(div_cents(customers_retained * last_revenue * 2, twice_avg) AS DECIMAL(38, 2)) AS monthly_revenue_retained,
    CAST(div_cents(customers_retained * last_revenue * 24, twice_avg) AS DECIMAL(38, 2)) AS annual_revenue_retained,
    ratio_sum_cents(
        customers_retained, clv_count,
        mvc_numerator, mvc_denominator, mgc_numerator, mgc_denominator,
        lvc_numerator, lvc_denominator, bz_numerator, bz_denominator
    ) AS lifetime_value_retained,
    $currency AS currency
FROM rated
