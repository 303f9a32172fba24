-- Retention savings (docs/metrics.md#retention-savings); the columns of
-- retention_savings in docs/outputs.md.
-- One row per scenario Δ and population (all, MVC, MGC, LVC, BZ), always.
-- customers_retained = base × Δ is exact (DECIMAL) and never rounded; each
-- money figure is an exact product or an exact fraction, named in `money`
-- below, and rounded once, half away from zero, to cents (CAST of an exact
-- product, div_cents or ratio_sum_cents).
WITH populations AS (
    SELECT * FROM (VALUES ('all'), ('MVC'), ('MGC'), ('LVC'), ('BZ')) AS p(population)
),
subscribers AS (
    SELECT
        p.population,
        -- base_subscribers: close(M_last).
        COALESCE(SUM(CASE WHEN s.month = $last_month THEN s.close_subscribers END), 0) AS base,
        -- open(M_last) + close(M_last): twice the average subscribers of M_last.
        COALESCE(SUM(CASE WHEN s.month = $last_month THEN s.open_subscribers + s.close_subscribers END), 0) AS twice_avg,
        -- revenue(M_last).
        COALESCE(SUM(CASE WHEN s.month = $last_month THEN s.revenue END), 0) AS last_revenue,
        -- Σ_W open and Σ_W churned.
        COALESCE(SUM(s.open_subscribers), 0) AS opened,
        COALESCE(SUM(s.churned), 0) AS churned
    FROM populations AS p
    LEFT JOIN slice_month AS s ON p.population = 'all' OR s.pyramid_tier = p.population
    GROUP BY p.population
),
-- Within a tier every clv is profit_w × (O − C) / (w × (i·O + C)) with the
-- same denominator, so a tier's clv sum is one fraction,
-- clv_numerator / clv_denominator; `all` adds the four tiers' fractions
-- exactly (ratio_sum_cents). Customers whose clv is null are left out of
-- the mean.
tier_lifetimes AS (
    SELECT
        pyramid_tier,
        SUM(_clv_numerator) AS clv_numerator,
        MAX(_clv_denominator) AS clv_denominator,
        COUNT(*) AS clv_customers
    FROM customer_value
    WHERE _clv_numerator IS NOT NULL AND _clv_denominator <> 0
    GROUP BY pyramid_tier
),
lifetimes AS (
    SELECT
        p.population,
        COALESCE(SUM(l.clv_customers), 0) AS clv_count,
        MAX(CASE WHEN l.pyramid_tier = 'MVC' THEN l.clv_numerator END) AS mvc_clv_numerator,
        MAX(CASE WHEN l.pyramid_tier = 'MVC' THEN l.clv_denominator END) AS mvc_clv_denominator,
        MAX(CASE WHEN l.pyramid_tier = 'MGC' THEN l.clv_numerator END) AS mgc_clv_numerator,
        MAX(CASE WHEN l.pyramid_tier = 'MGC' THEN l.clv_denominator END) AS mgc_clv_denominator,
        MAX(CASE WHEN l.pyramid_tier = 'LVC' THEN l.clv_numerator END) AS lvc_clv_numerator,
        MAX(CASE WHEN l.pyramid_tier = 'LVC' THEN l.clv_denominator END) AS lvc_clv_denominator,
        MAX(CASE WHEN l.pyramid_tier = 'BZ' THEN l.clv_numerator END) AS bz_clv_numerator,
        MAX(CASE WHEN l.pyramid_tier = 'BZ' THEN l.clv_denominator END) AS bz_clv_denominator
    FROM populations AS p
    LEFT JOIN tier_lifetimes AS l ON p.population = 'all' OR l.pyramid_tier = p.population
    GROUP BY p.population
),
retained AS (
    SELECT
        s.*,
        l.clv_count,
        l.mvc_clv_numerator, l.mvc_clv_denominator, l.mgc_clv_numerator, l.mgc_clv_denominator,
        l.lvc_clv_numerator, l.lvc_clv_denominator, l.bz_clv_numerator, l.bz_clv_denominator,
        x.scenario,
        s.base * x.scenario AS customers_retained
    FROM subscribers AS s
    JOIN lifetimes AS l ON l.population = s.population
    CROSS JOIN scenarios AS x
),
-- The money figures of retention savings, each named as the exact quantity it
-- is: the SELECT below only rounds them, once, half away from zero, to cents.
money AS (
    SELECT
        *,
        -- acquisition_cost_avoided = customers_retained × acquisition_cost:
        -- a product, no division; its CAST to cents is the rounding.
        customers_retained * $acquisition_cost AS acquisition_cost_exact,
        -- monthly_revenue_retained = customers_retained × arpu, with
        -- arpu = last_revenue / ((open + close) / 2) in M_last, so
        --     customers_retained × last_revenue × 2 / (open + close).
        customers_retained * last_revenue * 2 AS monthly_revenue_numerator,
        twice_avg AS monthly_revenue_denominator,
        -- annual_revenue_retained = 12 × customers_retained × arpu, 12 times
        -- the unrounded monthly figure (not the rounded one), so
        --     customers_retained × last_revenue × 24 / (open + close).
        customers_retained * last_revenue * 24 AS annual_revenue_numerator,
        twice_avg AS annual_revenue_denominator,
        -- lifetime_value_retained = customers_retained × the mean clv of the
        -- population, with mean clv = (the sum of its clv) / clv_count and
        -- the clv sum = Σ over its tiers of clv_numerator / clv_denominator:
        --     customers_retained × Σ_tiers (clv_numerator / clv_denominator) / clv_count.
        -- The tiers' denominators differ and their product does not fit
        -- DECIMAL(38), so ratio_sum_cents adds the fractions itself.
        customers_retained AS lifetime_value_factor,
        clv_count AS lifetime_value_denominator
    FROM retained
)
SELECT
    CAST(scenario AS DOUBLE) AS scenario,
    population,
    CAST(base AS BIGINT) AS base_subscribers,
    -- arpu = last_revenue / ((open + close) / 2) in M_last; null when that is 0.
    CASE WHEN twice_avg > 0 THEN div_double(last_revenue * 2, twice_avg) END AS arpu,
    -- avg_monthly_churn_rate = Σ_W churned / Σ_W open; null when Σ_W open = 0.
    CASE WHEN opened > 0 THEN div_double(churned, opened) END AS avg_monthly_churn_rate,
    -- 1 − (1 − avg_monthly_churn_rate)^12, exact, then the nearest DOUBLE.
    CASE WHEN opened > 0 THEN annual_churn(churned, opened) END AS annual_churn_rate,
    CAST(customers_retained AS DOUBLE) AS customers_retained,
    CAST(acquisition_cost_exact AS DECIMAL(38, 2)) AS acquisition_cost_avoided,
    CAST(div_cents(monthly_revenue_numerator, monthly_revenue_denominator) AS DECIMAL(38, 2))
        AS monthly_revenue_retained,
    CAST(div_cents(annual_revenue_numerator, annual_revenue_denominator) AS DECIMAL(38, 2))
        AS annual_revenue_retained,
    ratio_sum_cents(
        lifetime_value_factor, lifetime_value_denominator,
        mvc_clv_numerator, mvc_clv_denominator, mgc_clv_numerator, mgc_clv_denominator,
        lvc_clv_numerator, lvc_clv_denominator, bz_clv_numerator, bz_clv_denominator
    ) AS lifetime_value_retained,
    $currency AS currency
FROM money
