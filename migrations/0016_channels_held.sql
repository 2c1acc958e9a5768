-- How many channels each organization holds (has a live attachment in), kept on its account
-- row by the writes that plug and unplug interfaces (`store::channels`), in the same
-- transaction. Every creation and acceptance checks it against the account's maximum
-- under the account row's lock; counting the organization's attachments there instead read
-- ~900 buffers a call on PostgreSQL at 10,000 channels, two thirds of the server's work in
-- `scripts/bench-orchestrator` (docs/performance.md, issue 20).
ALTER TABLE accounts ADD COLUMN channels_held BIGINT NOT NULL DEFAULT 0;
UPDATE accounts SET channels_held = (SELECT COUNT(DISTINCT t.channel_id) FROM attachments t
    WHERE t.org_id = accounts.org_id AND t.state = 'attached');
