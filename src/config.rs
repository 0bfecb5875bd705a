//! Typed settings: defaults → `waterdesk.toml` → `WATERDESK_…` environment variables.
//!
//! Nested keys use `__` in the environment (`WATERDESK_SERVER__BIND=0.0.0.0:8080`);
//! `WATERDESK_DATABASE_URL` is accepted as the short form of `database.url`. Unknown keys
//! are errors, so a typo does not silently fall back to a default. See
//! docs/CONFIGURATION.md for every key.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use waterdesk_services::AuthConfig;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    /// `standard` or `mlps3` (等保三级: stricter password, session, TOTP and
    /// separation-of-duties defaults). Values in `[auth]` still override the profile.
    pub security_profile: String,
    pub auth: Option<AuthConfig>,
    pub jobs: JobSettings,
    /// Where account balances come from: the built-in ledger or a billing system over HTTP.
    pub billing: waterdesk_services::billing_provider::BillingConfig,
    pub log: LogSettings,
    /// Telephone (CTI) integration.
    pub cti: CtiSettings,
    /// Where attachment bytes live: the data directory or S3-compatible object storage.
    pub attachments: AttachmentSettings,
    /// The SMTP relay scheduled reports are e-mailed through; empty `host`: no e-mail.
    pub smtp: waterdesk_services::mail::SmtpConfig,
    /// Time zone for local days (numbers, reports) and display.
    pub timezone: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    /// Address to listen on.
    pub bind: String,
    /// Largest request body in bytes.
    pub max_body_bytes: usize,
    /// Largest import file in bytes.
    pub max_import_bytes: usize,
    /// Largest attachment (video) in bytes; images are limited to 10 MiB.
    pub max_attachment_bytes: usize,
    /// Seconds before a request is answered with 408.
    pub request_timeout_secs: u64,
    /// Take client addresses from `X-Forwarded-For` (behind a trusted reverse proxy only).
    pub trust_forwarded_for: bool,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `sqlite://PATH` or `postgres://USER:PASSWORD@HOST/DB`; default: the SQLite file in the data directory.
    pub url: Option<String>,
    pub max_connections: u32,
    /// SQLite only: `full` (default: every commit survives a power cut) or `normal` (WAL
    /// still protects against crashes of the process; a power cut may lose the last
    /// commits; several times the write throughput on slow disks).
    pub sqlite_synchronous: String,
}

impl std::fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseSettings")
            .field("url", &self.url.as_deref().map(waterdesk_store::db::redact_url))
            .field("max_connections", &self.max_connections)
            .field("sqlite_synchronous", &self.sqlite_synchronous)
            .finish()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobSettings {
    /// Run the background worker in this process.
    pub enabled: bool,
    /// Milliseconds between polls of an empty queue.
    pub poll_ms: u64,
    /// Seconds between rounds of the escalation watcher (R-WO-05).
    pub sla_scan_secs: u64,
    /// First retry delay of a failed job in seconds; doubles per attempt, capped at an hour.
    pub backoff_secs: u64,
    /// Seconds between looks for newly settled orders whose indicator facts to store.
    pub facts_scan_secs: u64,
}

/// `[cti]`: the PBX signs each event with this shared secret (HMAC-SHA256); empty turns
/// the CTI endpoint off.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CtiSettings {
    pub secret: String,
}

impl std::fmt::Debug for CtiSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CtiSettings").field("secret", &if self.secret.is_empty() { "" } else { "***" }).finish()
    }
}

/// `[attachments]`: `store = "local"` keeps files under `<data-dir>/attachments`;
/// `store = "s3"` puts them in a bucket of an S3-compatible server (plain HTTP).
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AttachmentSettings {
    /// `local` or `s3`.
    pub store: String,
    /// `http://HOST:PORT` of the S3 API (path-style requests `{endpoint}/{bucket}/{key}`).
    pub s3_endpoint: String,
    pub s3_bucket: String,
    /// Signing region; self-hosted servers mostly accept the default.
    pub s3_region: String,
    pub s3_access_key: String,
    pub s3_secret_key: String,
}

impl Default for AttachmentSettings {
    fn default() -> Self {
        AttachmentSettings {
            store: "local".into(),
            s3_endpoint: String::new(),
            s3_bucket: String::new(),
            s3_region: "us-east-1".into(),
            s3_access_key: String::new(),
            s3_secret_key: String::new(),
        }
    }
}

impl std::fmt::Debug for AttachmentSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttachmentSettings")
            .field("store", &self.store)
            .field("s3_endpoint", &self.s3_endpoint)
            .field("s3_bucket", &self.s3_bucket)
            .field("s3_region", &self.s3_region)
            .field("s3_access_key", &self.s3_access_key)
            .field("s3_secret_key", &if self.s3_secret_key.is_empty() { "" } else { "***" })
            .finish()
    }
}

impl AttachmentSettings {
    /// The S3 settings when `store = "s3"`.
    pub fn s3(&self) -> Option<waterdesk_services::blob_s3::S3Config> {
        (self.store == "s3").then(|| waterdesk_services::blob_s3::S3Config {
            endpoint: self.s3_endpoint.trim().to_string(),
            bucket: self.s3_bucket.trim().to_string(),
            region: self.s3_region.trim().to_string(),
            access_key: self.s3_access_key.clone(),
            secret_key: self.s3_secret_key.clone(),
        })
    }

    fn validate(&self) -> anyhow::Result<()> {
        match self.store.as_str() {
            "local" => Ok(()),
            "s3" => self.s3().map_or(Ok(()), |c| c.validate().map_err(|e| anyhow::anyhow!(e))),
            other => anyhow::bail!("attachments.store must be `local` or `s3`, not `{other}`"),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    /// `tracing` filter, e.g. `info` or `waterdesk=debug,sqlx=warn`.
    pub level: String,
    /// `text` or `json`.
    pub format: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            server: ServerSettings::default(),
            database: DatabaseSettings::default(),
            security_profile: "standard".into(),
            auth: None,
            jobs: JobSettings::default(),
            billing: Default::default(),
            log: LogSettings::default(),
            cti: CtiSettings::default(),
            attachments: AttachmentSettings::default(),
            smtp: Default::default(),
            timezone: "Asia/Shanghai".into(),
        }
    }
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            bind: "127.0.0.1:8080".into(),
            max_body_bytes: 2 * 1024 * 1024,
            max_import_bytes: 100 * 1024 * 1024,
            max_attachment_bytes: 50 * 1024 * 1024,
            request_timeout_secs: 30,
            trust_forwarded_for: false,
        }
    }
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        DatabaseSettings { url: None, max_connections: 16, sqlite_synchronous: "full".into() }
    }
}

impl Default for JobSettings {
    fn default() -> Self {
        JobSettings { enabled: true, poll_ms: 500, sla_scan_secs: 15, backoff_secs: 5, facts_scan_secs: 30 }
    }
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings { level: "info,sqlx=warn".into(), format: "text".into() }
    }
}

/// Environment variables that belong to the command line, not to the settings.
const CLI_ENV: &[&str] = &["data_dir", "config", "new_password"];

impl Settings {
    /// Loads settings. `file` is read if given (it must then exist) or if
    /// `waterdesk.toml` exists in the data directory.
    pub fn load(file: Option<&Path>, data_dir: &Path) -> anyhow::Result<Settings> {
        let mut fig = Figment::from(Serialized::defaults(Settings::default()));
        match file {
            Some(f) => {
                if !f.exists() {
                    anyhow::bail!("configuration file {} does not exist", f.display());
                }
                fig = fig.merge(Toml::file(f));
            }
            None => {
                let f = data_dir.join("waterdesk.toml");
                if f.exists() {
                    fig = fig.merge(Toml::file(f));
                }
            }
        }
        fig = fig.merge(
            Env::prefixed("WATERDESK_")
                .ignore(CLI_ENV)
                // Test and benchmark harness variables (WATERDESK_TEST_…, WATERDESK_BENCH_…).
                .filter(|k| {
                    let k = k.as_str().to_ascii_lowercase();
                    !k.starts_with("test_") && !k.starts_with("bench_")
                })
                .map(|k| if k == "database_url" { "database.url".into() } else { k.into() })
                .split("__"),
        );
        let s: Settings = fig.extract().map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
        s.validate()?;
        Ok(s)
    }

    fn validate(&self) -> anyhow::Result<()> {
        if !matches!(self.database.sqlite_synchronous.as_str(), "full" | "normal") {
            anyhow::bail!("database.sqlite_synchronous must be `full` or `normal`");
        }
        if !matches!(self.security_profile.as_str(), "standard" | "mlps3") {
            anyhow::bail!("security_profile must be `standard` or `mlps3`, not `{}`", self.security_profile);
        }
        if !matches!(self.log.format.as_str(), "text" | "json") {
            anyhow::bail!("log.format must be `text` or `json`");
        }
        self.server
            .bind
            .parse::<std::net::SocketAddr>()
            .map_err(|e| anyhow::anyhow!("server.bind `{}`: {e}", self.server.bind))?;
        self.time_zone()?;
        self.billing.validate().map_err(|e| anyhow::anyhow!(e))?;
        self.attachments.validate()?;
        self.smtp.validate().map_err(|e| anyhow::anyhow!(e))?;
        let a = self.auth_config();
        if a.lockout_threshold < 1 || a.idle_timeout_minutes < 1 || a.session_max_hours < 1 || a.password_min_length < 6
        {
            anyhow::bail!(
                "auth: lockout_threshold, idle_timeout_minutes, session_max_hours must be ≥ 1 and password_min_length ≥ 6"
            );
        }
        Ok(())
    }

    /// The effective authentication policy: the profile's defaults, overridden by `[auth]`.
    pub fn auth_config(&self) -> AuthConfig {
        match (&self.auth, self.security_profile.as_str()) {
            (Some(a), _) => a.clone(),
            (None, "mlps3") => AuthConfig::mlps_level3(),
            (None, _) => AuthConfig::default(),
        }
    }

    pub fn time_zone(&self) -> anyhow::Result<jiff::tz::TimeZone> {
        jiff::tz::TimeZone::get(&self.timezone).map_err(|e| anyhow::anyhow!("timezone `{}`: {e}", self.timezone))
    }

    /// The database URL: configured, or the SQLite file in the data directory.
    pub fn database_url(&self, data_dir: &Path) -> String {
        match &self.database.url {
            Some(u) if !u.trim().is_empty() => u.trim().to_string(),
            _ => format!("sqlite://{}", data_dir.join("waterdesk.db").display()),
        }
    }
}

/// The data directory: SQLite file, demo logins, (later) attachments and indexes.
pub fn default_data_dir() -> PathBuf {
    PathBuf::from("data")
}
