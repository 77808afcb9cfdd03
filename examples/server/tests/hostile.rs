//! Hostile clients against the real server on loopback: oversized and deeply nested bodies, clients that trickle
//! their headers or bodies, keep idle connections or open many at once. Each limit holds with a JSON error or a
//! closed connection, and other clients are served meanwhile.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use identity_server::config::Config;
use identity_server::server::{Running, start};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

mod support;

use support::JsonBody;

/// How long a test waits for something the server must do within its configured limits (a few seconds): long
/// enough for a loaded CI machine, far shorter than "never".
const PATIENCE: Duration = Duration::from_secs(30);

async fn server(serve: Value) -> Running {
    let mut listeners = json!({ "public": { "port": 0 }, "admin": { "port": 0 } });
    if let (Some(listeners), Some(extra)) = (listeners.as_object_mut(), serve.as_object()) {
        listeners.extend(extra.clone());
    }
    let document = json!({
        "dsn": "memory",
        "serve": listeners,
        "hashers": { "argon2": { "memory_kib": 64, "iterations": 1, "parallelism": 1 } },
    });
    start(Config::from_value(document, std::iter::empty()).unwrap()).await.unwrap()
}

async fn registration_url(http: &Client, running: &Running) -> String {
    let flow = http.get(format!("http://{}/self-service/registration/api", running.public)).json_body().await;
    format!("http://{}/self-service/registration?flow={}", running.public, flow["id"].as_str().unwrap())
}

async fn registers(http: &Client, running: &Running, email: &str) -> bool {
    let url = registration_url(http, running).await;
    let body = json!({"method": "password", "traits": {"email": email}, "password": "correct-horse-battery-staple"});
    http.post(url).json(&body).send().await.unwrap().status() == StatusCode::OK
}

fn nested(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

#[tokio::test]
async fn oversized_and_deeply_nested_bodies_get_json_errors_and_the_server_goes_on() {
    let running = server(json!({ "body_limit_bytes": 65536 })).await;
    let http = Client::new();
    let public = |path: &str| format!("http://{}{path}", running.public);
    let admin = |path: &str| format!("http://{}{path}", running.admin);
    let expect_error = |status: StatusCode, expected: StatusCode, body: Value, what: &str| {
        assert_eq!(status, expected, "{what}: {body}");
        assert_eq!(body["error"]["code"], expected.as_u16(), "{what}: {body}");
    };

    // Bodies over the limit, with a length and chunked without one, on each listener and body kind.
    let big = format!("{{\"method\": \"password\", \"password\": \"{}\"}}", "a".repeat(1 << 20));
    let url = registration_url(&http, &running).await;
    let response = http.post(&url).header("Content-Type", "application/json").body(big.clone()).send().await.unwrap();
    let status = response.status();
    expect_error(status, StatusCode::PAYLOAD_TOO_LARGE, response.json().await.unwrap(), "registration");
    let path = url.trim_start_matches(&format!("http://{}", running.public)).to_owned();
    let mut chunked = connect(running.public, None).await;
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    chunked.write_all(head.as_bytes()).await.unwrap();
    let chunk = "a".repeat(16 * 1024);
    let mut refused = false;
    for _ in 0..64 {
        if chunked.write_all(format!("{:x}\r\n{chunk}\r\n", chunk.len()).as_bytes()).await.is_err() {
            refused = true;
            break;
        }
    }
    let answer = read_answer(&mut chunked).await;
    assert!(refused || answer.starts_with("HTTP/1.1 413"), "a chunked body past the limit: {answer}");
    if !answer.is_empty() {
        assert!(answer.starts_with("HTTP/1.1 413") && answer.contains("\"code\":413"), "{answer}");
    }
    let response = http
        .post(admin("/admin/identities"))
        .header("Content-Type", "application/json")
        .body(big.clone())
        .send()
        .await
        .unwrap();
    let status = response.status();
    expect_error(status, StatusCode::PAYLOAD_TOO_LARGE, response.json().await.unwrap(), "admin identities");
    let form = format!("grant_type=client_credentials&scope={}", "a".repeat(1 << 20));
    let response = http
        .post(public("/oauth2/token"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    let status = response.status();
    expect_error(status, StatusCode::PAYLOAD_TOO_LARGE, response.json().await.unwrap(), "token endpoint");

    // Nesting far past what any document needs, as the whole body and inside fields: refused, never a stack
    // overflow (which would abort this test binary).
    for (what, url, body) in [
        ("registration body", url.clone(), nested(30_000)),
        (
            "registration traits",
            url.clone(),
            format!("{{\"method\": \"password\", \"password\": \"x\", \"traits\": {{\"email\": {}}}}}", nested(30_000)),
        ),
        (
            "admin metadata",
            admin("/admin/identities"),
            format!(
                "{{\"schema_id\": \"default\", \"traits\": {{\"email\": \"deep@example.com\"}}, \"metadata_public\": {}}}",
                nested(30_000)
            ),
        ),
    ] {
        let response = http.post(url).header("Content-Type", "application/json").body(body).send().await.unwrap();
        let status = response.status();
        expect_error(status, StatusCode::BAD_REQUEST, response.json().await.unwrap(), what);
    }
    // Nesting within the parser's limit reaches the schema, which refuses an array for an email.
    let response = http
        .post(&url)
        .json(&json!({"method": "password", "password": "correct-horse-battery-staple",
                      "traits": {"email": serde_json::from_str::<Value>(&nested(100)).unwrap()}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    assert!(registers(&http, &running, "after@example.com").await, "the server stopped serving");
    assert_eq!(http.get(admin("/admin/identities")).json_body().await.as_array().unwrap().len(), 1);
    running.stop().await;
}

/// A TCP connection to `server`, from `from` (an address of 127.0.0.0/8) when given.
async fn connect(server: SocketAddr, from: Option<IpAddr>) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    if let Some(from) = from {
        socket.bind(SocketAddr::new(from, 0)).unwrap();
    }
    socket.connect(server).await.unwrap()
}

/// What the server sends until it closes the connection or goes quiet for a second, as text.
async fn read_answer(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        match tokio::time::timeout(Duration::from_secs(1), stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(read)) => answer.extend_from_slice(&buffer[..read]),
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}

/// Waits until the server closes `stream` (a read sees the end, or a reset), reading and keeping whatever it
/// sends before; panics after [`PATIENCE`].
async fn closed_by_server(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    let started = Instant::now();
    loop {
        match tokio::time::timeout(PATIENCE.saturating_sub(started.elapsed()), stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return String::from_utf8_lossy(&answer).into_owned(),
            Ok(Ok(read)) => answer.extend_from_slice(&buffer[..read]),
            Err(_) => panic!("the server kept the connection open for {PATIENCE:?}"),
        }
    }
}

/// Whether a plain request from `from` is answered 200 within [`PATIENCE`].
async fn served(server: SocketAddr, from: IpAddr) -> bool {
    let http = Client::builder().local_address(from).timeout(PATIENCE).build().unwrap();
    matches!(http.get(format!("http://{server}/health/alive")).send().await, Ok(r) if r.status() == StatusCode::OK)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_trickle_headers_or_bodies_or_sit_idle_are_cut_off_while_others_are_served() {
    let running = server(json!({ "header_timeout": "1s", "request_timeout": "2s" })).await;
    let public = running.public;
    let http = Client::new();
    let url = registration_url(&http, &running).await;
    let path = url.trim_start_matches(&format!("http://{public}")).to_owned();

    // Twenty clients trickle header lines, one every 200 ms, and never finish them.
    let started = Instant::now();
    let trickling: Vec<_> = (0..20)
        .map(|_| {
            tokio::spawn(async move {
                let mut stream = connect(public, None).await;
                let _ = stream.write_all(b"GET /health/alive HTTP/1.1\r\nHost: x\r\n").await;
                let mut lines = 0u32;
                loop {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    if stream.write_all(b"X-Slow: 1\r\n").await.is_err() {
                        break;
                    }
                    lines += 1;
                    // Far past the deadline: stop writing, and see whether the server closed it.
                    if lines > 25 {
                        break;
                    }
                }
                closed_by_server(&mut stream).await
            })
        })
        .collect();
    // Meanwhile everyone else is served.
    for _ in 0..20 {
        assert!(served(public, IpAddr::V4(Ipv4Addr::LOCALHOST)).await);
    }
    for client in trickling {
        let answer = client.await.unwrap();
        assert!(!answer.contains("200 OK"), "a trickled request was answered: {answer}");
    }
    // 25 lines at 200 ms would take 5 s; the deadline is 1 s.
    println!("twenty trickling clients cut off after {:?}", started.elapsed());

    // A client that sends its headers but trickles its body gets the request timeout's 408 in JSON.
    let mut slow_body = connect(public, None).await;
    let head =
        format!("POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10000\r\n\r\n{{");
    slow_body.write_all(head.as_bytes()).await.unwrap();
    let writer = tokio::spawn(async move {
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if slow_body.write_all(b" ").await.is_err() {
                break;
            }
        }
        closed_by_server(&mut slow_body).await
    });
    let answer = writer.await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "a trickled body: {answer}");
    assert!(answer.contains("\"code\":408"), "{answer}");

    // A keep-alive connection that sits idle after a request is closed after the header deadline.
    let mut idle = connect(public, None).await;
    idle.write_all(b"GET /health/alive HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let answer = closed_by_server(&mut idle).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // A silent connection (not a byte sent) too.
    let mut silent = connect(public, None).await;
    assert_eq!(closed_by_server(&mut silent).await, "");

    assert!(registers(&http, &running, "after@example.com").await);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_connections_are_capped_per_address_and_in_all_and_others_are_still_served() {
    let running = server(json!({
        "max_connections": 200, "max_connections_per_address": 50, "header_timeout": "3s",
    }))
    .await;
    let public = running.public;
    let flooder = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    let bystander = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 9));

    // One address opens 500 silent connections: 50 are held, the others are closed at once.
    let mut flood = Vec::new();
    for _ in 0..500 {
        flood.push(connect(public, Some(flooder)).await);
    }
    // The flooder's own new requests are refused while it holds its 50; everyone else is served. Checked first,
    // well before the held connections reach their header deadline and free their places.
    assert!(!served_quickly(public, flooder).await, "a 51st connection from one address was served");
    assert!(served(public, bystander).await);
    let mut closed_at_once = 0;
    for stream in &mut flood {
        let mut byte = [0u8; 1];
        if let Ok(Ok(0) | Err(_)) = tokio::time::timeout(Duration::from_millis(20), stream.read(&mut byte)).await {
            closed_at_once += 1;
        }
    }
    assert!(closed_at_once >= 450, "only {closed_at_once} of 500 connections from one address were refused");
    drop(flood);

    // Four addresses of 50 fill all 200 places: a fifth client waits (it is not refused) and is served once the
    // silent connections reach the header deadline and are closed.
    let mut filling = Vec::new();
    for last in 3..7 {
        for _ in 0..50 {
            filling.push(connect(public, Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)))).await);
        }
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let waited = Instant::now();
    assert!(served(public, bystander).await, "a client was refused instead of waiting for a place");
    println!("with every place taken, a client was served after {:?}", waited.elapsed());
    for stream in &mut filling {
        closed_by_server(stream).await;
    }
    assert!(served(public, flooder).await, "the places were not given back");
    running.stop().await;
}

/// Whether a request from `from` is answered within two seconds.
async fn served_quickly(server: SocketAddr, from: IpAddr) -> bool {
    let http = Client::builder().local_address(from).timeout(Duration::from_secs(2)).build().unwrap();
    matches!(http.get(format!("http://{server}/health/alive")).send().await, Ok(r) if r.status() == StatusCode::OK)
}
