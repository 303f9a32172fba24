-- SPEC §6, costs: the checks that need the whole source.
-- duplicate_key on cost_id: the row from the latest (dt, path, line) is
-- kept (a row without dt sorts first). Then unknown_customer, last, on the
-- kept rows: the item must name an accepted customer.
WITH ranked AS (
    SELECT
        *,
        ROW_NUMBER() OVER latest AS _rank,
        FIRST_VALUE(_file) OVER latest AS _kept_file,
        FIRST_VALUE(_line) OVER latest AS _kept_line
    FROM staged_costs
    WINDOW latest AS (
        PARTITION BY cost_id
        ORDER BY _dt DESC NULLS LAST, _file DESC, _line DESC
    )
)
SELECT
    r.*,
    CASE
        WHEN r._rank > 1 THEN 'duplicate_key'
        WHEN c.customer_id IS NULL THEN 'unknown_customer'
    END AS _reason,
    CASE
        WHEN r._rank > 1 THEN
            'cost_id ''' || r.cost_id || ''' is kept from ' || r._kept_file
            || ' line ' || CAST(r._kept_line AS VARCHAR)
        WHEN c.customer_id IS NULL THEN
            'customer_id ''' || r.customer_id || ''' is not an accepted customer'
    END AS _detail
FROM ranked AS r
LEFT JOIN customers AS c ON r.customer_id = c.customer_id
