-- SPEC §6, costs: the checks that need the whole source, as the rows they
-- reject (_file, _line, _raw, _reason, _detail); every other staged row is
-- accepted.
-- duplicate_key on cost_id: the row from the latest (dt, path, line) is
-- kept (a row without dt sorts first). Only keys that occur twice are
-- sorted. Then unknown_customer, last, on the kept rows: the item must name
-- an accepted customer.
WITH doubled AS (
    SELECT cost_id FROM staged_costs GROUP BY cost_id HAVING COUNT(*) > 1
),
ranked AS (
    SELECT
        s.cost_id, s._file, s._line, s._raw,
        ROW_NUMBER() OVER latest AS _rank,
        FIRST_VALUE(s._file) OVER latest AS _kept_file,
        FIRST_VALUE(s._line) OVER latest AS _kept_line
    FROM staged_costs AS s
    WHERE s.cost_id IN (SELECT cost_id FROM doubled)
    WINDOW latest AS (PARTITION BY s.cost_id ORDER BY s._dt DESC NULLS LAST, s._file DESC, s._line DESC)
),
duplicates AS (
    SELECT
        _file, _line, _raw,
        'duplicate_key' AS _reason,
        'cost_id ''' || cost_id || ''' is kept from ' || _kept_file || ' line ' || CAST(_kept_line AS VARCHAR)
            AS _detail
    FROM ranked
    WHERE _rank > 1
)
SELECT * FROM duplicates
UNION ALL
SELECT
    s._file, s._line, s._raw,
    'unknown_customer',
    'customer_id ''' || s.customer_id || ''' is not an accepted customer'
FROM staged_costs AS s
WHERE NOT EXISTS (SELECT 1 FROM customers AS c WHERE c.customer_id = s.customer_id)
  AND NOT EXISTS (SELECT 1 FROM duplicates AS d WHERE d._file = s._file AND d._line = s._line)
