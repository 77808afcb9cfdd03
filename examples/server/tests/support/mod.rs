//! What the server's test binaries share: reading JSON answers and registering a user through the API.

#![allow(dead_code)]

use serde_json::{Value, json};

/// Sends a request and reads its JSON answer.
pub trait JsonBody {
    /// The answer's JSON (panics on a transport error or a body that is not JSON: these are tests).
    async fn json_body(self) -> Value;
}

impl JsonBody for reqwest::RequestBuilder {
    async fn json_body(self) -> Value {
        self.send().await.unwrap().json().await.unwrap()
    }
}

/// Registers `email` with `password` through a native registration flow at `public` (`http://host:port`) and
/// returns the answer: the identity and, with the default settings, its session and token.
pub async fn register(http: &reqwest::Client, public: &str, email: &str, password: &str) -> Value {
    let flow = http.get(format!("{public}/self-service/registration/api")).json_body().await;
    http.post(format!("{public}/self-service/registration?flow={}", flow["id"].as_str().unwrap()))
        .json(&json!({"method": "password", "traits": {"email": email}, "password": password}))
        .json_body()
        .await
}
