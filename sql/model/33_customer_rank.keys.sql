-- The key of value_rank in 33_customer_rank.sql (src/transforms/ranges.rs):
-- $score_cuts, $score_after.
SELECT score_points AS score FROM customer_score
