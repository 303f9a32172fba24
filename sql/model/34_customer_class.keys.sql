-- The keys of the two places of 34_customer_class.sql
-- (src/transforms/ranges.rs): $b_place_cuts, $b_place_before, $growable_cuts,
-- $growable_after.
SELECT b_key AS b_place, growable_key AS growable FROM customer_rank
