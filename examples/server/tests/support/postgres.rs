//! PostgreSQL for the server's tests: the URL from `IDENTITY_TEST_POSTGRES_URL` (without it the tests say
//! SKIPPED and pass), and a fresh schema per test, migrated, that servers reach through their DSN.

use std::net::SocketAddr;

use identity_store::sql::{SqlOptions, SqlStore};

/// The test database's URL, or `None` (after saying SKIPPED on stderr) when none is configured.
pub fn url(test: &str) -> Option<String> {
    let url = std::env::var("IDENTITY_TEST_POSTGRES_URL").ok().filter(|url| !url.is_empty());
    if url.is_none() {
        // Written to stderr directly, not with `eprintln!`, so the test harness does not swallow it.
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), "SKIPPED: {test}: IDENTITY_TEST_POSTGRES_URL is not set");
    }
    url
}

/// A schema of one test's own, with the store's tables in it.
pub struct Schema {
    /// Its name.
    pub name: String,
    /// The database URL it lives in.
    pub url: reqwest::Url,
    /// A store on it (for raw SQL, and for dropping it).
    pub store: SqlStore,
}

impl Schema {
    /// A new schema `<prefix>_<random>` in the database at `url`, migrated.
    pub async fn fresh(url: &str, prefix: &str) -> Self {
        let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
        let mut options = SqlOptions::new(url);
        options.schema = Some(name.clone());
        options.max_connections = 2;
        let store = SqlStore::connect(&options).await.unwrap();
        store.migrate().await.unwrap();
        Self { name, url: url.parse().unwrap(), store }
    }

    /// The DSN of this schema for the server (PostgreSQL's `options` set the search path).
    pub fn dsn(&self) -> String {
        let mut url = self.url.clone();
        url.query_pairs_mut().append_pair("options", &format!("-csearch_path={}", self.name));
        url.to_string()
    }

    /// [`dsn`](Self::dsn), reaching the database through `proxy` instead.
    pub fn dsn_via(&self, proxy: SocketAddr) -> String {
        let mut url: reqwest::Url = self.dsn().parse().unwrap();
        url.set_ip_host(proxy.ip()).unwrap();
        url.set_port(Some(proxy.port())).unwrap();
        url.to_string()
    }

    /// The database server's address (what a proxy forwards to).
    pub fn server(&self) -> SocketAddr {
        let host = self.url.host_str().unwrap_or("127.0.0.1");
        let port = self.url.port().unwrap_or(5432);
        std::net::ToSocketAddrs::to_socket_addrs(&(host, port)).unwrap().next().unwrap()
    }

    /// Drops the schema and everything in it.
    pub async fn drop(self) {
        let drop = format!("DROP SCHEMA {} CASCADE", self.name);
        identity_store::sql::testing_support::execute(&self.store, &drop).await.unwrap();
        self.store.close().await;
    }
}
