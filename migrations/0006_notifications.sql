-- What an organization wants to hear about by email (SPEC §7 notification preferences):
-- answers to its offers, its channels turning active, and its channels going down (failed,
-- paused, ended); and who hears it (a comma-separated list; empty: its admins).
ALTER TABLE organizations ADD COLUMN notify_answers BIGINT NOT NULL DEFAULT 1;
ALTER TABLE organizations ADD COLUMN notify_active BIGINT NOT NULL DEFAULT 1;
ALTER TABLE organizations ADD COLUMN notify_down BIGINT NOT NULL DEFAULT 1;
ALTER TABLE organizations ADD COLUMN notify_to TEXT NOT NULL DEFAULT '';
