-- SPEC §6, customers: the checks that need the whole source, as the rows
-- they reject (_file, _line, _raw, _reason, _detail); every other staged
-- row is accepted.
-- duplicate_key: of the rows sharing a customer_id, the one from the latest
-- (dt, path, line) is kept (a row without dt sorts first, so NULLS LAST in
-- descending order). Only keys that occur twice are sorted.
-- churn_before_signup is then decided on the kept rows (equal is valid).
WITH doubled AS (
    SELECT customer_id FROM staged_customers GROUP BY customer_id HAVING COUNT(*) > 1
),
ranked AS (
    SELECT
        s.customer_id, s._file, s._line, s._raw,
        ROW_NUMBER() OVER latest AS _rank,
        FIRST_VALUE(s._file) OVER latest AS _kept_file,
        FIRST_VALUE(s._line) OVER latest AS _kept_line
    FROM staged_customers AS s
    WHERE s.customer_id IN (SELECT customer_id FROM doubled)
    WINDOW latest AS (PARTITION BY s.customer_id ORDER BY s._dt DESC NULLS LAST, s._file DESC, s._line DESC)
),
duplicates AS (
    SELECT
        _file, _line, _raw,
        'duplicate_key' AS _reason,
        'customer_id ''' || customer_id || ''' is kept from ' || _kept_file || ' line ' || CAST(_kept_line AS VARCHAR)
            AS _detail
    FROM ranked
    WHERE _rank > 1
)
SELECT * FROM duplicates
UNION ALL
SELECT
    s._file, s._line, s._raw,
    'churn_before_signup',
    'churn_date ' || CAST(s.churn_date AS VARCHAR) || ' is before signup_date ' || CAST(s.signup_date AS VARCHAR)
FROM staged_customers AS s
WHERE s.churn_date < s.signup_date
  AND NOT EXISTS (SELECT 1 FROM duplicates AS d WHERE d._file = s._file AND d._line = s._line)
