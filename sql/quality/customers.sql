-- Customers (docs/inputs.md#order-of-checks, steps 3 and 4): the checks that
-- need the whole source, as the rows they reject (_file_id, _line, _reason,
-- _detail); every other staged row is accepted. The duplicates come from
-- customers_duplicates.sql; churn_before_signup is then decided on the kept
-- rows (equal is valid).
SELECT * FROM duplicates_customers
UNION ALL
SELECT
    s._file_id, s._line,
    'churn_before_signup',
    'churn_date ' || CAST(s.churn_date AS VARCHAR) || ' is before signup_date ' || CAST(s.signup_date AS VARCHAR)
FROM staged_customers AS s
WHERE s.churn_date < s.signup_date
  AND NOT EXISTS (SELECT 1 FROM duplicates_customers AS d WHERE d._file_id = s._file_id AND d._line = s._line)
