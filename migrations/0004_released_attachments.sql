-- A terminated channel's members are unplugged: its attachments are detached when it
-- ends (from now on in the same transaction), so what an organization or an interface
-- holds is one range of an index, not a join with every channel it ever had.
UPDATE attachments SET state = 'detached',
    detached_at = (SELECT c.updated_at FROM channels c WHERE c.id = attachments.channel_id)
WHERE state = 'attached' AND channel_id IN (SELECT id FROM channels WHERE state = 'terminated');
-- ... and that range holds the channels too (counting an organization's live channels
-- read each attachment row as well: ~600 us per acceptance at 10,000 channels, ~50 now).
DROP INDEX attachments_org;
CREATE INDEX attachments_org ON attachments (org_id, state, channel_id);
DROP INDEX attachments_interface;
CREATE INDEX attachments_interface ON attachments (interface, state, channel_id);
