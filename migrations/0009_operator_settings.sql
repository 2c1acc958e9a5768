-- Settings the operator makes for the whole service, one row each, the value as JSON
-- (today `new_organization`: the account a newly registered or imported organization
-- starts with). A missing row means the built-in default.
CREATE TABLE operator_settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
