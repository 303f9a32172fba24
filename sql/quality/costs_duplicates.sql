-- SPEC §6, costs, duplicate_key on cost_id: of the rows sharing a key, the
-- one from the latest (dt, path, line) is kept (a row without dt sorts
-- first, so NULLS LAST in descending order); the others are rejected, each
-- naming the row that was kept. Only keys that occur twice are ranked; they
-- are the build side of the join, so the staged rows only stream past them.
WITH doubled AS (
    SELECT cost_id FROM staged_costs GROUP BY cost_id HAVING COUNT(*) > 1
),
ranked AS (
    SELECT
        s.cost_id, s._file, s._line, s._raw,
        ROW_NUMBER() OVER latest AS _rank,
        FIRST_VALUE(s._file) OVER latest AS _kept_file,
        FIRST_VALUE(s._line) OVER latest AS _kept_line
    FROM doubled AS k
    JOIN staged_costs AS s ON s.cost_id = k.cost_id
    WINDOW latest AS (PARTITION BY s.cost_id ORDER BY s._dt DESC NULLS LAST, s._file DESC, s._line DESC)
)
SELECT
    _file, _line, _raw,
    'duplicate_key' AS _reason,
    'cost_id ''' || cost_id || ''' is kept from ' || _kept_file || ' line ' || CAST(_kept_line AS VARCHAR) AS _detail
FROM ranked
WHERE _rank > 1
