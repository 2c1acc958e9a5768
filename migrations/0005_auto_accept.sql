-- An organization's standing answer to offers from organizations it trusts (SPEC §7): an
-- offer made to it (by organization) by one of them is accepted at once, on its behalf,
-- with the interface it chose, after the same checks as an acceptance by hand.
CREATE TABLE auto_accept (
    org_id TEXT NOT NULL REFERENCES organizations(id),
    from_org_id TEXT NOT NULL REFERENCES organizations(id),
    interface TEXT NOT NULL REFERENCES service_interfaces(name),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, from_org_id)
);
