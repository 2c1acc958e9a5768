-- A member whose switch counters could not be read shows since when and why (issue 24): the
-- first failed reading of a run of failures and the last failure's words, both cleared by
-- the next good reading.
ALTER TABLE attachments ADD COLUMN meter_failed_at BIGINT;
ALTER TABLE attachments ADD COLUMN meter_error TEXT;
