-- Calendar (docs/metrics.md#calendar). The w closed months of the window W,
-- ending with M_last ($last_month, its first day), one row each, and the
-- periods that the customer figures and the watchlist sum over. Months are
-- numbered 12 × year + month so that "the t months before" is plain integer
-- arithmetic.
WITH RECURSIVE months (month_no, months_back) AS (
    SELECT CAST($last_month_no AS BIGINT), CAST(0 AS BIGINT)
    UNION ALL
    SELECT month_no - 1, months_back + 1 FROM months WHERE months_back + 1 < $w
)
SELECT
    month_no,
    make_date(CAST((month_no - 1) / 12 AS INT), CAST((month_no - 1) % 12 + 1 AS INT), 1) AS month,
    CAST(
        make_date(CAST((month_no - 1) / 12 AS INT), CAST((month_no - 1) % 12 + 1 AS INT), 1)
        + INTERVAL '1 month' - INTERVAL '1 day' AS DATE
    ) AS month_end,
    -- recent: the last t months of W; previous: the t months before those.
    month_no > $last_month_no - $t AS in_recent,
    month_no <= $last_month_no - $t AND month_no > $last_month_no - 2 * $t AS in_previous,
    -- baseline (docs/metrics.md#churn-watchlist): the t months before M_last.
    month_no < $last_month_no AND month_no >= $last_month_no - $t AS in_baseline,
    -- exit (docs/metrics.md#lifecycle-stage): the last dormant_months of W.
    month_no > $last_month_no - $dormant_months AS in_dormant,
    month_no = $last_month_no AS is_last
FROM months
