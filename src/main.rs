//! The `waterdesk` command: serve, migrate, user administration, audit verification,
//! configuration check.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use waterdesk::config::{Settings, default_data_dir};
use waterdesk::start::{StartOptions, open_db, services, start};
use waterdesk_services::admin::NewUserInput;
use waterdesk_services::audit::AuditCtx;
use waterdesk_services::{Principal, SystemClock};

#[derive(Parser)]
#[command(
    name = "waterdesk",
    version,
    about = "Customer service information system for water utilities (DB33/T 2050-2017)"
)]
struct Cli {
    /// Directory for the SQLite file, attachments and indexes.
    #[arg(long, global = true, env = "WATERDESK_DATA_DIR", default_value_os_t = default_data_dir())]
    data_dir: PathBuf,
    /// Configuration file (default: `<data-dir>/waterdesk.toml` if present).
    #[arg(long, global = true, env = "WATERDESK_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve {
        /// On an empty database, create a demo utility with one user per role.
        #[arg(long)]
        demo: bool,
        /// Listen address (overrides `server.bind`).
        #[arg(long)]
        bind: Option<String>,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Audit log tools.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Generate realistic sample data at scale (customers, accounts, meters, readings, bills, payments).
    Seed {
        /// How many customers (each with one account and meter).
        #[arg(long, default_value_t = 1000)]
        customers: i64,
        /// Months of readings and bills per account.
        #[arg(long, default_value_t = 24)]
        months: i64,
        /// Random seed: the same seed gives the same data.
        #[arg(long, default_value_t = 2050)]
        seed: u64,
        /// Work orders with their whole history (and their contacts), over the last `--months`.
        #[arg(long, default_value_t = 0)]
        orders: i64,
        /// Contacts without an order (answered consultations, help, suggestions, praise).
        #[arg(long, default_value_t = 0)]
        contacts: i64,
    },
    /// Rebuild the customer search index and write the search keys of older work orders
    /// (after an upgrade or a bulk load by SQL).
    Reindex,
    /// Configuration tools.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user (prints the generated password unless --password is given).
    Create {
        #[arg(long)]
        username: String,
        #[arg(long)]
        name: Option<String>,
        /// Role codes, comma-separated (e.g. `admin` or `agent,supervisor`).
        #[arg(long, default_value = "admin")]
        roles: String,
        /// Unit code (default: the root unit).
        #[arg(long, default_value = "root")]
        unit: String,
        #[arg(long, env = "WATERDESK_NEW_PASSWORD", hide_env_values = true)]
        password: Option<String>,
    },
    /// Set a new password (generated unless given); the user must change it at sign-in.
    ResetPassword {
        #[arg(long)]
        username: String,
        #[arg(long, env = "WATERDESK_NEW_PASSWORD", hide_env_values = true)]
        password: Option<String>,
    },
    /// Clear a lockout after failed sign-ins.
    Unlock {
        #[arg(long)]
        username: String,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the hash chain of the whole audit log; exits 1 if it was tampered with.
    Verify,
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Show the effective configuration and check the database connection.
    Check,
}

fn init_tracing(s: &Settings) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUST_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&s.log.level));
    let b = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = if s.log.format == "json" { b.json().try_init() } else { b.try_init() };
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn user_id(svc: &waterdesk_services::Services, username: &str) -> anyhow::Result<i64> {
    let mut c = svc.db.read().await?;
    let u = waterdesk_store::users::get_by_username(&mut c, &username.trim().to_ascii_lowercase()).await?;
    u.map(|u| u.id).ok_or_else(|| anyhow::anyhow!("no user `{username}`"))
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let mut settings = Settings::load(cli.config.as_deref(), &cli.data_dir)?;
    init_tracing(&settings);
    let clock = Arc::new(SystemClock);
    match cli.command {
        Command::Serve { demo, bind } => {
            if let Some(b) = bind {
                b.parse::<std::net::SocketAddr>().map_err(|e| anyhow::anyhow!("--bind `{b}`: {e}"))?;
                settings.server.bind = b;
            }
            let running = start(StartOptions {
                settings: settings.clone(),
                data_dir: cli.data_dir.clone(),
                demo,
                clock,
                listener: None,
            })
            .await?;
            let url = format!("http://{}", running.addr);
            println!("waterdesk is running at {url}  (API docs: {url}/api/docs)");
            println!("database: {}", running.services.db.url_redacted());
            if let Some((u, p)) = &running.report.initial_admin {
                println!(
                    "\nFirst start: administrator `{u}` with password `{p}` (shown once; change it at first sign-in)."
                );
            }
            if !running.report.demo_logins.is_empty() {
                println!("\nDemo logins (shown once, also in {}):", cli.data_dir.join("demo-logins.txt").display());
                for (u, p, r) in &running.report.demo_logins {
                    println!("  {u:<12} {p:<18} {r}");
                }
                // A year of history, so that statistics and the dashboard show something.
                let (h, example) = running.services.seed_demo_history().await?;
                println!(
                    "\nDemo history: {} orders and {} contacts over the last 12 months ({:.1} s).",
                    h.orders, h.contacts, h.seconds
                );
                println!("  supervisor dashboard: {url}/dashboard  (sign in as `supervisor`)");
                match example {
                    Some((no, last4)) => {
                        println!("  progress look-up:     {url}/progress  (no sign-in; try {no} with {last4})")
                    }
                    None => println!("  progress look-up:     {url}/progress  (no sign-in)"),
                }
            } else if demo && cli.data_dir.join("demo-logins.txt").exists() {
                println!("\nDemo logins: see {}", cli.data_dir.join("demo-logins.txt").display());
            }
            let tx = running.shutdown_sender();
            tokio::spawn(async move {
                let ctrl_c = tokio::signal::ctrl_c();
                #[cfg(unix)]
                {
                    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                        .expect("SIGTERM handler");
                    tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
                }
                #[cfg(not(unix))]
                let _ = ctrl_c.await;
                tracing::info!("shutting down");
                let _ = tx.send(true);
            });
            running.wait().await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate => {
            let db = Db::connect_for_cli(&settings, &cli.data_dir).await?;
            let r = waterdesk_store::migrate::run(&db).await?;
            println!("migrations applied: {:?}; already applied: {}", r.applied, r.already);
            Ok(ExitCode::SUCCESS)
        }
        Command::User { command } => {
            let db = open_db(&settings, &cli.data_dir).await?;
            let svc = services(db, &settings, clock)?;
            svc.bootstrap(waterdesk_services::bootstrap::FirstUsers::None).await?;
            let sys = Principal::system();
            match command {
                UserCommand::Create { username, name, roles, unit, password } => {
                    let unit_id = {
                        let mut c = svc.db.read().await?;
                        waterdesk_store::units::get_by_code(&mut c, &unit)
                            .await?
                            .ok_or_else(|| anyhow::anyhow!("no unit with code `{unit}`"))?
                            .id
                    };
                    let input = NewUserInput {
                        display_name: name.unwrap_or_else(|| username.clone()),
                        username,
                        unit_id,
                        kind: "staff".into(),
                        data_scope: "all".into(),
                        phone: String::new(),
                        email: String::new(),
                        password,
                        roles: roles.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect(),
                    };
                    let (u, pw) =
                        svc.user_create(&sys, &input, &AuditCtx::cli("user create")).await.map_err(cli_error)?;
                    println!("created user `{}` (id {}) with roles {:?}", u.user.username, u.user.id, u.roles);
                    if let Some(pw) = pw {
                        println!("initial password: {pw}");
                    }
                }
                UserCommand::ResetPassword { username, password } => {
                    let id = user_id(&svc, &username).await?;
                    let pw = svc
                        .user_reset_password(&sys, id, password.as_deref(), &AuditCtx::cli("user reset-password"))
                        .await
                        .map_err(cli_error)?;
                    println!("password of `{username}` reset; new password: {pw}");
                }
                UserCommand::Unlock { username } => {
                    let id = user_id(&svc, &username).await?;
                    svc.user_unlock(&sys, id, &AuditCtx::cli("user unlock")).await.map_err(cli_error)?;
                    println!("`{username}` unlocked");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Seed { customers, months, seed, orders, contacts } => {
            if !(0..=10_000_000).contains(&customers)
                || !(1..=120).contains(&months)
                || !(0..=50_000_000).contains(&orders)
                || !(0..=50_000_000).contains(&contacts)
            {
                anyhow::bail!(
                    "--customers must be 0..=10000000, --orders and --contacts 0..=50000000, --months 1..=120"
                );
            }
            let db = open_db(&settings, &cli.data_dir).await?;
            let svc = services(db, &settings, clock)?;
            svc.bootstrap(waterdesk_services::bootstrap::FirstUsers::None).await?;
            let started = std::time::Instant::now();
            let opts = waterdesk_services::seed::SeedOptions { customers, months, seed, ..Default::default() };
            let mut last_print = 0.0;
            let r = svc
                .seed_customers(&opts, |done, total| {
                    let secs = started.elapsed().as_secs_f64();
                    if secs - last_print >= 2.0 || done == total {
                        last_print = secs;
                        eprintln!("  {done}/{total} customers ({:.0}/s)", done as f64 / secs.max(0.001));
                    }
                })
                .await
                .map_err(cli_error)?;
            if customers > 0 {
                println!(
                    "seeded {} customers, {} readings and bills, {} payments in {:.1} s ({:.0} customers/s)",
                    r.customers,
                    r.bills,
                    r.payments,
                    r.seconds,
                    r.customers as f64 / r.seconds.max(0.001)
                );
            }
            if orders > 0 || contacts > 0 {
                let started = std::time::Instant::now();
                let opts =
                    waterdesk_services::seed_work::WorkSeedOptions { orders, contacts, months, seed, batch: 2000 };
                let mut last_print = 0.0;
                let w = svc
                    .seed_work(&opts, |done, total| {
                        let secs = started.elapsed().as_secs_f64();
                        if secs - last_print >= 2.0 || done == total {
                            last_print = secs;
                            eprintln!("  {done}/{total} orders and contacts ({:.0}/s)", done as f64 / secs.max(0.001));
                        }
                    })
                    .await
                    .map_err(cli_error)?;
                println!(
                    "seeded {} orders ({} open, {} overdue) with {} events, {} contacts in {:.1} s",
                    w.orders, w.open, w.overdue, w.events, w.contacts, w.seconds
                );
                // The settled orders' indicator facts, so that reports sum them at once
                // (the server's refresher would otherwise do it in the background).
                let started = std::time::Instant::now();
                let mut facts = 0;
                loop {
                    let n = svc.refresh_facts(20_000).await.map_err(cli_error)?;
                    facts += n;
                    if n < 20_000 {
                        break;
                    }
                    eprintln!(
                        "  {facts} settled orders' indicator facts ({:.0}/s)",
                        facts as f64 / started.elapsed().as_secs_f64().max(0.001)
                    );
                }
                println!(
                    "stored the indicator facts of {facts} more orders in {:.1} s",
                    started.elapsed().as_secs_f64()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Reindex => {
            let db = open_db(&settings, &cli.data_dir).await?;
            let svc = services(db, &settings, clock)?;
            let started = std::time::Instant::now();
            let mut last = 0.0;
            let n = svc
                .reindex_customers(|done| {
                    let secs = started.elapsed().as_secs_f64();
                    if secs - last >= 2.0 {
                        last = secs;
                        eprintln!("  {done} customers ({:.0}/s)", done as f64 / secs.max(0.001));
                    }
                })
                .await
                .map_err(cli_error)?;
            println!("search index rebuilt for {n} customers in {:.1} s", started.elapsed().as_secs_f64());
            let started = std::time::Instant::now();
            let n = svc.backfill_order_text(i64::MAX).await.map_err(cli_error)?;
            println!("search keys written for {n} older work orders in {:.1} s", started.elapsed().as_secs_f64());
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit { command: AuditCommand::Verify } => {
            let db = open_db(&settings, &cli.data_dir).await?;
            let svc = services(db, &settings, clock)?;
            let r = svc.audit_verify().await.map_err(cli_error)?;
            if r.problems.is_empty() {
                println!("audit log intact: {} entries verified", r.checked);
                Ok(ExitCode::SUCCESS)
            } else {
                println!("AUDIT LOG TAMPERED: {} problem(s) in {} entries", r.problems.len(), r.checked);
                for p in &r.problems {
                    println!("  - {p}");
                }
                Ok(ExitCode::from(1))
            }
        }
        Command::Config { command: ConfigCommand::Check } => {
            println!("data directory: {}", cli.data_dir.display());
            println!("database: {}", waterdesk_store::db::redact_url(&settings.database_url(&cli.data_dir)));
            println!("bind: {}", settings.server.bind);
            println!("security profile: {}", settings.security_profile);
            println!("auth: {:?}", settings.auth_config());
            println!("timezone: {}", settings.timezone);
            let db = Db::connect_for_cli(&settings, &cli.data_dir).await?;
            db.ping().await?;
            println!("database connection: ok ({})", db.backend().name());
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn cli_error(e: waterdesk_services::ServiceError) -> anyhow::Error {
    match e {
        waterdesk_services::ServiceError::Validation { field, detail, .. } => anyhow::anyhow!("{field}: {detail}"),
        other => anyhow::anyhow!("{other}"),
    }
}

use waterdesk_store::Db;

trait ConnectForCli {
    async fn connect_for_cli(settings: &Settings, data_dir: &std::path::Path) -> anyhow::Result<Db>;
}

impl ConnectForCli for Db {
    async fn connect_for_cli(settings: &Settings, data_dir: &std::path::Path) -> anyhow::Result<Db> {
        let url = settings.database_url(data_dir);
        Ok(Db::connect(&url, &waterdesk_store::DbOptions { max_connections: 2, ..Default::default() }).await?)
    }
}
