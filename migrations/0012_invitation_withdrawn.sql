-- An invitation its creator withdrew: its link is refused from then on, like an unknown
-- one, and it no longer waits in the invited organization's inbox (issue 24, item 5).
ALTER TABLE invitees ADD COLUMN withdrawn_at BIGINT;
