-- Charges made after the fact (issue 24): until when a member's time-based usage model is
-- paid (the end of the month or hour charged last; NULL until the first billing run, which
-- takes the plug-in's advance charge as paying the first period), and how much of the
-- traffic it carried was charged (per-GB models).
ALTER TABLE attachments ADD COLUMN paid_until BIGINT;
ALTER TABLE attachments ADD COLUMN bytes_billed BIGINT NOT NULL DEFAULT 0;
