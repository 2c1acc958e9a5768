-- The charges ledger: what each organization was charged, when and for what. A member
-- that plugs into a channel under a usage model that charges in advance is charged then,
-- in the transaction that plugs it in, and its account's balance goes down by as much.
CREATE TABLE charges (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organizations(id),
    channel_id TEXT NOT NULL,
    attachment_id TEXT,
    usage_model_id TEXT NOT NULL,
    amount_cents BIGINT NOT NULL,
    what TEXT NOT NULL,
    at BIGINT NOT NULL
);

CREATE INDEX charges_by_org ON charges (org_id, at);
