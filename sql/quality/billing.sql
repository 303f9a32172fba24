-- Billing (docs/inputs.md#order-of-checks, steps 3 and 4): the checks that
-- need the whole source, as the rows they reject (_file_id, _line, _reason,
-- _detail); every other staged row is accepted. The duplicates come from
-- billing_duplicates.sql; then unknown_customer, last, on the kept rows: the
-- line must name an accepted customer (a rejected customer takes its lines
-- with it).
SELECT * FROM duplicates_billing
UNION ALL
SELECT
    s._file_id, s._line,
    'unknown_customer',
    'customer_id ''' || s.customer_id || ''' is not an accepted customer'
FROM staged_billing AS s
WHERE NOT EXISTS (SELECT 1 FROM customers AS c WHERE c.customer_id = s.customer_id)
  AND NOT EXISTS (SELECT 1 FROM duplicates_billing AS d WHERE d._file_id = s._file_id AND d._line = s._line)
