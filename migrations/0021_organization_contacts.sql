-- Who may become an imported organization's first admin (the topology's `organizations:`):
-- a JSON list of addresses and `@domain`s, as the last import gave it; NULL for none.
ALTER TABLE organizations ADD COLUMN contacts TEXT;
