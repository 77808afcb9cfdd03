-- The initial schema. `BYTES` and `ID` are replaced per backend: BLOB / TEXT on SQLite, BYTEA / TEXT COLLATE "C"
-- on PostgreSQL, so ids and names sort bytewise everywhere (keyset pagination and listings by name rely on it,
-- and the memory backend sorts the same way). Instants are microseconds since the Unix epoch; documents are the
-- domain objects' JSON.

CREATE TABLE identities (
    id ID PRIMARY KEY,
    external_id TEXT UNIQUE,
    organization_id TEXT,
    updated_at BIGINT NOT NULL,
    document TEXT NOT NULL
);
CREATE INDEX identities_organization ON identities (organization_id, id);

CREATE TABLE identity_identifiers (
    credential_type TEXT NOT NULL,
    identifier TEXT NOT NULL,
    identity_id ID NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    PRIMARY KEY (credential_type, identifier)
);
CREATE INDEX identity_identifiers_identity ON identity_identifiers (identity_id);

CREATE TABLE identity_role_attributes (
    identity_id ID NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    attribute TEXT NOT NULL,
    PRIMARY KEY (identity_id, attribute)
);
CREATE INDEX identity_role_attributes_attribute ON identity_role_attributes (attribute, identity_id);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    identity_id ID NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    token_hash BYTES NOT NULL UNIQUE,
    active BIGINT NOT NULL,
    issued_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    document TEXT NOT NULL
);
CREATE INDEX sessions_identity ON sessions (identity_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

CREATE TABLE flows (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    identity_id ID REFERENCES identities (id) ON DELETE CASCADE,
    expires_at BIGINT NOT NULL,
    document TEXT NOT NULL
);
CREATE INDEX flows_identity ON flows (identity_id);
CREATE INDEX flows_expires_at ON flows (expires_at);

CREATE TABLE enrollments (
    id TEXT PRIMARY KEY,
    identity_id ID NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    token_hash BYTES NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    document TEXT NOT NULL
);
CREATE INDEX enrollments_identity ON enrollments (identity_id);

CREATE TABLE one_time_codes (
    purpose TEXT NOT NULL,
    hash BYTES NOT NULL,
    identity_id ID REFERENCES identities (id) ON DELETE CASCADE,
    address TEXT,
    flow_id TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (purpose, hash)
);
CREATE INDEX one_time_codes_identity ON one_time_codes (identity_id);

CREATE TABLE throttle_counters (
    key TEXT PRIMARY KEY,
    count BIGINT NOT NULL,
    window_end BIGINT NOT NULL
);

CREATE TABLE organizations (
    id TEXT PRIMARY KEY,
    name ID NOT NULL UNIQUE,
    document TEXT NOT NULL
);

CREATE TABLE organization_domains (
    domain TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE
);
CREATE INDEX organization_domains_organization ON organization_domains (organization_id);

CREATE TABLE roles (
    id TEXT PRIMARY KEY,
    name ID NOT NULL UNIQUE,
    document TEXT NOT NULL
);

CREATE TABLE rbac_groups (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name ID NOT NULL,
    document TEXT NOT NULL,
    UNIQUE (organization_id, name)
);

CREATE TABLE group_members (
    group_id TEXT NOT NULL REFERENCES rbac_groups (id) ON DELETE CASCADE,
    identity_id ID NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, identity_id)
);
CREATE INDEX group_members_identity ON group_members (identity_id);

CREATE TABLE group_roles (
    group_id TEXT NOT NULL REFERENCES rbac_groups (id) ON DELETE CASCADE,
    role_id TEXT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, role_id)
);
CREATE INDEX group_roles_role ON group_roles (role_id);

CREATE TABLE projects (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name ID NOT NULL,
    document TEXT NOT NULL,
    UNIQUE (organization_id, name)
);

CREATE TABLE project_groups (
    project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    group_id TEXT NOT NULL REFERENCES rbac_groups (id) ON DELETE CASCADE,
    PRIMARY KEY (project_id, group_id)
);
CREATE INDEX project_groups_group ON project_groups (group_id);

CREATE TABLE oauth2_clients (
    client_id ID PRIMARY KEY,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    document TEXT NOT NULL
);

CREATE TABLE oauth2_tokens (
    hash BYTES PRIMARY KEY,
    kind TEXT NOT NULL,
    client_id ID NOT NULL REFERENCES oauth2_clients (client_id) ON DELETE CASCADE,
    identity_id ID REFERENCES identities (id) ON DELETE CASCADE,
    grant_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    document TEXT NOT NULL
);
CREATE INDEX oauth2_tokens_grant ON oauth2_tokens (grant_id);
CREATE INDEX oauth2_tokens_identity ON oauth2_tokens (identity_id);
CREATE INDEX oauth2_tokens_client ON oauth2_tokens (client_id);
