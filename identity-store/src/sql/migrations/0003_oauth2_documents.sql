-- Version 3: the OAuth2 provider's named documents (its signing key set, upstream providers), each with a version
-- that replacements compare, so that replicas rotating keys at once cannot overwrite each other.
CREATE TABLE oauth2_documents (
    kind ID NOT NULL,
    name ID NOT NULL,
    version BIGINT NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY (kind, name)
);
