//! Custom reports (R-DATA-03/04): saved definitions, who may see them, their schedules, and
//! the scheduled runs — unique per report and schedule period, so a period is delivered
//! once whatever the number of scheduler rounds, replicas or restarts.

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::{StoreResult, flag, t, ts, ts_opt};

/// A report as stored; `definition` is JSON checked by the services.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub id: i64,
    pub owner_id: i64,
    pub owner_name: String,
    pub unit_id: i64,
    pub name: String,
    pub definition: String,
    pub shared: bool,
    pub every: String,
    pub day: i64,
    pub at_time: String,
    pub recipients: String,
    pub next_run_at: Option<jiff::Timestamp>,
    pub created_at: jiff::Timestamp,
    pub updated_at: jiff::Timestamp,
}

const COLS: &str = "r.id, r.owner_id, COALESCE(u.display_name, '') AS owner_name, r.unit_id, r.name, r.definition, \
    r.shared, r.every, r.day, r.at_time, r.recipients, r.next_run_at, r.created_at, r.updated_at";
const FROM: &str = "FROM reports r LEFT JOIN users u ON u.id = r.owner_id";

fn report(r: &AnyRow) -> StoreResult<Report> {
    Ok(Report {
        id: r.try_get("id")?,
        owner_id: r.try_get("owner_id")?,
        owner_name: r.try_get("owner_name")?,
        unit_id: r.try_get("unit_id")?,
        name: r.try_get("name")?,
        definition: r.try_get("definition")?,
        shared: flag(r, "shared")?,
        every: r.try_get("every")?,
        day: r.try_get("day")?,
        at_time: r.try_get("at_time")?,
        recipients: r.try_get("recipients")?,
        next_run_at: ts_opt(r, "next_run_at")?,
        created_at: ts(r, "created_at")?,
        updated_at: ts(r, "updated_at")?,
    })
}

/// What a report is made of (checked by the services).
#[derive(Debug, Clone)]
pub struct ReportFields<'a> {
    pub name: &'a str,
    pub definition: &'a str,
    pub shared: bool,
    pub every: &'a str,
    pub day: i64,
    pub at_time: &'a str,
    pub recipients: &'a str,
    pub next_run_at: Option<jiff::Timestamp>,
}

/// Inserts a report owned by `owner_id` in `unit_id`.
pub async fn insert(
    conn: &mut AnyConnection,
    owner_id: i64,
    unit_id: i64,
    f: &ReportFields<'_>,
    now: jiff::Timestamp,
) -> StoreResult<i64> {
    let row = sqlx::query(
        "INSERT INTO reports (owner_id, unit_id, name, definition, shared, every, day, at_time, recipients,
            next_run_at, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) RETURNING id",
    )
    .bind(owner_id)
    .bind(unit_id)
    .bind(f.name)
    .bind(f.definition)
    .bind(i64::from(f.shared))
    .bind(f.every)
    .bind(f.day)
    .bind(f.at_time)
    .bind(f.recipients)
    .bind(f.next_run_at.map(t))
    .bind(t(now))
    .fetch_one(conn)
    .await?;
    Ok(row.try_get("id")?)
}

/// Replaces a report's definition, sharing and schedule; `false`: no such report.
pub async fn update(
    conn: &mut AnyConnection,
    id: i64,
    f: &ReportFields<'_>,
    now: jiff::Timestamp,
) -> StoreResult<bool> {
    let r = sqlx::query(
        "UPDATE reports SET name = $1, definition = $2, shared = $3, every = $4, day = $5, at_time = $6,
            recipients = $7, next_run_at = $8, updated_at = $9 WHERE id = $10",
    )
    .bind(f.name)
    .bind(f.definition)
    .bind(i64::from(f.shared))
    .bind(f.every)
    .bind(f.day)
    .bind(f.at_time)
    .bind(f.recipients)
    .bind(f.next_run_at.map(t))
    .bind(t(now))
    .bind(id)
    .execute(conn)
    .await?;
    Ok(r.rows_affected() > 0)
}

/// Deletes a report and its runs; `false`: no such report.
pub async fn delete(conn: &mut AnyConnection, id: i64) -> StoreResult<bool> {
    sqlx::query("DELETE FROM report_runs WHERE report_id = $1").bind(id).execute(&mut *conn).await?;
    let r = sqlx::query("DELETE FROM reports WHERE id = $1").bind(id).execute(conn).await?;
    Ok(r.rows_affected() > 0)
}

pub async fn get(conn: &mut AnyConnection, id: i64) -> StoreResult<Option<Report>> {
    static SQL: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| format!("SELECT {COLS} {FROM} WHERE r.id = $1"));
    let row = sqlx::query(SQL.as_str()).bind(id).fetch_optional(conn).await?;
    row.as_ref().map(report).transpose()
}

/// The reports a user sees: their own, and those shared with their unit; by name.
pub async fn visible(conn: &mut AnyConnection, user_id: i64, unit_id: i64) -> StoreResult<Vec<Report>> {
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!("SELECT {COLS} {FROM} WHERE r.owner_id = $1 OR (r.shared = 1 AND r.unit_id = $2) ORDER BY r.name, r.id")
    });
    let rows = sqlx::query(SQL.as_str()).bind(user_id).bind(unit_id).fetch_all(conn).await?;
    rows.iter().map(report).collect()
}

/// Scheduled reports whose next delivery is due at `now`.
pub async fn due(conn: &mut AnyConnection, now: jiff::Timestamp, limit: i64) -> StoreResult<Vec<Report>> {
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "SELECT {COLS} {FROM} WHERE r.next_run_at IS NOT NULL AND r.next_run_at <= $1 ORDER BY r.next_run_at, r.id LIMIT $2"
        )
    });
    let rows = sqlx::query(SQL.as_str()).bind(t(now)).bind(limit).fetch_all(conn).await?;
    rows.iter().map(report).collect()
}

/// Moves a report's next delivery (the scheduler, after claiming the current period).
pub async fn set_next_run(conn: &mut AnyConnection, id: i64, next: Option<jiff::Timestamp>) -> StoreResult<()> {
    sqlx::query("UPDATE reports SET next_run_at = $1 WHERE id = $2").bind(next.map(t)).bind(id).execute(conn).await?;
    Ok(())
}

/// A scheduled delivery.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReportRun {
    pub id: i64,
    pub report_id: i64,
    /// The schedule period: `2026-11-29`, `2026-W48` or `2026-11`.
    pub period_key: String,
    pub period_start: jiff::Timestamp,
    /// The cohort reported on, `[cohort_from, cohort_to)`, evaluated as of `due_at`.
    pub cohort_from: jiff::Timestamp,
    pub cohort_to: jiff::Timestamp,
    pub due_at: jiff::Timestamp,
    /// `pending`, `sent`, `failed` (retried) or `skipped`.
    pub status: String,
    /// Rows of the report (groups, without the totals row).
    pub rows: i64,
    pub attempts: i64,
    pub error: String,
    pub sent_at: Option<jiff::Timestamp>,
    pub created_at: jiff::Timestamp,
}

const RUN_COLS: &str = "id, report_id, period_key, period_start, cohort_from, cohort_to, due_at, status, rows_count, \
    attempts, error, sent_at, created_at";

fn run(r: &AnyRow) -> StoreResult<ReportRun> {
    Ok(ReportRun {
        id: r.try_get("id")?,
        report_id: r.try_get("report_id")?,
        period_key: r.try_get("period_key")?,
        period_start: ts(r, "period_start")?,
        cohort_from: ts(r, "cohort_from")?,
        cohort_to: ts(r, "cohort_to")?,
        due_at: ts(r, "due_at")?,
        status: r.try_get("status")?,
        rows: r.try_get("rows_count")?,
        attempts: r.try_get("attempts")?,
        error: r.try_get("error")?,
        sent_at: ts_opt(r, "sent_at")?,
        created_at: ts(r, "created_at")?,
    })
}

/// A run to claim.
#[derive(Debug, Clone)]
pub struct NewRun<'a> {
    pub report_id: i64,
    pub period_key: &'a str,
    pub period_start: jiff::Timestamp,
    pub cohort: (jiff::Timestamp, jiff::Timestamp),
    pub due_at: jiff::Timestamp,
}

/// Claims a period's run; `None` when it was claimed before (by this or another scheduler).
pub async fn claim_run(conn: &mut AnyConnection, n: &NewRun<'_>, now: jiff::Timestamp) -> StoreResult<Option<i64>> {
    let row = sqlx::query(
        "INSERT INTO report_runs (report_id, period_key, period_start, cohort_from, cohort_to, due_at, status,
            created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $7)
         ON CONFLICT (report_id, period_start) DO NOTHING RETURNING id",
    )
    .bind(n.report_id)
    .bind(n.period_key)
    .bind(t(n.period_start))
    .bind(t(n.cohort.0))
    .bind(t(n.cohort.1))
    .bind(t(n.due_at))
    .bind(t(now))
    .fetch_optional(conn)
    .await?;
    row.map(|r| r.try_get("id")).transpose().map_err(Into::into)
}

pub async fn get_run(conn: &mut AnyConnection, id: i64) -> StoreResult<Option<ReportRun>> {
    static SQL: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| format!("SELECT {RUN_COLS} FROM report_runs WHERE id = $1"));
    let row = sqlx::query(SQL.as_str()).bind(id).fetch_optional(conn).await?;
    row.as_ref().map(run).transpose()
}

/// Records an attempt's outcome: `sent` (with `sent_at`), `failed` or `skipped`.
pub async fn finish_run(
    conn: &mut AnyConnection,
    id: i64,
    status: &str,
    rows: i64,
    error: &str,
    now: jiff::Timestamp,
) -> StoreResult<()> {
    let sent_at = (status == "sent").then(|| t(now));
    sqlx::query(
        "UPDATE report_runs SET status = $1, rows_count = $2, error = $3, attempts = attempts + 1,
            sent_at = COALESCE($4, sent_at), updated_at = $5 WHERE id = $6",
    )
    .bind(status)
    .bind(rows)
    .bind(error)
    .bind(sent_at)
    .bind(t(now))
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// A report's latest runs, newest first.
pub async fn runs(conn: &mut AnyConnection, report_id: i64, limit: i64) -> StoreResult<Vec<ReportRun>> {
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!("SELECT {RUN_COLS} FROM report_runs WHERE report_id = $1 ORDER BY period_start DESC, id DESC LIMIT $2")
    });
    let rows = sqlx::query(SQL.as_str()).bind(report_id).bind(limit).fetch_all(conn).await?;
    rows.iter().map(run).collect()
}
