-- The tag an attachment's frames carry on its interface (its customer VLAN, or else its
-- channel's VLAN) is kept on the row, written with the attachment and whenever the
-- channel's VLAN is (re)allocated, so the tags in use on an interface are read from one
-- index range instead of joining every channel on it (a busy tagged interface carries
-- hundreds; planning read them for every order batch).
ALTER TABLE attachments ADD COLUMN tag BIGINT;
UPDATE attachments SET tag = COALESCE(customer_vlan, (SELECT c.vlan FROM channels c WHERE c.id = attachments.channel_id));
DROP INDEX attachments_interface;
CREATE INDEX attachments_interface ON attachments (interface, state, tag, channel_id);
