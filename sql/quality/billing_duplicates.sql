-- Billing, duplicate_key (docs/inputs.md#order-of-checks) on (invoice_id,
-- line_no): of the rows sharing a key, the one from the latest (dt, path,
-- line) is kept (a row without dt sorts first, so NULLS LAST in descending
-- order); the others are rejected, each naming the row that was kept. Only
-- keys that occur twice are ranked. They are found by a 64-bit hash of the
-- key first: each staged row carries its hash (_key_hash), and
-- doubled_billing holds the hashes that occur more than once, found by
-- merging each file's sorted hashes. A hash shared by two different keys
-- only adds rows to rank, since the window partitions by the key itself.
-- The doubled hashes are the build side of the join, so the staged rows
-- only stream past them. A staged row names its file by _file_id;
-- files_billing holds the paths.
WITH ranked AS (
    SELECT
        s.invoice_id, s.line_no, s._file_id, s._line,
        ROW_NUMBER() OVER latest AS _rank,
        FIRST_VALUE(f._file) OVER latest AS _kept_file,
        FIRST_VALUE(s._line) OVER latest AS _kept_line
    FROM doubled_billing AS k
    JOIN staged_billing AS s ON s._key_hash = k._key_hash
    JOIN files_billing AS f ON f._file_id = s._file_id
    WINDOW latest AS (PARTITION BY s.invoice_id, s.line_no ORDER BY s._dt DESC NULLS LAST, f._file DESC, s._line DESC)
)
SELECT
    _file_id, _line,
    'duplicate_key' AS _reason,
    'invoice_id ''' || invoice_id || ''' line_no ' || CAST(line_no AS VARCHAR)
        || ' is kept from ' || _kept_file || ' line ' || CAST(_kept_line AS VARCHAR) AS _detail
FROM ranked
WHERE _rank > 1
