//! Federation: signing in at upstream identity providers (a generic OIDC issuer, Google, Microsoft Entra,
//! GitHub), routed by the email's domain to an organization's provider, with the upstream's ID token validated
//! and the upstream account linked to a local identity without ever taking one over.
//!
//! The pieces, in the order a login uses them:
//! - [`route`] picks the provider for an email;
//! - [`Federation::begin`] gives the authorization URL and a [`PendingLogin`] to keep server-side;
//! - [`Federation::complete`] checks the callback, exchanges the code, validates the ID token (or asks GitHub's
//!   user API) and returns an [`UpstreamIdentity`];
//! - [`Linker::resolve`] says which local identity that is ([`LinkOutcome`]), creating one when it is new.
//!
//! HTTP goes through [`UpstreamHttp`]; [`ReqwestHttp`] is the real one. Providers are plain serialisable
//! [`UpstreamProvider`]s, kept in the store by [`UpstreamProviders`].

mod flow;
pub mod http;
pub mod id_token;
mod link;
mod providers;
mod route;
mod upstream;

pub use flow::{BegunLogin, Callback, Federation, PENDING_LIFETIME, PendingLogin, UpstreamIdentity, check_url};
pub use http::{GetJson, HttpSettings, JsonReply, PostForm, ReqwestHttp, UpstreamHttp};
pub use link::{LinkOutcome, Linker, link_identifier};
pub use providers::{KIND as PROVIDER_DOCUMENT_KIND, StoredProvider, UpstreamProviders};
pub use route::{Route, global_providers, route};
pub use upstream::{
    ClaimsMapping, GITHUB_AUTHORIZE, GITHUB_EMAILS, GITHUB_TOKEN, GITHUB_USER, GOOGLE_ISSUER, UpstreamKind,
    UpstreamProvider,
};
