//! Outbound campaigns, their call lists and attempts, the SMS outbox, QA sheets and reviews
//! (issue 4, R-CALL-05/06).

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::{StoreError, StoreResult, flag, t, ts};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Campaign {
    pub id: i64,
    pub name: String,
    /// `return_visit`, `arrears` or `survey`.
    pub kind: String,
    /// `active` or `closed`.
    pub status: String,
    /// The rule that generates the call list (JSON).
    #[schema(value_type = Object)]
    pub rule: serde_json::Value,
    /// Survey questions.
    pub questions: Vec<String>,
    pub max_attempts: i64,
    pub retry_minutes: i64,
    /// SMS text sent when nobody answers after the last attempt (empty: no SMS).
    pub sms_template: String,
    pub unit_id: i64,
    pub created_by: i64,
    pub created_at: jiff::Timestamp,
    pub updated_at: jiff::Timestamp,
}

const CAMPAIGN_COLS: &str = "id, name, kind, status, rule, questions, max_attempts, retry_minutes, sms_template, unit_id, \
    created_by, created_at, updated_at";

fn campaign(r: &AnyRow) -> StoreResult<Campaign> {
    let rule: String = r.try_get("rule")?;
    let questions: String = r.try_get("questions")?;
    Ok(Campaign {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        kind: r.try_get("kind")?,
        status: r.try_get("status")?,
        rule: serde_json::from_str(&rule).unwrap_or_default(),
        questions: serde_json::from_str(&questions).unwrap_or_default(),
        max_attempts: r.try_get("max_attempts")?,
        retry_minutes: r.try_get("retry_minutes")?,
        sms_template: r.try_get("sms_template")?,
        unit_id: r.try_get("unit_id")?,
        created_by: r.try_get("created_by")?,
        created_at: ts(r, "created_at")?,
        updated_at: ts(r, "updated_at")?,
    })
}

pub struct NewCampaign<'a> {
    pub name: &'a str,
    pub kind: &'a str,
    pub rule: &'a serde_json::Value,
    pub questions: &'a [String],
    pub max_attempts: i64,
    pub retry_minutes: i64,
    pub sms_template: &'a str,
    pub unit_id: i64,
    pub created_by: i64,
}

pub async fn insert(conn: &mut AnyConnection, c: &NewCampaign<'_>, now: jiff::Timestamp) -> StoreResult<i64> {
    let row = sqlx::query(
        "INSERT INTO campaigns (name, kind, status, rule, questions, max_attempts, retry_minutes, sms_template, unit_id,
            created_by, created_at, updated_at)
         VALUES ($1, $2, 'active', $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING id",
    )
    .bind(c.name)
    .bind(c.kind)
    .bind(c.rule.to_string())
    .bind(serde_json::to_string(c.questions).unwrap_or_else(|_| "[]".into()))
    .bind(c.max_attempts)
    .bind(c.retry_minutes)
    .bind(c.sms_template)
    .bind(c.unit_id)
    .bind(c.created_by)
    .bind(t(now))
    .fetch_one(conn)
    .await?;
    Ok(row.try_get("id")?)
}

pub async fn get(conn: &mut AnyConnection, id: i64) -> StoreResult<Option<Campaign>> {
    let sql = format!("SELECT {CAMPAIGN_COLS} FROM campaigns WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(conn).await?;
    row.as_ref().map(campaign).transpose()
}

pub async fn list(conn: &mut AnyConnection, limit: i64) -> StoreResult<Vec<Campaign>> {
    let sql = format!("SELECT {CAMPAIGN_COLS} FROM campaigns ORDER BY id DESC LIMIT $1");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(limit).fetch_all(conn).await?;
    rows.iter().map(campaign).collect()
}

pub async fn set_status(conn: &mut AnyConnection, id: i64, status: &str, now: jiff::Timestamp) -> StoreResult<()> {
    let r = sqlx::query("UPDATE campaigns SET status = $1, updated_at = $2 WHERE id = $3")
        .bind(status)
        .bind(t(now))
        .bind(id)
        .execute(conn)
        .await?;
    if r.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Counts of a campaign's targets by status.
pub async fn progress(conn: &mut AnyConnection, id: i64) -> StoreResult<Vec<(String, i64)>> {
    let rows = sqlx::query(
        "SELECT status, COUNT(*) AS n FROM campaign_targets WHERE campaign_id = $1 GROUP BY status ORDER BY status",
    )
    .bind(id)
    .fetch_all(conn)
    .await?;
    rows.iter().map(|r| Ok((r.try_get("status")?, r.try_get("n")?))).collect()
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Target {
    pub id: i64,
    pub campaign_id: i64,
    pub customer_id: Option<i64>,
    pub account_id: Option<i64>,
    /// The contact whose handling a return visit evaluates.
    pub source_contact_id: Option<i64>,
    pub phone: String,
    /// What the call is about, e.g. "欠费 ¥187.20" or the contact number.
    pub subject: String,
    pub assignee_id: Option<i64>,
    /// `pending`, `done`, `failed` or `sms_sent`.
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: jiff::Timestamp,
    /// The last attempt's outcome.
    pub outcome: String,
    /// Return visits: `satisfied`, `basically_satisfied` or `unsatisfied`.
    pub satisfaction: String,
    /// Surveys: answers as JSON (question → answer).
    pub answers: String,
    pub comment: String,
    pub updated_at: jiff::Timestamp,
}

const TARGET_COLS: &str = "id, campaign_id, customer_id, account_id, source_contact_id, phone, subject, assignee_id, status, \
    attempts, next_attempt_at, outcome, satisfaction, answers, comment, updated_at";

fn target_row(r: &AnyRow) -> StoreResult<Target> {
    Ok(Target {
        id: r.try_get("id")?,
        campaign_id: r.try_get("campaign_id")?,
        customer_id: r.try_get("customer_id")?,
        account_id: r.try_get("account_id")?,
        source_contact_id: r.try_get("source_contact_id")?,
        phone: r.try_get("phone")?,
        subject: r.try_get("subject")?,
        assignee_id: r.try_get("assignee_id")?,
        status: r.try_get("status")?,
        attempts: r.try_get("attempts")?,
        next_attempt_at: ts(r, "next_attempt_at")?,
        outcome: r.try_get("outcome")?,
        satisfaction: r.try_get("satisfaction")?,
        answers: r.try_get("answers")?,
        comment: r.try_get("comment")?,
        updated_at: ts(r, "updated_at")?,
    })
}

/// A target found by a rule.
pub struct Candidate {
    pub key: String,
    pub customer_id: Option<i64>,
    pub account_id: Option<i64>,
    pub source_contact_id: Option<i64>,
    pub phone: String,
    pub subject: String,
}

/// Adds targets that are not on the list yet; returns how many were added.
pub async fn add_targets(
    conn: &mut AnyConnection,
    campaign_id: i64,
    list: &[Candidate],
    now: jiff::Timestamp,
) -> StoreResult<u64> {
    let mut added = 0;
    for c in list {
        let r = sqlx::query(
            "INSERT INTO campaign_targets (campaign_id, target_key, customer_id, account_id, source_contact_id, phone,
                subject, status, next_attempt_at, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $8, $8)
             ON CONFLICT (campaign_id, target_key) DO NOTHING",
        )
        .bind(campaign_id)
        .bind(&c.key)
        .bind(c.customer_id)
        .bind(c.account_id)
        .bind(c.source_contact_id)
        .bind(&c.phone)
        .bind(&c.subject)
        .bind(t(now))
        .execute(&mut *conn)
        .await?;
        added += r.rows_affected();
    }
    Ok(added)
}

/// Accounts owing at least `min_fen` with an unpaid bill due on or before `due_before`
/// (`YYYY-MM-DD`), in the given units: (account id, holder id, account no, arrears, first phone).
pub async fn arrears_candidates(
    conn: &mut AnyConnection,
    min_fen: i64,
    due_before: &str,
    units: Option<&[i64]>,
    limit: i64,
) -> StoreResult<Vec<(i64, i64, String, i64, String)>> {
    let mut q = crate::sql::Sql::new(
        "SELECT a.id AS id, a.holder_id AS holder_id, a.account_no AS account_no, o.owed AS owed,
            COALESCE((SELECT p.phone FROM customer_phones p WHERE p.customer_id = a.holder_id ORDER BY p.id LIMIT 1), '') AS phone
         FROM (SELECT account_id, CAST(SUM(total_fen - paid_fen) AS BIGINT) AS owed, MIN(due_on) AS first_due
               FROM bills WHERE status <> 'paid' GROUP BY account_id) o
         JOIN accounts a ON a.id = o.account_id
         WHERE o.owed >= ",
    );
    q.bind(min_fen).push(" AND o.first_due <= ").bind(due_before.to_string());
    if let Some(units) = units {
        crate::customers::push_in(&mut q, " AND a.unit_id IN (", units);
    }
    q.push(" ORDER BY a.id LIMIT ").bind(limit);
    let rows = q.query().fetch_all(conn).await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("id")?,
                r.try_get("holder_id")?,
                r.try_get("account_no")?,
                r.try_get("owed")?,
                r.try_get("phone")?,
            ))
        })
        .collect()
}

/// Assigns a campaign's unassigned pending targets to agents in turn; returns how many.
pub async fn assign_round_robin(
    conn: &mut AnyConnection,
    campaign_id: i64,
    agents: &[i64],
    now: jiff::Timestamp,
) -> StoreResult<usize> {
    let rows = sqlx::query(
        "SELECT id FROM campaign_targets WHERE campaign_id = $1 AND assignee_id IS NULL AND status = 'pending' ORDER BY id",
    )
    .bind(campaign_id)
    .fetch_all(&mut *conn)
    .await?;
    let ids: Vec<i64> = rows.iter().map(|r| r.try_get("id")).collect::<Result<_, _>>()?;
    for (n, id) in ids.iter().enumerate() {
        sqlx::query("UPDATE campaign_targets SET assignee_id = $1, updated_at = $2 WHERE id = $3")
            .bind(agents[n % agents.len()])
            .bind(t(now))
            .bind(id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(ids.len())
}

pub async fn get_target(conn: &mut AnyConnection, id: i64) -> StoreResult<Option<Target>> {
    let sql = format!("SELECT {TARGET_COLS} FROM campaign_targets WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(conn).await?;
    row.as_ref().map(target_row).transpose()
}

/// An agent's call list: pending targets due by `now`, of active campaigns, oldest first.
pub async fn due_for(
    conn: &mut AnyConnection,
    agent_id: i64,
    now: jiff::Timestamp,
    limit: i64,
) -> StoreResult<Vec<Target>> {
    let sql = format!(
        "SELECT {} FROM campaign_targets t WHERE t.assignee_id = $1 AND t.status = 'pending' AND t.next_attempt_at <= $2
           AND EXISTS (SELECT 1 FROM campaigns c WHERE c.id = t.campaign_id AND c.status = 'active')
         ORDER BY t.next_attempt_at, t.id LIMIT $3",
        TARGET_COLS.split(", ").map(|c| format!("t.{c}")).collect::<Vec<_>>().join(", ")
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(agent_id).bind(t(now)).bind(limit).fetch_all(conn).await?;
    rows.iter().map(target_row).collect()
}

pub async fn targets_of(conn: &mut AnyConnection, campaign_id: i64, limit: i64) -> StoreResult<Vec<Target>> {
    let sql = format!("SELECT {TARGET_COLS} FROM campaign_targets WHERE campaign_id = $1 ORDER BY id LIMIT $2");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(campaign_id).bind(limit).fetch_all(conn).await?;
    rows.iter().map(target_row).collect()
}

/// The result of an attempt on a target.
pub struct TargetUpdate<'a> {
    pub status: &'a str,
    pub outcome: &'a str,
    pub next_attempt_at: jiff::Timestamp,
    pub satisfaction: &'a str,
    pub answers: &'a str,
    pub comment: &'a str,
}

/// Records an attempt and the target's new state, if the target still has `attempts`
/// attempts (two agents cannot both record the same attempt).
pub async fn record_attempt(
    conn: &mut AnyConnection,
    target_id: i64,
    expected_attempts: i64,
    agent_id: i64,
    u: &TargetUpdate<'_>,
    note: &str,
    now: jiff::Timestamp,
) -> StoreResult<bool> {
    let r = sqlx::query(
        "UPDATE campaign_targets SET status = $1, outcome = $2, next_attempt_at = $3, satisfaction = $4, answers = $5,
            comment = $6, attempts = attempts + 1, updated_at = $7
         WHERE id = $8 AND attempts = $9 AND status = 'pending'",
    )
    .bind(u.status)
    .bind(u.outcome)
    .bind(t(u.next_attempt_at))
    .bind(u.satisfaction)
    .bind(u.answers)
    .bind(u.comment)
    .bind(t(now))
    .bind(target_id)
    .bind(expected_attempts)
    .execute(&mut *conn)
    .await?;
    if r.rows_affected() == 0 {
        return Ok(false);
    }
    sqlx::query("INSERT INTO campaign_attempts (target_id, agent_id, outcome, note, at) VALUES ($1, $2, $3, $4, $5)")
        .bind(target_id)
        .bind(agent_id)
        .bind(u.outcome)
        .bind(note)
        .bind(t(now))
        .execute(conn)
        .await?;
    Ok(true)
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Attempt {
    pub id: i64,
    pub agent_id: Option<i64>,
    pub outcome: String,
    pub note: String,
    pub at: jiff::Timestamp,
}

pub async fn attempts_of(conn: &mut AnyConnection, target_id: i64) -> StoreResult<Vec<Attempt>> {
    let rows =
        sqlx::query("SELECT id, agent_id, outcome, note, at FROM campaign_attempts WHERE target_id = $1 ORDER BY id")
            .bind(target_id)
            .fetch_all(conn)
            .await?;
    rows.iter()
        .map(|r| {
            Ok(Attempt {
                id: r.try_get("id")?,
                agent_id: r.try_get("agent_id")?,
                outcome: r.try_get("outcome")?,
                note: r.try_get("note")?,
                at: ts(r, "at")?,
            })
        })
        .collect()
}

/// Queues a text message in the outbox (delivered by a provider adapter, or read by an
/// operator's gateway).
pub async fn sms_queue(
    conn: &mut AnyConnection,
    phone: &str,
    body: &str,
    purpose: &str,
    reference: &str,
    now: jiff::Timestamp,
) -> StoreResult<i64> {
    let row = sqlx::query(
        "INSERT INTO sms_outbox (phone, body, status, purpose, ref, created_at) VALUES ($1, $2, 'queued', $3, $4, $5) RETURNING id",
    )
    .bind(phone)
    .bind(body)
    .bind(purpose)
    .bind(reference)
    .bind(t(now))
    .fetch_one(conn)
    .await?;
    Ok(row.try_get("id")?)
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Sms {
    pub id: i64,
    pub phone: String,
    pub body: String,
    pub status: String,
    pub purpose: String,
    pub reference: String,
    pub created_at: jiff::Timestamp,
}

pub async fn sms_list(conn: &mut AnyConnection, limit: i64) -> StoreResult<Vec<Sms>> {
    let rows = sqlx::query(
        "SELECT id, phone, body, status, purpose, ref, created_at FROM sms_outbox ORDER BY id DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Sms {
                id: r.try_get("id")?,
                phone: r.try_get("phone")?,
                body: r.try_get("body")?,
                status: r.try_get("status")?,
                purpose: r.try_get("purpose")?,
                reference: r.try_get("ref")?,
                created_at: ts(r, "created_at")?,
            })
        })
        .collect()
}

// ---- QA ------------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct SheetItem {
    pub code: String,
    pub label: String,
    /// Most points for this item.
    pub max: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Sheet {
    pub id: i64,
    pub name: String,
    pub items: Vec<SheetItem>,
    pub enabled: bool,
}

fn sheet(r: &AnyRow) -> StoreResult<Sheet> {
    let items: String = r.try_get("items")?;
    Ok(Sheet {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        items: serde_json::from_str(&items).unwrap_or_default(),
        enabled: flag(r, "enabled")?,
    })
}

pub async fn sheet_insert(
    conn: &mut AnyConnection,
    name: &str,
    items: &[SheetItem],
    now: jiff::Timestamp,
) -> StoreResult<i64> {
    let row =
        sqlx::query("INSERT INTO qa_sheets (name, items, enabled, created_at) VALUES ($1, $2, 1, $3) RETURNING id")
            .bind(name)
            .bind(serde_json::to_string(items).unwrap_or_else(|_| "[]".into()))
            .bind(t(now))
            .fetch_one(conn)
            .await?;
    Ok(row.try_get("id")?)
}

pub async fn sheets(conn: &mut AnyConnection) -> StoreResult<Vec<Sheet>> {
    let rows = sqlx::query("SELECT id, name, items, enabled FROM qa_sheets ORDER BY id").fetch_all(conn).await?;
    rows.iter().map(sheet).collect()
}

pub async fn sheet_get(conn: &mut AnyConnection, id: i64) -> StoreResult<Option<Sheet>> {
    let row = sqlx::query("SELECT id, name, items, enabled FROM qa_sheets WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(sheet).transpose()
}

/// Records (or replaces) a reviewer's scores of a contact.
#[allow(clippy::too_many_arguments)]
pub async fn review_upsert(
    conn: &mut AnyConnection,
    contact_id: i64,
    agent_id: Option<i64>,
    reviewer_id: i64,
    sheet_id: i64,
    scores: &serde_json::Value,
    total: i64,
    max_total: i64,
    comment: &str,
    now: jiff::Timestamp,
) -> StoreResult<i64> {
    let row = sqlx::query(
        "INSERT INTO qa_reviews (contact_id, agent_id, reviewer_id, sheet_id, scores, total, max_total, comment, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
         ON CONFLICT (contact_id, reviewer_id) DO UPDATE SET sheet_id = $4, scores = $5, total = $6, max_total = $7,
            comment = $8, updated_at = $9
         RETURNING id",
    )
    .bind(contact_id)
    .bind(agent_id)
    .bind(reviewer_id)
    .bind(sheet_id)
    .bind(scores.to_string())
    .bind(total)
    .bind(max_total)
    .bind(comment)
    .bind(t(now))
    .fetch_one(conn)
    .await?;
    Ok(row.try_get("id")?)
}

/// Per agent over a period: QA reviews (count, points, most points), IVR ratings (count,
/// sum) and return-visit satisfaction (satisfied, basically, unsatisfied).
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct AgentScores {
    pub agent_id: i64,
    pub agent_name: String,
    pub qa_reviews: i64,
    pub qa_points: i64,
    pub qa_max_points: i64,
    pub ivr_ratings: i64,
    pub ivr_sum: i64,
    pub visits_satisfied: i64,
    pub visits_basically: i64,
    pub visits_unsatisfied: i64,
}

pub async fn agent_scores(
    conn: &mut AnyConnection,
    from: jiff::Timestamp,
    to: jiff::Timestamp,
) -> StoreResult<Vec<AgentScores>> {
    let mut out: std::collections::BTreeMap<i64, AgentScores> = Default::default();
    let qa = sqlx::query(
        "SELECT agent_id, COUNT(*) AS n, CAST(SUM(total) AS BIGINT) AS pts, CAST(SUM(max_total) AS BIGINT) AS mx FROM qa_reviews
         WHERE agent_id IS NOT NULL AND created_at >= $1 AND created_at < $2 GROUP BY agent_id",
    )
    .bind(t(from))
    .bind(t(to))
    .fetch_all(&mut *conn)
    .await?;
    for r in &qa {
        let e = out.entry(r.try_get("agent_id")?).or_default();
        e.qa_reviews = r.try_get("n")?;
        e.qa_points = r.try_get("pts")?;
        e.qa_max_points = r.try_get("mx")?;
    }
    let ivr = sqlx::query(
        "SELECT agent_id, COUNT(*) AS n, CAST(SUM(ivr_rating) AS BIGINT) AS s FROM contacts
         WHERE agent_id IS NOT NULL AND ivr_rating IS NOT NULL AND started_at >= $1 AND started_at < $2 GROUP BY agent_id",
    )
    .bind(t(from))
    .bind(t(to))
    .fetch_all(&mut *conn)
    .await?;
    for r in &ivr {
        let e = out.entry(r.try_get("agent_id")?).or_default();
        e.ivr_ratings = r.try_get("n")?;
        e.ivr_sum = r.try_get("s")?;
    }
    // Return visits evaluate the agent who handled the visited contact.
    let visits = sqlx::query(
        "SELECT c.agent_id AS agent_id, t.satisfaction AS satisfaction, COUNT(*) AS n
         FROM campaign_targets t JOIN contacts c ON c.id = t.source_contact_id
         WHERE t.satisfaction <> '' AND c.agent_id IS NOT NULL AND t.updated_at >= $1 AND t.updated_at < $2
         GROUP BY c.agent_id, t.satisfaction",
    )
    .bind(t(from))
    .bind(t(to))
    .fetch_all(&mut *conn)
    .await?;
    for r in &visits {
        let e = out.entry(r.try_get("agent_id")?).or_default();
        let n: i64 = r.try_get("n")?;
        match r.try_get::<String, _>("satisfaction")?.as_str() {
            "satisfied" => e.visits_satisfied += n,
            "basically_satisfied" => e.visits_basically += n,
            _ => e.visits_unsatisfied += n,
        }
    }
    for (id, e) in out.iter_mut() {
        e.agent_id = *id;
        e.agent_name = crate::users::get(conn, *id).await?.map(|u| u.display_name).unwrap_or_default();
    }
    Ok(out.into_values().collect())
}

/// Accounts of a meter book (册本) or with the given numbers, with the holder's first phone:
/// (account id, holder id, account no, phone).
pub async fn survey_candidates(
    conn: &mut AnyConnection,
    book_no: Option<&str>,
    account_nos: &[String],
    units: Option<&[i64]>,
    limit: i64,
) -> StoreResult<Vec<(i64, i64, String, String)>> {
    let mut q = crate::sql::Sql::new(
        "SELECT a.id AS id, a.holder_id AS holder_id, a.account_no AS account_no,
            COALESCE((SELECT p.phone FROM customer_phones p WHERE p.customer_id = a.holder_id ORDER BY p.id LIMIT 1), '') AS phone
         FROM accounts a WHERE ",
    );
    match book_no {
        Some(b) => {
            q.push("a.book_no = ").bind(b.to_string());
        }
        None => {
            q.push("a.account_no IN (");
            for (i, n) in account_nos.iter().enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                q.bind(n.clone());
            }
            if account_nos.is_empty() {
                q.push("NULL");
            }
            q.push(")");
        }
    }
    if let Some(units) = units {
        crate::customers::push_in(&mut q, " AND a.unit_id IN (", units);
    }
    q.push(" ORDER BY a.id LIMIT ").bind(limit);
    let rows = q.query().fetch_all(conn).await?;
    rows.iter()
        .map(|r| Ok((r.try_get("id")?, r.try_get("holder_id")?, r.try_get("account_no")?, r.try_get("phone")?)))
        .collect()
}
