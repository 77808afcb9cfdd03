//! Upstream providers: which kind each is (a generic OIDC issuer, a preset, GitHub), the client registered there,
//! its secret sealed at rest, and how its claims become an identity's traits.

use std::collections::BTreeMap;

use identity_auth::SecretCipher;
use identity_core::{OrganizationId, ProviderId, SealedSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::Error;

/// Google's issuer.
pub const GOOGLE_ISSUER: &str = "https://accounts.google.com";
/// GitHub's authorization endpoint (GitHub speaks OAuth 2.0 only: no discovery, no ID token).
pub const GITHUB_AUTHORIZE: &str = "https://github.com/login/oauth/authorize";
/// GitHub's token endpoint.
pub const GITHUB_TOKEN: &str = "https://github.com/login/oauth/access_token";
/// GitHub's user API.
pub const GITHUB_USER: &str = "https://api.github.com/user";
/// GitHub's list of the user's email addresses, with their verification state.
pub const GITHUB_EMAILS: &str = "https://api.github.com/user/emails";

/// What kind of upstream a provider is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum UpstreamKind {
    /// Any OpenID Connect issuer: endpoints from `{issuer}/.well-known/openid-configuration`.
    Oidc {
        /// The issuer URL, exactly as the provider's `iss` claim spells it.
        issuer: String,
    },
    /// Google (issuer [`GOOGLE_ISSUER`]).
    Google,
    /// Microsoft Entra ID, issuer `https://login.microsoftonline.com/{tenant}/v2.0`.
    Microsoft {
        /// A tenant id or domain, or `common` / `organizations` for multi-tenant apps (the issuer is then checked
        /// against the token's own `tid`).
        tenant: String,
    },
    /// GitHub: OAuth 2.0 plus the user API; emails come from `/user/emails` with their verification state.
    Github,
}

impl UpstreamKind {
    /// The OIDC issuer, for the kinds that have one.
    pub fn issuer(&self) -> Option<String> {
        match self {
            UpstreamKind::Oidc { issuer } => Some(issuer.trim_end_matches('/').to_owned()),
            UpstreamKind::Google => Some(GOOGLE_ISSUER.to_owned()),
            UpstreamKind::Microsoft { tenant } => Some(format!("https://login.microsoftonline.com/{tenant}/v2.0")),
            UpstreamKind::Github => None,
        }
    }

    /// The scopes to ask for when a provider's configuration names none.
    pub fn default_scopes(&self) -> Vec<String> {
        let scopes: &[&str] = match self {
            UpstreamKind::Github => &["read:user", "user:email"],
            _ => &["openid", "email", "profile"],
        };
        scopes.iter().map(|s| (*s).to_owned()).collect()
    }
}

/// Which claim fills which trait: trait path (dot-separated, e.g. `name.first`) -> claim name (e.g.
/// `given_name`). Claims that are absent leave their trait out.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ClaimsMapping(pub BTreeMap<String, String>);

impl ClaimsMapping {
    /// `email` -> `email`, `name.first` -> `given_name`, `name.last` -> `family_name`: what the default schema
    /// and most upstreams agree on.
    pub fn standard() -> Self {
        let pairs = [("email", "email"), ("name.first", "given_name"), ("name.last", "family_name")];
        Self(pairs.iter().map(|(t, c)| ((*t).to_owned(), (*c).to_owned())).collect())
    }

    /// The traits `claims` map to. Paths whose parent is already a non-object value are skipped rather than
    /// overwriting it.
    pub fn traits(&self, claims: &Map<String, Value>) -> Value {
        let mut traits = Map::new();
        for (path, claim) in &self.0 {
            let Some(value) = claims.get(claim).filter(|v| !v.is_null()) else { continue };
            let parts: Vec<&str> = path.split('.').filter(|p| !p.is_empty()).collect();
            insert_at(&mut traits, &parts, value);
        }
        Value::Object(traits)
    }
}

/// Puts `value` at `path` under `node`, making objects on the way; leaves a non-object in the way alone.
fn insert_at(node: &mut Map<String, Value>, path: &[&str], value: &Value) {
    match path {
        [] => {}
        [last] => {
            node.insert((*last).to_owned(), value.clone());
        }
        [first, rest @ ..] => {
            let child = node.entry((*first).to_owned()).or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(child) = child {
                insert_at(child, rest, value);
            }
        }
    }
}

/// A client registered at an upstream provider. Serialises to the JSON document the store keeps; the client
/// secret is in it only sealed by the [`SecretCipher`], and `Debug` never shows it.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamProvider {
    /// The provider's id: what organizations point at, and the `provider` of the links it makes.
    pub id: ProviderId,
    /// A name for people (`Google`, `ACME's Entra`).
    pub display_name: String,
    /// Which kind of upstream it is.
    pub kind: UpstreamKind,
    /// Our client id there.
    pub client_id: String,
    /// Our client secret there, sealed (see [`UpstreamProvider::seal_secret`]).
    pub client_secret: SealedSecret,
    /// The scopes asked for; the kind's defaults when empty.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// The organization whose users sign in here; `None` for a provider anyone may choose.
    #[serde(default)]
    pub organization_id: Option<OrganizationId>,
    /// How claims become traits of identities created at first sign-in.
    #[serde(default = "ClaimsMapping::standard")]
    pub claims_mapping: ClaimsMapping,
    /// The schema of identities created at first sign-in.
    #[serde(default = "default_schema_id")]
    pub schema_id: String,
}

fn default_schema_id() -> String {
    "default".to_owned()
}

impl std::fmt::Debug for UpstreamProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamProvider")
            .field("id", &self.id)
            .field("display_name", &self.display_name)
            .field("kind", &self.kind)
            .field("client_id", &self.client_id)
            .field("client_secret", &"***")
            .field("scopes", &self.scopes)
            .field("organization_id", &self.organization_id)
            .finish_non_exhaustive()
    }
}

impl UpstreamProvider {
    /// A provider of `kind` with a fresh id, the standard claims mapping and the kind's default scopes; the
    /// secret is sealed at once and the plaintext dropped.
    pub fn new(
        kind: UpstreamKind,
        display_name: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: &SecretString,
        cipher: &SecretCipher,
    ) -> Result<Self, Error> {
        let id = ProviderId::new();
        Ok(Self {
            id,
            display_name: display_name.into(),
            scopes: kind.default_scopes(),
            kind,
            client_id: client_id.into(),
            client_secret: Self::seal_secret(id, client_secret, cipher)?,
            organization_id: None,
            claims_mapping: ClaimsMapping::standard(),
            schema_id: default_schema_id(),
        })
    }

    /// Seals `secret` for provider `id`. The id is the cipher's context, so a sealed secret copied into another
    /// provider's document does not open.
    pub fn seal_secret(id: ProviderId, secret: &SecretString, cipher: &SecretCipher) -> Result<SealedSecret, Error> {
        Ok(cipher.seal(secret.expose_secret().as_bytes(), &Self::context(id))?)
    }

    /// The client secret, opened for one token request.
    pub(crate) fn open_secret(&self, cipher: &SecretCipher) -> Result<SecretString, Error> {
        let bytes = cipher.open(&self.client_secret, &Self::context(self.id))?;
        let text = std::str::from_utf8(bytes.expose_secret())
            .map_err(|_| Error::internal("an upstream client secret is not UTF-8"))?;
        Ok(SecretString::new(text))
    }

    fn context(id: ProviderId) -> Vec<u8> {
        format!("upstream_provider:{id}").into_bytes()
    }

    /// The scopes to ask for: the configured ones, or the kind's defaults.
    pub fn effective_scopes(&self) -> Vec<String> {
        if self.scopes.is_empty() { self.kind.default_scopes() } else { self.scopes.clone() }
    }

    /// The `provider` written into the links this provider makes.
    pub fn link_name(&self) -> String {
        self.id.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn presets_name_their_issuers() {
        assert_eq!(UpstreamKind::Google.issuer().unwrap(), "https://accounts.google.com");
        let entra = UpstreamKind::Microsoft { tenant: "acme.example".into() };
        assert_eq!(entra.issuer().unwrap(), "https://login.microsoftonline.com/acme.example/v2.0");
        assert_eq!(UpstreamKind::Github.issuer(), None);
        assert!(UpstreamKind::Github.default_scopes().contains(&"user:email".to_owned()));
    }

    #[test]
    fn claims_map_to_nested_traits_and_absent_claims_are_left_out() {
        let claims = json!({"email": "ada@example.com", "given_name": "Ada", "family_name": null});
        let traits = ClaimsMapping::standard().traits(claims.as_object().unwrap());
        assert_eq!(traits, json!({"email": "ada@example.com", "name": {"first": "Ada"}}));
        let clash = ClaimsMapping(BTreeMap::from([
            ("name".to_owned(), "name".to_owned()),
            ("name.first".to_owned(), "given_name".to_owned()),
        ]));
        let claims = json!({"name": "Ada L.", "given_name": "Ada"});
        assert_eq!(clash.traits(claims.as_object().unwrap()), json!({"name": "Ada L."}));
    }
}
