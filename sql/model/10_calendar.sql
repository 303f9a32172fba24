-- Calendar (docs/metrics.md#calendar). The w closed months of the window W,
-- ending with M_last ($last_month, its first day), one row each, and the
-- periods that the customer figures and the watchlist sum over. Months are
-- numbered 12 × year + month so that "the t months before" is plain integer
-- arithmetic.
-- The months back from M_last, 0 to w − 1, are the numbers 0..119 (w is at
-- most 120) of two digits, not a recursive query: a plan that another
-- engine's workers run must not hold a recursion, which has no serialised
-- form.
WITH digits (d) AS (
    VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9), (10), (11)
),
months AS (
    SELECT CAST($last_month_no AS BIGINT) - (ones.d + 10 * tens.d) AS month_no
    FROM digits AS ones
    CROSS JOIN digits AS tens
    WHERE ones.d < 10 AND ones.d + 10 * tens.d < $w
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
