-- The live attachments' unique index led by the interface: a channel is on an interface
-- once (the same constraint, its columns in the other order), and the index now serves
-- the statements that look up an interface's live attachments (the account check, the
-- tags on an interface, the channels held). Led by the channel, PostgreSQL used it for
-- those anyway while the table was small, a scan of every live attachment, and kept that
-- plan as the table grew (see docs/performance.md, issue 20). The channel's attachments
-- are found by `attachments_channel`.
DROP INDEX attachments_live;
CREATE UNIQUE INDEX attachments_live ON attachments (interface, channel_id) WHERE state = 'attached';
