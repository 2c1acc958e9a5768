-- Why an organization's auto-accept rule could not accept an invitation, shown on the
-- offerer's invitee row (the invitation stays open for a person).
ALTER TABLE invitees ADD COLUMN auto_accept_refused TEXT;
