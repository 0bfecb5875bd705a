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
