-- A welcome link mailed to confirm a claim of such an organization: the invitation it came
-- from (NULL for a link an admin's adding sent).
ALTER TABLE welcomes ADD COLUMN claim_invitee TEXT;
