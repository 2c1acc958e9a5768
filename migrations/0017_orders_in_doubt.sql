-- When an order's apply was first left in doubt: its commit reached some switches and not
-- others (an agent died or went silent between the two phases). Such an order is not
-- failed: it is parked (status 'applying', its lease running out at the time of its next
-- try) and run again until every switch holds its change, or given up after the service's
-- in-doubt window. NULL: never in doubt.
ALTER TABLE orders ADD COLUMN in_doubt_since BIGINT;
