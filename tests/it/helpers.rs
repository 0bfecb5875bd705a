//! `TestApp`: starts waterdesk on port 0 with a fresh database and a controllable clock.

use std::collections::HashMap;
use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::Value;
use tokio::sync::OnceCell;
use waterdesk::config::Settings;
use waterdesk::start::{Running, StartOptions, start};
use waterdesk_services::{ManualClock, Services};

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs an async test body on SQLite, and as a second test on PostgreSQL.
#[macro_export]
macro_rules! backend_test {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let f = $body;
                f($crate::helpers::Backend::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if !$crate::helpers::postgres_enabled() {
                    $crate::helpers::skip(&format!(
                        "{}::postgres: WATERDESK_TEST_POSTGRES_URL is not set",
                        module_path!()
                    ));
                    return;
                }
                let f = $body;
                f($crate::helpers::Backend::Postgres).await;
            }
        }
    };
}

/// Reports a skipped test on the real stderr (libtest captures `eprintln!`), so that a
/// skip is visible in the output of `cargo test`.
pub fn skip(what: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED {what}");
}

pub fn postgres_enabled() -> bool {
    std::env::var("WATERDESK_TEST_POSTGRES_URL").is_ok_and(|u| !u.is_empty())
}

static PG_CLEANUP: OnceCell<()> = OnceCell::const_new();

/// Creates a fresh PostgreSQL database and returns its URL.
pub async fn fresh_postgres() -> String {
    use sqlx::Connection;
    let base = std::env::var("WATERDESK_TEST_POSTGRES_URL").expect("WATERDESK_TEST_POSTGRES_URL");
    let mut admin = sqlx::PgConnection::connect(&base).await.expect("connect to WATERDESK_TEST_POSTGRES_URL");
    PG_CLEANUP
        .get_or_init(|| async {
            // Databases left by earlier runs (a failed test does not drop its own).
            let mut c = sqlx::PgConnection::connect(&base).await.expect("connect");
            let rows: Vec<(String,)> = sqlx::query_as("SELECT datname FROM pg_database WHERE datname LIKE 'wd_test_%'")
                .fetch_all(&mut c)
                .await
                .unwrap_or_default();
            for (name,) in rows {
                let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")))
                    .execute(&mut c)
                    .await;
            }
        })
        .await;
    let name = format!("wd_test_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&mut admin)
        .await
        .expect("create database");
    replace_db_name(&base, &name)
}

fn replace_db_name(url: &str, name: &str) -> String {
    let (head, query) = url.split_once('?').map(|(h, q)| (h, Some(q))).unwrap_or((url, None));
    let base = match head.rfind('/') {
        Some(i) if i > head.find("://").map(|j| j + 2).unwrap_or(0) => &head[..i],
        _ => head,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

pub struct TestApp {
    pub base: String,
    pub running: Option<Running>,
    pub clock: Arc<ManualClock>,
    /// Kept alive for the lifetime of the app (the SQLite file lives here).
    pub _data_dir: tempfile::TempDir,
    pub logins: HashMap<String, String>,
    pub database_url: String,
}

impl TestApp {
    /// A demo installation (one user per role) on the given backend.
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, |_| {}).await
    }

    pub async fn spawn_with(backend: Backend, tweak: impl FnOnce(&mut Settings)) -> TestApp {
        let data_dir = tempfile::tempdir().expect("tempdir");
        let mut settings = Settings::default();
        settings.jobs.poll_ms = 50;
        settings.log.level = "warn".into();
        let database_url = match backend {
            Backend::Sqlite => format!("sqlite://{}", data_dir.path().join("waterdesk.db").display()),
            Backend::Postgres => fresh_postgres().await,
        };
        settings.database.url = Some(database_url.clone());
        settings.database.max_connections = 8;
        tweak(&mut settings);
        let clock = Arc::new(ManualClock::new(jiff::Timestamp::now()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let running = start(StartOptions {
            settings,
            data_dir: data_dir.path().to_path_buf(),
            demo: true,
            clock: clock.clone(),
            listener: Some(listener),
        })
        .await
        .expect("start waterdesk");
        let logins = running.report.demo_logins.iter().map(|(u, p, _)| (u.clone(), p.clone())).collect();
        TestApp {
            base: format!("http://{}", running.addr),
            running: Some(running),
            clock,
            _data_dir: data_dir,
            logins,
            database_url,
        }
    }

    pub fn services(&self) -> &Services {
        &self.running.as_ref().expect("running").services
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn password(&self, user: &str) -> String {
        self.logins.get(user).cloned().unwrap_or_else(|| panic!("no demo user {user}"))
    }

    /// A client without cookies or redirects.
    pub fn client() -> reqwest::Client {
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client")
    }

    /// Signs in through the API and returns a bearer token.
    pub async fn token(&self, user: &str) -> String {
        let r = Self::client()
            .post(self.url("/api/v1/auth/login"))
            .json(&serde_json::json!({"username": user, "password": self.password(user)}))
            .send()
            .await
            .expect("login");
        assert_eq!(r.status(), StatusCode::OK, "login of {user}");
        let v: Value = r.json().await.expect("json");
        v["token"].as_str().expect("token").to_string()
    }

    /// An API client for a demo user.
    pub async fn api(&self, user: &str) -> Api {
        Api { base: self.base.clone(), token: Some(self.token(user).await), client: Self::client() }
    }

    /// An API client without credentials.
    pub fn anon(&self) -> Api {
        Api { base: self.base.clone(), token: None, client: Self::client() }
    }

    /// Stops the server and starts it again on the same database, data directory and clock
    /// (what survives a restart is what is in the database).
    pub async fn restart(&mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await.expect("stop");
        }
        let mut settings = Settings::default();
        settings.jobs.poll_ms = 50;
        settings.log.level = "warn".into();
        settings.database.url = Some(self.database_url.clone());
        settings.database.max_connections = 8;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let running = start(StartOptions {
            settings,
            data_dir: self._data_dir.path().to_path_buf(),
            demo: true,
            clock: self.clock.clone(),
            listener: Some(listener),
        })
        .await
        .expect("restart waterdesk");
        self.base = format!("http://{}", running.addr);
        self.running = Some(running);
    }

    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await.expect("stop");
        }
    }
}

/// A small JSON API client.
pub struct Api {
    pub base: String,
    pub token: Option<String>,
    pub client: reqwest::Client,
}

/// Status and parsed body of a response.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub body: Value,
}

impl Resp {
    /// The stable error code of an error response.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

impl Api {
    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Resp {
        let mut rb = self.client.request(method, format!("{}{}", self.base, path));
        if let Some(t) = &self.token {
            rb = rb.bearer_auth(t);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let r = rb.send().await.expect("request");
        let status = r.status();
        let text = r.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Resp { status, body }
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.call(reqwest::Method::GET, path, None).await
    }

    /// Posts raw bytes with a content type (uploads).
    pub async fn upload(&self, path: &str, content_type: &str, bytes: Vec<u8>) -> Resp {
        let mut rb =
            self.client.post(format!("{}{}", self.base, path)).header("content-type", content_type).body(bytes);
        if let Some(t) = &self.token {
            rb = rb.bearer_auth(t);
        }
        let r = rb.send().await.expect("upload");
        let status = r.status();
        let text = r.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Resp { status, body }
    }

    /// Raw bytes and content type of a GET.
    pub async fn bytes(&self, path: &str) -> (reqwest::StatusCode, String, Vec<u8>) {
        let mut rb = self.client.get(format!("{}{}", self.base, path));
        if let Some(t) = &self.token {
            rb = rb.bearer_auth(t);
        }
        let r = rb.send().await.expect("get");
        let ct = r.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        (r.status(), ct, r.bytes().await.map(|b| b.to_vec()).unwrap_or_default())
    }

    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Resp {
        self.call(reqwest::Method::PUT, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.call(reqwest::Method::DELETE, path, None).await
    }
}

#[test]
fn replaces_database_name() {
    assert_eq!(replace_db_name("postgres://u@h:5432/test", "x"), "postgres://u@h:5432/x");
    assert_eq!(replace_db_name("postgres://u@h/test?sslmode=disable", "x"), "postgres://u@h/x?sslmode=disable");
}

/// A browser-like client: cookie jar, form posts, CSRF token taken from the pages.
pub struct Web {
    pub base: String,
    pub client: reqwest::Client,
    pub csrf: String,
}

/// The value of `name="…" value="…"` or `content="…"` after `marker` in an HTML page.
pub fn attr_after(html: &str, marker: &str, attr: &str) -> Option<String> {
    let i = html.find(marker)?;
    let rest = &html[i..];
    let j = rest.find(&format!("{attr}=\""))? + attr.len() + 2;
    let end = rest[j..].find('"')?;
    Some(rest[j..j + end].to_string())
}

impl Web {
    pub fn new(app: &TestApp) -> Web {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        Web { base: app.base.clone(), client, csrf: String::new() }
    }

    /// Signs in through the login form; returns the response of the form post.
    pub async fn login(&mut self, user: &str, password: &str) -> reqwest::Response {
        let page =
            self.client.get(format!("{}/login", self.base)).send().await.expect("login page").text().await.unwrap();
        let csrf = attr_after(&page, "name=\"_csrf\"", "value").expect("csrf on login page");
        let r = self
            .client
            .post(format!("{}/login", self.base))
            .form(&[("username", user), ("password", password), ("_csrf", &csrf), ("next", "/")])
            .send()
            .await
            .expect("login post");
        let to_totp = r.headers().get("location").is_some_and(|l| l.to_str().unwrap_or("").starts_with("/login/totp"));
        if r.status().is_redirection() && !to_totp {
            self.refresh_csrf().await;
        }
        r
    }

    /// Reads the session's CSRF token from the dashboard.
    pub async fn refresh_csrf(&mut self) {
        let page = self.client.get(format!("{}/", self.base)).send().await.unwrap().text().await.unwrap();
        if let Some(t) = attr_after(&page, "name=\"csrf-token\"", "content") {
            self.csrf = t;
        }
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(format!("{}{}", self.base, path)).send().await.expect("get")
    }

    /// Posts a form with the session's CSRF token.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let mut f: Vec<(&str, &str)> = fields.to_vec();
        f.push(("_csrf", &self.csrf));
        self.client.post(format!("{}{}", self.base, path)).form(&f).send().await.expect("post")
    }
}

impl TestApp {
    pub fn clock_now(&self) -> jiff::Timestamp {
        use waterdesk_services::Clock;
        self.clock.now()
    }
}

/// Reads a server-sent event stream until `want` appears (10 s at most).
pub async fn next_event(mut resp: reqwest::Response, want: &str) -> String {
    let mut buf = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while tokio::time::Instant::now() < deadline {
        match tokio::time::timeout(std::time::Duration::from_secs(10), resp.chunk()).await {
            Ok(Ok(Some(chunk))) => {
                buf.push_str(&String::from_utf8_lossy(&chunk));
                if buf.contains(want) {
                    return buf;
                }
            }
            _ => break,
        }
    }
    panic!("event {want} not received; got: {buf}");
}
