-- Settings the operator makes for the whole service, one row each, the value as JSON
-- (today `new_organization`: the account a newly registered or imported organization
-- starts with). A missing row means the built-in default.
CREATE TABLE operator_settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Installations that already have customers keep what their new organizations started
-- with before this setting existed (no credit); new installations get the built-in default.
INSERT INTO operator_settings (name, value, updated_at)
SELECT 'new_organization',
       '{"status":"active","kinds":["p2p","p2mp","mp2mp"],"max_bandwidth_mbps":1000,"max_channels":100,"classes":["standard"],"balance_cents":0,"credit_limit_cents":0}',
       0
WHERE EXISTS (SELECT 1 FROM organizations WHERE id <> 'org-operator');
