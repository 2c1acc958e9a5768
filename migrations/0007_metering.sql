-- Max GB (seed 003) is enforced from the switches' counters: a usage model's allowance is
-- kept in megabytes (down to 0.001 GB), and each attachment records what its interface
-- carried (bytes, in and out) and the counter's last reading.
ALTER TABLE usage_models ADD COLUMN max_mb BIGINT;
UPDATE usage_models SET max_mb = max_gb * 1000 WHERE max_gb IS NOT NULL;
ALTER TABLE attachments ADD COLUMN bytes_used BIGINT NOT NULL DEFAULT 0;
ALTER TABLE attachments ADD COLUMN bytes_seen BIGINT;
ALTER TABLE attachments ADD COLUMN metered_at BIGINT;
