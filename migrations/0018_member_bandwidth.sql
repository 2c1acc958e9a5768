-- A member's own bandwidth (Mbps): its ingress policer's rate, what it takes of its
-- interface's capacity and what a per-Mbps usage model charges it. NULL: the channel's
-- `bandwidth_mbps` (every member before this column, and every member that gives none).
ALTER TABLE attachments ADD COLUMN bandwidth_mbps BIGINT;
