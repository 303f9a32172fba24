-- SPEC §6, billing: the checks that need the whole source, as the rows
-- they reject (_file, _line, _raw, _reason, _detail); every other staged
-- row is accepted.
-- duplicate_key on (invoice_id, line_no): the row from the latest
-- (dt, path, line) is kept (a row without dt sorts first). Only keys that
-- occur twice are sorted. Then unknown_customer, last, on the kept rows:
-- the line must name an accepted customer (a rejected customer takes its
-- lines with it).
WITH doubled AS (
    SELECT invoice_id, line_no FROM staged_billing GROUP BY invoice_id, line_no HAVING COUNT(*) > 1
),
ranked AS (
    SELECT
        s.invoice_id, s.line_no, s._file, s._line, s._raw,
        ROW_NUMBER() OVER latest AS _rank,
        FIRST_VALUE(s._file) OVER latest AS _kept_file,
        FIRST_VALUE(s._line) OVER latest AS _kept_line
    FROM staged_billing AS s
    JOIN doubled AS k ON k.invoice_id = s.invoice_id AND k.line_no = s.line_no
    WINDOW latest AS (PARTITION BY s.invoice_id, s.line_no ORDER BY s._dt DESC NULLS LAST, s._file DESC, s._line DESC)
),
duplicates AS (
    SELECT
        _file, _line, _raw,
        'duplicate_key' AS _reason,
        'invoice_id ''' || invoice_id || ''' line_no ' || CAST(line_no AS VARCHAR)
            || ' is kept from ' || _kept_file || ' line ' || CAST(_kept_line AS VARCHAR) AS _detail
    FROM ranked
    WHERE _rank > 1
)
SELECT * FROM duplicates
UNION ALL
SELECT
    s._file, s._line, s._raw,
    'unknown_customer',
    'customer_id ''' || s.customer_id || ''' is not an accepted customer'
FROM staged_billing AS s
WHERE NOT EXISTS (SELECT 1 FROM customers AS c WHERE c.customer_id = s.customer_id)
  AND NOT EXISTS (SELECT 1 FROM duplicates AS d WHERE d._file = s._file AND d._line = s._line)
