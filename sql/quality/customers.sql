-- SPEC §6, customers: the checks that need the whole source.
-- duplicate_key: of the rows sharing a customer_id that passed the row
-- checks, the one from the latest (dt, path, line) is kept (a row without
-- dt sorts first, so NULLS LAST in descending order); the others are
-- rejected. churn_before_signup is then decided on the kept rows
-- (churn_date = signup_date is valid).
WITH ranked AS (
    SELECT
        *,
        ROW_NUMBER() OVER latest AS _rank,
        FIRST_VALUE(_file) OVER latest AS _kept_file,
        FIRST_VALUE(_line) OVER latest AS _kept_line
    FROM staged_customers
    WINDOW latest AS (
        PARTITION BY customer_id
        ORDER BY _dt DESC NULLS LAST, _file DESC, _line DESC
    )
)
SELECT
    *,
    CASE
        WHEN _rank > 1 THEN 'duplicate_key'
        WHEN churn_date < signup_date THEN 'churn_before_signup'
    END AS _reason,
    CASE
        WHEN _rank > 1 THEN
            'customer_id ''' || customer_id || ''' is kept from ' || _kept_file
            || ' line ' || CAST(_kept_line AS VARCHAR)
        WHEN churn_date < signup_date THEN
            'churn_date ' || CAST(churn_date AS VARCHAR)
            || ' is before signup_date ' || CAST(signup_date AS VARCHAR)
    END AS _detail
FROM ranked
