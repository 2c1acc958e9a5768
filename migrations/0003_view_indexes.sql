-- Who may see a channel is decided by its invitees too (by organization or by email):
-- without these, every channel list and every channel page scanned all invitees.
CREATE INDEX invitees_org ON invitees (org_id);
CREATE INDEX invitees_email ON invitees (email);
CREATE INDEX channels_org ON channels (org_id, created_at);
