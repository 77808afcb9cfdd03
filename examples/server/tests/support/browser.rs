//! A browser for the tests that go through redirects and cookies: one cookie jar for every loopback port
//! (browsers do not keep cookies apart by port) and no automatic redirects, so that each hop can be looked at.

use std::collections::BTreeMap;

use reqwest::header::{LOCATION, SET_COOKIE};
use serde_json::Value;

/// A cookie-keeping client that never follows redirects by itself.
pub struct Browser {
    /// The client it sends with (redirects off).
    pub http: reqwest::Client,
    /// The cookies it holds, by name.
    pub cookies: BTreeMap<String, String>,
}

impl Browser {
    /// A browser with no cookies.
    pub fn new() -> Self {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Self { http, cookies: BTreeMap::new() }
    }

    /// The `Cookie` header it would send (for requests built by hand).
    pub fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    /// Sends `request` with the cookies held, and keeps (or drops) the ones its answer sets.
    pub async fn send(&mut self, request: reqwest::RequestBuilder) -> reqwest::Response {
        let response = request.header("cookie", self.cookie_header()).send().await.unwrap();
        for set in response.headers().get_all(SET_COOKIE) {
            let set = set.to_str().unwrap();
            let (name, value) = set.split(';').next().unwrap().split_once('=').unwrap();
            let expired = set.to_ascii_lowercase().contains("max-age=0") || value.is_empty();
            if expired {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        response
    }

    /// `GET url`, with the cookies held.
    pub async fn get(&mut self, url: &str) -> reqwest::Response {
        let request = self.http.get(url);
        self.send(request).await
    }

    /// Follows redirects from `url` until one points at `stop`, and answers that location.
    pub async fn follow_until(&mut self, url: &str, stop: &str) -> String {
        let mut url = url.to_owned();
        for _ in 0..10 {
            let response = self.get(&url).await;
            let status = response.status();
            let Some(location) = response.headers().get(LOCATION).map(|l| l.to_str().unwrap().to_owned()) else {
                panic!("{url} answered {status} without a redirect: {}", response.text().await.unwrap_or_default())
            };
            if location.starts_with(stop) {
                return location;
            }
            url = if location.starts_with('/') {
                let origin: String = url.splitn(4, '/').take(3).collect::<Vec<_>>().join("/");
                format!("{origin}{location}")
            } else {
                location
            };
        }
        panic!("too many redirects");
    }
}

/// The CSRF token a flow's UI nodes carry (what a browser's form would post back).
pub fn csrf_token(flow: &Value) -> String {
    let nodes = flow["ui"]["nodes"].as_array().unwrap();
    let node = nodes.iter().find(|n| n["attributes"]["name"] == "csrf_token").unwrap();
    node["attributes"]["value"].as_str().unwrap().to_owned()
}

/// The query parameter `name` of `url`, decoded.
pub fn query(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).ok()?;
    pairs.into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

/// A redirect's `Location`.
pub fn location(response: &reqwest::Response) -> String {
    response.headers()[LOCATION].to_str().unwrap().to_owned()
}
