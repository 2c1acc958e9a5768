-- Who may become an imported organization's first admin (the topology's `organizations:`):
-- a JSON list of addresses and `@domain`s, as the last import gave it; NULL for none.
ALTER TABLE organizations ADD COLUMN contacts TEXT;

-- A welcome link mailed to confirm a claim of such an organization: the invitation it came
-- from (NULL for a link an admin's adding sent).
ALTER TABLE welcomes ADD COLUMN claim_invitee TEXT;
