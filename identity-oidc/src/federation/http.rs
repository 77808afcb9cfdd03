//! The HTTP the federation needs, behind a small trait so tests can answer for an upstream: GET JSON (discovery,
//! JWKS, user APIs) and POST a form (token exchange). [`ReqwestHttp`] is the real one: rustls on aws-lc-rs, a
//! timeout on every call, and a bounded cache of unauthenticated GETs for their `Cache-Control: max-age`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde_json::Value;

use crate::error::Error;

/// A GET of a JSON document.
#[derive(Clone, Copy)]
pub struct GetJson<'a> {
    /// The URL.
    pub url: &'a str,
    /// A bearer token to send (user APIs); such responses are never cached.
    pub bearer: Option<&'a str>,
    /// Skip the cache: used to refetch a JWKS that lacks a token's `kid` (the provider rotated its keys).
    pub fresh: bool,
}

impl std::fmt::Debug for GetJson<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GetJson").field("url", &self.url).field("fresh", &self.fresh).finish_non_exhaustive()
    }
}

/// A POST of an `application/x-www-form-urlencoded` body, answered with JSON.
#[derive(Clone, Copy)]
pub struct PostForm<'a> {
    /// The URL.
    pub url: &'a str,
    /// The fields.
    pub form: &'a [(&'a str, &'a str)],
    /// HTTP Basic credentials (`client_secret_basic`), already form-encoded as RFC 6749 §2.3.1 asks.
    pub basic: Option<(&'a str, &'a str)>,
}

impl std::fmt::Debug for PostForm<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The form carries the code, the verifier and maybe the client secret: only the names are shown.
        let names: Vec<&str> = self.form.iter().map(|(name, _)| *name).collect();
        f.debug_struct("PostForm").field("url", &self.url).field("fields", &names).finish_non_exhaustive()
    }
}

/// An answer: the status and the JSON body (`Null` when the body is empty or not JSON).
#[derive(Debug, Clone, PartialEq)]
pub struct JsonReply {
    /// The HTTP status.
    pub status: u16,
    /// The body.
    pub body: Value,
}

impl JsonReply {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// How the federation talks HTTP. Implementations send `Accept: application/json`, bound every call in time,
/// and return non-2xx answers as replies (the caller reads OAuth2 error bodies), failing only when no answer
/// came.
#[async_trait]
pub trait UpstreamHttp: Send + Sync {
    /// GETs a JSON document.
    async fn get_json(&self, request: GetJson<'_>) -> Result<JsonReply, Error>;
    /// POSTs a form.
    async fn post_form(&self, request: PostForm<'_>) -> Result<JsonReply, Error>;
}

/// Timeouts and cache bounds of [`ReqwestHttp`].
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Time to establish a connection (TCP and TLS).
    pub connect_timeout: Duration,
    /// Time for a whole call, body included.
    pub timeout: Duration,
    /// Cached documents at most; when full, expired ones go first, then the one expiring soonest.
    pub cache_entries: usize,
    /// `max-age` values above this are cut to it, so a typo upstream cannot pin a key set for a year.
    pub max_cache_age: Duration,
    /// Largest body read, in bytes; discovery and key sets are a few KiB.
    pub max_body_bytes: usize,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(10),
            cache_entries: 256,
            max_cache_age: Duration::from_secs(24 * 3600),
            max_body_bytes: 1024 * 1024,
        }
    }
}

/// [`UpstreamHttp`] over reqwest with rustls (aws-lc-rs). Redirects are not followed: an issuer's endpoints are
/// where its discovery says they are.
#[derive(Debug)]
pub struct ReqwestHttp {
    client: reqwest::Client,
    settings: HttpSettings,
    cache: Mutex<ResponseCache>,
}

impl ReqwestHttp {
    /// A client with `settings`.
    pub fn new(settings: HttpSettings) -> Result<Self, Error> {
        let client = reqwest::Client::builder()
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.timeout)
            .redirect(reqwest::redirect::Policy::none())
            // GitHub's API refuses requests without a User-Agent.
            .user_agent(concat!("identity-oidc/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::UpstreamHttp { url: String::new(), reason: e.to_string() })?;
        let cache = Mutex::new(ResponseCache::new(settings.cache_entries));
        Ok(Self { client, settings, cache })
    }

    async fn read(&self, url: &str, request: reqwest::RequestBuilder) -> Result<(JsonReply, Option<Duration>), Error> {
        let failed = |e: reqwest::Error| Error::UpstreamHttp { url: url.to_owned(), reason: e.to_string() };
        let mut response = request.header(reqwest::header::ACCEPT, "application/json").send().await.map_err(failed)?;
        let status = response.status().as_u16();
        let max_age = response
            .headers()
            .get(reqwest::header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .and_then(cache_max_age)
            .map(|age| age.min(self.settings.max_cache_age));
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(failed)? {
            if body.len() + chunk.len() > self.settings.max_body_bytes {
                return Err(Error::UpstreamHttp { url: url.to_owned(), reason: "the response is too large".into() });
            }
            body.extend_from_slice(&chunk);
        }
        let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
        Ok((JsonReply { status, body }, max_age))
    }
}

#[async_trait]
impl UpstreamHttp for ReqwestHttp {
    async fn get_json(&self, request: GetJson<'_>) -> Result<JsonReply, Error> {
        let cacheable = request.bearer.is_none();
        if cacheable && !request.fresh {
            let cached =
                self.cache.lock().map_err(|_| Error::internal("cache lock poisoned"))?.get(request.url, Instant::now());
            if let Some(body) = cached {
                return Ok(JsonReply { status: 200, body });
            }
        }
        let mut builder = self.client.get(request.url);
        if let Some(token) = request.bearer {
            builder = builder.bearer_auth(token);
        }
        let (reply, max_age) = self.read(request.url, builder).await?;
        if cacheable && reply.status == 200 {
            let mut cache = self.cache.lock().map_err(|_| Error::internal("cache lock poisoned"))?;
            match max_age {
                Some(age) if !age.is_zero() => cache.put(request.url, reply.body.clone(), Instant::now() + age),
                // A fresh answer without max-age replaces whatever an older one said.
                _ => cache.remove(request.url),
            }
        }
        Ok(reply)
    }

    async fn post_form(&self, request: PostForm<'_>) -> Result<JsonReply, Error> {
        let mut builder = self.client.post(request.url).form(request.form);
        if let Some((user, password)) = request.basic {
            builder = builder.basic_auth(user, Some(password));
        }
        Ok(self.read(request.url, builder).await?.0)
    }
}

/// The `max-age` of a `Cache-Control` value; `None` when absent or when `no-store` / `no-cache` / `private`
/// say not to keep the answer.
pub fn cache_max_age(header: &str) -> Option<Duration> {
    let mut max_age = None;
    for directive in header.split(',').map(|d| d.trim().to_ascii_lowercase()) {
        if matches!(directive.as_str(), "no-store" | "no-cache") {
            return None;
        }
        if let Some(seconds) = directive.strip_prefix("max-age=") {
            max_age = seconds.trim_matches('"').parse::<u64>().ok().map(Duration::from_secs);
        }
    }
    max_age
}

/// Documents by URL, each until it expires, at most `capacity` of them.
#[derive(Debug)]
pub(crate) struct ResponseCache {
    capacity: usize,
    entries: HashMap<String, (Instant, Value)>,
}

impl ResponseCache {
    pub(crate) fn new(capacity: usize) -> Self {
        Self { capacity, entries: HashMap::new() }
    }

    pub(crate) fn get(&mut self, url: &str, now: Instant) -> Option<Value> {
        match self.entries.get(url) {
            Some((expires, body)) if *expires > now => Some(body.clone()),
            Some(_) => {
                self.entries.remove(url);
                None
            }
            None => None,
        }
    }

    pub(crate) fn put(&mut self, url: &str, body: Value, expires: Instant) {
        if self.capacity == 0 {
            return;
        }
        if !self.entries.contains_key(url) && self.entries.len() >= self.capacity {
            let now = Instant::now();
            self.entries.retain(|_, (at, _)| *at > now);
            if self.entries.len() >= self.capacity {
                let soonest = self.entries.iter().min_by_key(|(_, (at, _))| *at).map(|(key, _)| key.clone());
                if let Some(key) = soonest {
                    self.entries.remove(&key);
                }
            }
        }
        self.entries.insert(url.to_owned(), (expires, body));
    }

    pub(crate) fn remove(&mut self, url: &str) {
        self.entries.remove(url);
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cache_control_max_age_is_read_and_no_store_wins() {
        assert_eq!(cache_max_age("public, max-age=3600"), Some(Duration::from_secs(3600)));
        assert_eq!(cache_max_age("Max-Age=60"), Some(Duration::from_secs(60)));
        assert_eq!(cache_max_age("max-age=60, no-store"), None);
        assert_eq!(cache_max_age("no-cache"), None);
        assert_eq!(cache_max_age("public"), None);
        assert_eq!(cache_max_age("max-age=soon"), None);
    }

    #[test]
    fn cache_serves_until_expiry_and_stays_bounded() {
        let mut cache = ResponseCache::new(2);
        let now = Instant::now();
        cache.put("a", json!(1), now + Duration::from_secs(60));
        assert_eq!(cache.get("a", now), Some(json!(1)));
        assert_eq!(cache.get("a", now + Duration::from_secs(61)), None);
        cache.put("a", json!(1), now + Duration::from_secs(10));
        cache.put("b", json!(2), now + Duration::from_secs(20));
        cache.put("c", json!(3), now + Duration::from_secs(30));
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.get("a", now), None, "the entry expiring soonest made room");
        assert_eq!(cache.get("c", now), Some(json!(3)));
    }

    #[tokio::test]
    async fn calls_to_an_unreachable_upstream_fail_within_the_timeout() {
        let settings = HttpSettings {
            connect_timeout: Duration::from_millis(300),
            timeout: Duration::from_millis(600),
            ..Default::default()
        };
        let http = ReqwestHttp::new(settings).unwrap();
        // A listener that accepts and never answers.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/jwks", listener.local_addr().unwrap());
        let started = Instant::now();
        let request = GetJson { url: &url, bearer: None, fresh: false };
        let error = http.get_json(request).await.unwrap_err();
        assert!(matches!(error, Error::UpstreamHttp { .. }), "{error}");
        assert!(started.elapsed() < Duration::from_secs(5));
        drop(listener);
    }
}
