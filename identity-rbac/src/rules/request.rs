//! The request a decision is about: its method, URL (normalised before matching) and headers, and the credentials
//! those headers present.

/// An HTTP request as the proxy saw it. `url` is the full `scheme://host/path?query`; the query and fragment
/// are not matched.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The method, such as `GET` (case-sensitive, as in HTTP).
    pub method: &'a str,
    /// The URL.
    pub url: &'a str,
    /// The headers, names in any case.
    pub headers: &'a [(&'a str, &'a str)],
}

impl<'a> Request<'a> {
    /// A request without headers.
    pub fn new(method: &'a str, url: &'a str) -> Self {
        Self { method, url, headers: &[] }
    }

    /// The first value of the header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'a str> {
        header(self.headers, name)
    }

    /// Whether the client is a browser, one that accepts HTML and can follow a login redirect.
    pub fn is_browser(&self) -> bool {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("accept"))
            .any(|(_, v)| v.split(',').any(|t| t.trim().to_ascii_lowercase().starts_with("text/html")))
    }
}

fn header<'a>(headers: &[(&'a str, &'a str)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| *v)
}

/// The original request of a forward-auth call, rebuilt from `X-Forwarded-Method`, `-Proto`, `-Host` and
/// `-Uri` (as nginx's `auth_request` and Traefik send them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardedRequest {
    /// The original method.
    pub method: String,
    /// The original URL, `proto://host/uri`.
    pub url: String,
}

impl ForwardedRequest {
    /// Reads the forwarded headers; `None` if one is missing or the URI does not start with `/`.
    pub fn from_headers(headers: &[(&str, &str)]) -> Option<Self> {
        let method = header(headers, "x-forwarded-method")?.trim();
        let proto = header(headers, "x-forwarded-proto")?.trim();
        let host = header(headers, "x-forwarded-host")?.trim();
        let uri = header(headers, "x-forwarded-uri")?.trim();
        if method.is_empty() || proto.is_empty() || host.is_empty() || !uri.starts_with('/') {
            return None;
        }
        Some(Self { method: method.to_owned(), url: format!("{proto}://{host}{uri}") })
    }
}

/// The credentials a request presents, read from its headers (nothing is checked here).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PresentedCredentials<'a> {
    /// The value of the session cookie.
    pub session_cookie: Option<&'a str>,
    /// A session token: `X-Session-Token`, or a bearer token that is not a JWT.
    pub session_token: Option<&'a str>,
    /// A bearer token shaped like a JWT (three dot-separated base64url parts).
    pub access_token: Option<&'a str>,
}

impl<'a> PresentedCredentials<'a> {
    /// Reads the credentials in `headers`; `cookie_name` is the session cookie's name.
    pub fn from_headers(headers: &[(&'a str, &'a str)], cookie_name: &str) -> Self {
        let session_cookie = headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("cookie"))
            .flat_map(|(_, v)| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, _)| *name == cookie_name)
            .map(|(_, value)| value.trim_matches('"'))
            .filter(|value| !value.is_empty());
        let mut presented = Self { session_cookie, ..Self::default() };
        if let Some(token) = header(headers, "x-session-token").map(str::trim).filter(|t| !t.is_empty()) {
            presented.session_token = Some(token);
        }
        let bearer = header(headers, "authorization")
            .and_then(|v| v.trim().split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .filter(|token| !token.is_empty());
        if let Some(token) = bearer {
            if is_jwt_shaped(token) {
                presented.access_token = Some(token);
            } else if presented.session_token.is_none() {
                presented.session_token = Some(token);
            }
        }
        presented
    }
}

impl<'a> PresentedCredentials<'a> {
    /// The credentials to resolve for a rule whose authenticators are `authenticators`, in the rule's order:
    /// each listed kind the request presents, with its credential. Resolve them in this order and pass the first
    /// that proves a subject to [`Rules::decide`](crate::Rules::decide); if none does, the caller is anonymous.
    pub fn in_order(
        &self,
        authenticators: &[super::decision::Authenticator],
    ) -> Vec<(super::decision::Authenticator, &'a str)> {
        use super::decision::Authenticator as A;
        authenticators
            .iter()
            .filter_map(|kind| {
                let credential = match kind {
                    A::CookieSession => self.session_cookie,
                    A::BearerSessionToken => self.session_token,
                    A::BearerJwt => self.access_token,
                    A::Anonymous => None,
                };
                credential.map(|credential| (*kind, credential))
            })
            .collect()
    }
}

fn is_jwt_shaped(token: &str) -> bool {
    let parts: Vec<&str> = token.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
}

/// `url` as rules match it: `scheme://host/path`, scheme and host lower-cased, a default port dropped, the query
/// and fragment cut, and percent-escapes of unreserved characters decoded (RFC 3986, 6.2.2). `None` for a URL a
/// rule must not be asked about because an upstream could read it differently: no scheme or host, user
/// information, dot segments (`/./`, `/../`, also escaped), empty segments (`//`), escaped `/` or `\`,
/// a bad escape, a backslash, white space or control characters.
pub(crate) fn normalize_url(url: &str) -> Option<String> {
    let end = url.find(['?', '#']).unwrap_or(url.len());
    let url = url.get(..end)?;
    let (scheme, rest) = url.split_once("://")?;
    let mut scheme_chars = scheme.chars();
    if !scheme_chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        || !scheme_chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    {
        return None;
    }
    let scheme = scheme.to_ascii_lowercase();
    let (authority, path) = match rest.find('/') {
        Some(slash) => rest.split_at(slash),
        None => (rest, "/"),
    };
    if authority.is_empty()
        || authority.chars().any(|c| c == '@' || c == '\\' || c == '%' || c.is_whitespace() || c.is_control())
    {
        return None;
    }
    let mut host = authority.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => Some(":443"),
        "http" => Some(":80"),
        _ => None,
    };
    if let Some(port) = default_port.filter(|port| host.ends_with(port)) {
        host.truncate(host.len() - port.len());
    }

    let mut normalized = String::with_capacity(scheme.len() + 3 + host.len() + path.len());
    normalized.push_str(&scheme);
    normalized.push_str("://");
    normalized.push_str(&host);
    let path_start = normalized.len();
    let bytes = path.as_bytes();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let value = u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
            if value.is_ascii_alphanumeric() || matches!(value, b'-' | b'.' | b'_' | b'~') {
                normalized.push(char::from(value));
            } else if matches!(value, b'/' | b'\\') {
                return None;
            } else {
                normalized.push('%');
                normalized.push_str(&format!("{value:02X}"));
            }
            i += 3;
            continue;
        }
        if b == b'\\' || b.is_ascii_whitespace() || b.is_ascii_control() {
            return None;
        }
        let c_len = utf8_len(b);
        normalized.push_str(path.get(i..i + c_len)?);
        i += c_len;
    }
    let normalized_path = normalized.get(path_start..)?;
    let segments: Vec<&str> = normalized_path.split('/').skip(1).collect();
    let last = segments.len().saturating_sub(1);
    for (index, segment) in segments.iter().enumerate() {
        if *segment == "." || *segment == ".." || (segment.is_empty() && index != last) {
            return None;
        }
    }
    Some(normalized)
}

fn utf8_len(first: u8) -> usize {
    match first {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    }
}

/// `text` with every byte but unreserved characters percent-encoded, for a query parameter.
pub(crate) fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_offered_in_the_rules_order() {
        use crate::rules::decision::Authenticator as A;
        let headers = [("cookie", "sid=c00kie"), ("authorization", "Bearer aaa.bbb.ccc"), ("x-session-token", "t0ken")];
        let presented = PresentedCredentials::from_headers(&headers, "sid");
        let order = [A::BearerJwt, A::CookieSession, A::BearerSessionToken, A::Anonymous];
        assert_eq!(
            presented.in_order(&order),
            vec![(A::BearerJwt, "aaa.bbb.ccc"), (A::CookieSession, "c00kie"), (A::BearerSessionToken, "t0ken")]
        );
        assert_eq!(presented.in_order(&[A::CookieSession]), vec![(A::CookieSession, "c00kie")]);
        let nothing = PresentedCredentials::from_headers(&[], "sid");
        assert!(nothing.in_order(&order).is_empty());
    }

    #[test]
    fn urls_are_normalised() {
        let n = |url: &str| normalize_url(url);
        assert_eq!(
            n("HTTPS://API.Example.com:443/Projects?x=1#f").as_deref(),
            Some("https://api.example.com/Projects")
        );
        assert_eq!(n("http://example.com").as_deref(), Some("http://example.com/"));
        assert_eq!(n("http://example.com:8080/a/").as_deref(), Some("http://example.com:8080/a/"));
        assert_eq!(n("https://x.example/%61dmin/%7e%20").as_deref(), Some("https://x.example/admin/~%20"));
        assert_eq!(n("https://x.example/caf\u{e9}").as_deref(), Some("https://x.example/caf\u{e9}"));
    }

    #[test]
    fn ambiguous_urls_are_refused() {
        for url in [
            "/no/scheme",
            "https:///path",
            "https://user@x.example/",
            "https://x.example/a/../admin",
            "https://x.example/a/./b",
            "https://x.example/a/%2e%2e/admin",
            "https://x.example/a/%2E/b",
            "https://x.example//admin",
            "https://x.example/a%2fb",
            "https://x.example/a%5Cb",
            "https://x.example/a\\b",
            "https://x.example/a b",
            "https://x.example/a%zz",
            "https://x.example/a%4",
            "1http://x.example/",
        ] {
            assert_eq!(normalize_url(url), None, "{url}");
        }
    }

    #[test]
    fn credentials_are_read_from_headers() {
        let jwt = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln";
        let auth = format!("Bearer {jwt}");
        let headers = [("Cookie", "theme=dark; ory_kratos_session=abc123"), ("Authorization", auth.as_str())];
        let presented = PresentedCredentials::from_headers(&headers, "ory_kratos_session");
        assert_eq!(presented.session_cookie, Some("abc123"));
        assert_eq!(presented.access_token, Some(jwt));
        assert_eq!(presented.session_token, None);
        let headers = [("authorization", "bearer ory_st_abc")];
        let presented = PresentedCredentials::from_headers(&headers, "ory_kratos_session");
        assert_eq!(presented.session_token, Some("ory_st_abc"));
        assert_eq!(presented.session_cookie, None);
    }

    #[test]
    fn forwarded_requests_are_rebuilt() {
        let headers = [
            ("X-Forwarded-Method", "POST"),
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Host", "api.example.com"),
            ("X-Forwarded-Uri", "/projects?x=1"),
        ];
        let forwarded = ForwardedRequest::from_headers(&headers).unwrap();
        assert_eq!(
            forwarded,
            ForwardedRequest { method: "POST".into(), url: "https://api.example.com/projects?x=1".into() }
        );
        assert_eq!(ForwardedRequest::from_headers(&headers[..3]), None);
    }

    #[test]
    fn return_urls_are_encoded() {
        assert_eq!(percent_encode("https://x.example/a?b=c d"), "https%3A%2F%2Fx.example%2Fa%3Fb%3Dc%20d");
    }
}
