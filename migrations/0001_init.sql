-- Switchboard's schema. Portable SQL: the same file runs on SQLite and PostgreSQL.
-- Identifiers are application-made text IDs (prefix + random); times are Unix milliseconds
-- (BIGINT); flags are BIGINT 0/1; lists are comma-separated text.

CREATE TABLE organizations (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    -- policy & preferences (SPEC section 7)
    auto_accept_from TEXT NOT NULL DEFAULT '',
    default_offer_days BIGINT NOT NULL DEFAULT 60,
    notify_email BIGINT NOT NULL DEFAULT 1,
    members_can_accept BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL
);

-- The operator's own organization, home of its NOC staff.
INSERT INTO organizations (id, name, created_at) VALUES ('org-operator', 'operator', 0);

CREATE TABLE accounts (
    org_id TEXT PRIMARY KEY REFERENCES organizations(id),
    status TEXT NOT NULL,
    kinds TEXT NOT NULL,
    max_bandwidth_mbps BIGINT NOT NULL,
    max_channels BIGINT NOT NULL,
    classes TEXT NOT NULL,
    balance_cents BIGINT NOT NULL,
    credit_limit_cents BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organizations(id),
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    password_hash TEXT,
    created_at BIGINT NOT NULL
);

-- The imported topology: one row, the file as given, so every instance plans on the same tree.
CREATE TABLE topology (
    id BIGINT PRIMARY KEY,
    name TEXT NOT NULL,
    source TEXT NOT NULL,
    file TEXT NOT NULL,
    revision BIGINT NOT NULL,
    imported_at BIGINT NOT NULL
);

CREATE TABLE switches (
    name TEXT PRIMARY KEY,
    driver TEXT NOT NULL,
    -- the row lock (PostgreSQL) makes applies on one switch take turns
    params TEXT NOT NULL
);

CREATE TABLE links (
    a TEXT NOT NULL,
    b TEXT NOT NULL,
    PRIMARY KEY (a, b)
);

CREATE TABLE service_interfaces (
    name TEXT PRIMARY KEY,
    org_id TEXT REFERENCES organizations(id),
    switch TEXT NOT NULL,
    port TEXT NOT NULL,
    macs TEXT NOT NULL,
    capacity_mbps BIGINT NOT NULL,
    mode TEXT NOT NULL
);

CREATE TABLE service_definitions (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    version BIGINT NOT NULL,
    kinds TEXT NOT NULL,
    min_bandwidth_mbps BIGINT NOT NULL,
    max_bandwidth_mbps BIGINT NOT NULL,
    classes TEXT NOT NULL,
    drivers TEXT NOT NULL,
    relations TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (name, version)
);

CREATE TABLE usage_models (
    id TEXT PRIMARY KEY,
    definition_id TEXT NOT NULL REFERENCES service_definitions(id),
    name TEXT NOT NULL,
    price_type TEXT NOT NULL,
    price_cents BIGINT NOT NULL,
    max_bandwidth_mbps BIGINT,
    max_endpoints BIGINT,
    window_start_min BIGINT,
    window_end_min BIGINT,
    term_end BIGINT,
    max_gb BIGINT,
    created_at BIGINT NOT NULL
);

CREATE TABLE channels (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    org_id TEXT NOT NULL REFERENCES organizations(id),
    created_by TEXT NOT NULL REFERENCES users(id),
    kind TEXT NOT NULL,
    bandwidth_mbps BIGINT NOT NULL,
    class TEXT NOT NULL,
    definition_id TEXT NOT NULL REFERENCES service_definitions(id),
    usage_model_id TEXT NOT NULL REFERENCES usage_models(id),
    state TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    vlan BIGINT,
    leaf_vlan BIGINT,
    path TEXT NOT NULL DEFAULT '',
    -- what the switches hold of the channel (members and VLANs, JSON) after its last apply
    applied TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX channels_org_name ON channels (org_id, name) WHERE state <> 'terminated';

CREATE TABLE attachments (
    id TEXT PRIMARY KEY,
    channel_id TEXT NOT NULL REFERENCES channels(id),
    interface TEXT NOT NULL REFERENCES service_interfaces(name),
    org_id TEXT NOT NULL REFERENCES organizations(id),
    role TEXT NOT NULL,
    customer_vlan BIGINT,
    usage_model_id TEXT NOT NULL REFERENCES usage_models(id),
    state TEXT NOT NULL,
    attached_at BIGINT NOT NULL,
    detached_at BIGINT
);
CREATE UNIQUE INDEX attachments_live ON attachments (channel_id, interface) WHERE state = 'attached';
CREATE INDEX attachments_channel ON attachments (channel_id);
CREATE INDEX attachments_interface ON attachments (interface);
CREATE INDEX attachments_org ON attachments (org_id, state);

CREATE TABLE offers (
    id TEXT PRIMARY KEY,
    channel_id TEXT NOT NULL REFERENCES channels(id),
    org_id TEXT NOT NULL REFERENCES organizations(id),
    created_by TEXT NOT NULL REFERENCES users(id),
    description TEXT NOT NULL,
    -- whether invitees who accept may offer the channel on (their permission's re-offer right)
    allow_reoffer BIGINT NOT NULL DEFAULT 0,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX offers_channel ON offers (channel_id);

CREATE TABLE invitees (
    id TEXT PRIMARY KEY,
    offer_id TEXT NOT NULL REFERENCES offers(id),
    email TEXT,
    org_id TEXT REFERENCES organizations(id),
    name TEXT NOT NULL,
    org_name TEXT NOT NULL,
    role TEXT,
    token_hash TEXT NOT NULL UNIQUE,
    accessed_at BIGINT,
    registered_at BIGINT,
    user_id TEXT REFERENCES users(id),
    accepted_at BIGINT,
    declined_at BIGINT,
    expired_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX invitees_offer ON invitees (offer_id);

CREATE TABLE permissions (
    id TEXT PRIMARY KEY,
    channel_id TEXT NOT NULL REFERENCES channels(id),
    grantor_org TEXT NOT NULL REFERENCES organizations(id),
    grantee_org TEXT NOT NULL REFERENCES organizations(id),
    can_use BIGINT NOT NULL,
    can_reoffer BIGINT NOT NULL,
    invitee_id TEXT REFERENCES invitees(id),
    created_at BIGINT NOT NULL
);
CREATE INDEX permissions_grantee ON permissions (grantee_org, channel_id);

CREATE TABLE orders (
    id TEXT PRIMARY KEY,
    channel_id TEXT NOT NULL REFERENCES channels(id),
    action TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT '',
    attempts BIGINT NOT NULL DEFAULT 0,
    claimed_by TEXT,
    lease_until BIGINT,
    created_at BIGINT NOT NULL,
    planning_at BIGINT,
    applying_at BIGINT,
    finished_at BIGINT
);
-- At most one order per channel waits: concurrent acceptances make one order, not several.
CREATE UNIQUE INDEX orders_one_pending ON orders (channel_id) WHERE status = 'pending';
CREATE INDEX orders_status ON orders (status, created_at);
CREATE INDEX orders_channel ON orders (channel_id);

-- Race-free VLAN allocation: a VLAN is held on a switch by at most one channel.
CREATE TABLE vlan_allocations (
    switch TEXT NOT NULL,
    vlan BIGINT NOT NULL,
    channel_id TEXT NOT NULL REFERENCES channels(id),
    PRIMARY KEY (switch, vlan)
);
CREATE INDEX vlan_allocations_channel ON vlan_allocations (channel_id);

-- What the dry-run driver's switches hold, so every instance sees the same simulated network.
CREATE TABLE switch_items (
    switch TEXT NOT NULL,
    item TEXT NOT NULL,
    PRIMARY KEY (switch, item)
);

CREATE TABLE audit_log (
    id TEXT PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    org_id TEXT,
    source TEXT NOT NULL,
    action TEXT NOT NULL,
    object TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_object ON audit_log (object);
