-- A channel's attachments by channel and state: "the live members of channel X" is then
-- an equality on the index's two leading columns, which the planner prefers to any other
-- index whatever its statistics say. With `attachments_channel` on the channel alone,
-- PostgreSQL sometimes planned that lookup (run on every acceptance and every order) as a
-- scan of the whole partial index of live attachments, while the table was young, and
-- kept the plan as it grew (docs/performance.md, 2026-12-07 session 25). The index still
-- serves lookups by channel alone.
DROP INDEX attachments_channel;
CREATE INDEX attachments_channel ON attachments (channel_id, state);
