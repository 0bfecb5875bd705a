//! The `waterdesk` command line: start-up errors, user administration, audit verify.

use std::process::Command;

fn waterdesk(data_dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_waterdesk"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("WATERDESK_DATABASE_URL")
        .env("RUST_LOG", "error")
        .output()
        .expect("run waterdesk")
}

fn text(o: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn user_admin_and_audit_verify_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let o = waterdesk(dir.path(), &["migrate"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = waterdesk(dir.path(), &["user", "create", "--username", "ops", "--roles", "admin"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("initial password:"));
    let o = waterdesk(dir.path(), &["user", "create", "--username", "ops", "--roles", "admin"]);
    assert!(!o.status.success());
    assert!(text(&o).contains("already exists"), "{}", text(&o));
    let o = waterdesk(dir.path(), &["user", "create", "--username", "x!", "--roles", "admin"]);
    assert!(!o.status.success() && text(&o).contains("username"), "{}", text(&o));
    let o = waterdesk(dir.path(), &["user", "reset-password", "--username", "ops"]);
    assert!(o.status.success() && text(&o).contains("new password"), "{}", text(&o));
    let o = waterdesk(dir.path(), &["user", "unlock", "--username", "nobody"]);
    assert!(!o.status.success() && text(&o).contains("no user"), "{}", text(&o));
    let o = waterdesk(dir.path(), &["user", "unlock", "--username", "ops"]);
    assert!(o.status.success(), "{}", text(&o));

    let o = waterdesk(dir.path(), &["user", "reset-password", "--username", "admin"]);
    assert!(!o.status.success(), "the CLI creates no hidden administrator: {}", text(&o));

    let o = waterdesk(dir.path(), &["audit", "verify"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("audit log intact"));

    // Tamper with the file directly, as an intruder with database access would.
    let db = dir.path().join("waterdesk.db");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        use sqlx::Connection;
        let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display())).await.unwrap();
        sqlx::query("UPDATE audit_log SET ip = '10.0.0.1' WHERE seq = 2").execute(&mut c).await.unwrap();
    });
    let o = waterdesk(dir.path(), &["audit", "verify"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("TAMPERED"), "{}", text(&o));
}

#[test]
fn startup_problems_exit_cleanly_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_waterdesk"))
        .args(["--data-dir"])
        .arg(dir.path())
        .args(["config", "check"])
        .env("WATERDESK_DATABASE_URL", "mysql://root:topsecret@localhost/x")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let t = text(&o);
    assert!(t.contains("unsupported database URL") && !t.contains("topsecret") && !t.contains("panicked"), "{t}");

    let o = Command::new(env!("CARGO_BIN_EXE_waterdesk"))
        .arg("--data-dir")
        .arg(dir.path())
        .args(["migrate"])
        .env("WATERDESK_DATABASE_URL", "postgres://nobody:pw@127.0.0.1:1/none")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("cannot connect"), "{}", text(&o));

    std::fs::write(dir.path().join("waterdesk.toml"), "[server\nbind = ").unwrap();
    let o = waterdesk(dir.path(), &["config", "check"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("invalid configuration") && !text(&o).contains("panicked"), "{}", text(&o));

    std::fs::write(dir.path().join("waterdesk.toml"), "[server]\nbindd = \"x\"\n").unwrap();
    let o = waterdesk(dir.path(), &["config", "check"]);
    assert!(text(&o).contains("bindd"), "unknown keys are named: {}", text(&o));

    std::fs::write(dir.path().join("waterdesk.toml"), "security_profile = \"mlps3\"\n").unwrap();
    let o = waterdesk(dir.path(), &["config", "check"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("require_totp_for_admins: true"), "{}", text(&o));

    let o = waterdesk(dir.path(), &["serve", "--bind", "not-an-address"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("--bind"), "{}", text(&o));
}

/// `serve` on an empty database: prints the URL and a one-time administrator password that
/// works and must be changed; `serve --demo` writes the demo logins file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_prints_url_and_first_administrator() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_waterdesk"))
        .arg("--data-dir")
        .arg(dir.path())
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env_remove("WATERDESK_DATABASE_URL")
        .env("RUST_LOG", "error")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let lines = tokio::task::spawn_blocking(move || {
        let mut url = None;
        let mut password = None;
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix("waterdesk is running at ") {
                url = rest.split_whitespace().next().map(str::to_string);
            }
            if line.contains("First start: administrator `admin` with password `") {
                password = line.split('`').nth(3).map(str::to_string);
            }
            if url.is_some() && password.is_some() {
                break;
            }
        }
        (url, password)
    });
    let (url, password) =
        tokio::time::timeout(std::time::Duration::from_secs(30), lines).await.expect("server output").unwrap();
    let (url, password) = (url.expect("URL printed"), password.expect("password printed"));
    let r: serde_json::Value = reqwest::Client::new()
        .post(format!("{url}/api/v1/auth/login"))
        .json(&serde_json::json!({"username": "admin", "password": password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = r["token"].as_str().expect("administrator can sign in").to_string();
    let me: serde_json::Value = reqwest::Client::new()
        .get(format!("{url}/api/v1/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["must_change_password"], true);
    let _ = child.kill();
    let _ = child.wait();
}
