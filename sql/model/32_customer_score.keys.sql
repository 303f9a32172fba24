-- The keys of the four ranks of 32_customer_score.sql
-- (src/transforms/ranges.rs): $profit_cuts, $profit_before, …
SELECT
    profit_w AS profit,
    revenue_w AS revenue,
    receivables_turnover AS turnover,
    cooperation_score AS cooperation
FROM customer_totals
