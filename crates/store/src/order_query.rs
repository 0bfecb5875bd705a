//! Conditional queries over work orders (R-DATA-02): compiles a checked
//! `domain::query::Query` to one parameterised statement, and saved queries.
//!
//! Every column name and operator in the SQL comes from this file; input reaches the
//! statement only as bound values (free text additionally has its `LIKE` wildcards
//! escaped). The caller's data scope is always ANDed in. Paging is keyset over the sort
//! keys and the order id, so a page boundary stays put while orders are added.
//!
//! Channel and source are those of the originating contact, else the order's origin (as
//! in `store::stats`); free text is a substring of the title, content or address (a scan
//! of the rows the other conditions leave — see docs/QUERIES.md for what that costs).

use std::collections::HashMap;

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use waterdesk_domain::query::{Cond, Cursor, Field, KeyVal, Node, Op, Query, SortKey, Val};

use crate::sql::Sql;
use crate::{Backend, StoreResult, t, ts};

/// One row of a query's result.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct QueryRow {
    pub id: i64,
    pub order_no: String,
    pub type_code: String,
    pub type_zh: String,
    pub type_en: String,
    pub state: String,
    pub suspended_from: Option<String>,
    pub priority: i64,
    pub title: String,
    pub content: String,
    pub address: String,
    pub caller: String,
    pub category: String,
    pub channel: String,
    pub source: String,
    /// The originating contact's 热线编号, if any.
    pub contact_no: Option<String>,
    pub unit_id: i64,
    pub unit_name: String,
    pub overdue: bool,
    /// The latest return visit's satisfaction (empty: none).
    pub satisfaction: String,
    pub registered_at: jiff::Timestamp,
    pub resolved_at: Option<jiff::Timestamp>,
    pub concluded_at: Option<jiff::Timestamp>,
    pub updated_at: jiff::Timestamp,
}

const SELECT: &str = "SELECT w.id, w.order_no, w.type_code, COALESCE(ot.name_zh, w.type_code) AS type_zh,
    COALESCE(ot.name_en, w.type_code) AS type_en, w.state, w.suspended_from, w.priority, w.title, w.content,
    w.address, w.caller, w.category, COALESCE(c.channel, w.origin) AS channel,
    COALESCE(c.source, w.origin) AS source, c.contact_no, w.unit_id, COALESCE(un.name, '') AS unit_name,
    w.overdue, w.fields, w.created_at, w.resolved_at, w.concluded_at, w.updated_at";

// LEFT JOINs keep work_orders the outer table: SQLite never reorders them, so the plan is
// driven by the order's own indexes whatever the joined tables hold.
const FROM: &str = " FROM work_orders w LEFT JOIN contacts c ON c.id = w.contact_id
    LEFT JOIN units un ON un.id = w.unit_id LEFT JOIN order_types ot ON ot.code = w.type_code";

fn row(r: &AnyRow) -> StoreResult<QueryRow> {
    let fields: String = r.try_get("fields")?;
    let satisfaction = serde_json::from_str::<serde_json::Value>(&fields)
        .ok()
        .and_then(|v| v.get("satisfaction").and_then(|s| s.as_str()).map(str::to_string))
        .unwrap_or_default();
    Ok(QueryRow {
        id: r.try_get("id")?,
        order_no: r.try_get("order_no")?,
        type_code: r.try_get("type_code")?,
        type_zh: r.try_get("type_zh")?,
        type_en: r.try_get("type_en")?,
        state: r.try_get("state")?,
        suspended_from: r.try_get("suspended_from")?,
        priority: r.try_get("priority")?,
        title: r.try_get("title")?,
        content: r.try_get("content")?,
        address: r.try_get("address")?,
        caller: r.try_get("caller")?,
        category: r.try_get("category")?,
        channel: r.try_get("channel")?,
        source: r.try_get("source")?,
        contact_no: r.try_get("contact_no")?,
        unit_id: r.try_get("unit_id")?,
        unit_name: r.try_get("unit_name")?,
        overdue: crate::flag(r, "overdue")?,
        satisfaction,
        registered_at: ts(r, "created_at")?,
        resolved_at: crate::ts_opt(r, "resolved_at")?,
        concluded_at: crate::ts_opt(r, "concluded_at")?,
        updated_at: ts(r, "updated_at")?,
    })
}

/// What the query runs within.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    /// Handling units in the caller's data scope (`None`: all).
    pub units: Option<&'a [i64]>,
    /// Data scope `own`: only these orders.
    pub own: Option<crate::orders::OwnOrders>,
    /// The units below (and including) each unit named by an `under` condition.
    pub subtrees: &'a HashMap<i64, Vec<i64>>,
    pub backend: Backend,
    /// How free text is looked up, when decided once for many statements (an export's
    /// pages); `None`: decided for each statement ([`TextPlan::of`]).
    pub text: Option<&'a TextPlan>,
}

impl Scope<'_> {
    /// The text plan of `query` in this scope.
    async fn text_plan(&self, conn: &mut AnyConnection, query: &Query) -> StoreResult<TextPlan> {
        match self.text {
            Some(plan) => Ok(plan.clone()),
            None => TextPlan::of(conn, query, self.backend).await,
        }
    }
}

fn sort_col(k: SortKey) -> &'static str {
    match k {
        SortKey::RegisteredAt => "w.created_at",
        SortKey::Priority => "w.priority",
        SortKey::OrderNo => "w.order_no",
        SortKey::UpdatedAt => "w.updated_at",
    }
}

fn push_texts(q: &mut Sql, texts: &[String]) {
    for (i, s) in texts.iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.bind(s.clone());
    }
}

fn push_ints(q: &mut Sql, ns: &[i64]) {
    if ns.is_empty() {
        q.push("NULL");
    }
    for (i, n) in ns.iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.bind(*n);
    }
}

fn push_node(q: &mut Sql, n: &Node, s: &Scope<'_>, p: &TextPlan) {
    match n {
        Node::Cond(c) => push_cond(q, c, s, p),
        Node::Group { all, items } => {
            q.push("(");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    q.push(if *all { " AND " } else { " OR " });
                }
                push_node(q, item, s, p);
            }
            q.push(")");
        }
    }
}

/// `col IN (…)`, `col NOT IN (…)` or `col = …` over texts.
fn push_codes(q: &mut Sql, col: &'static str, op: Op, texts: &[String], p: &TextPlan) {
    q.push("(").push(p.col(col));
    match (op, texts) {
        (Op::Eq, [one]) => {
            q.push(" = ").bind(one.clone());
        }
        (Op::NotIn, _) => {
            q.push(" NOT IN (");
            push_texts(q, texts);
            q.push(")");
        }
        _ => {
            q.push(" IN (");
            push_texts(q, texts);
            q.push(")");
        }
    }
    q.push(")");
}

fn like_pattern(s: &str) -> String {
    format!("%{}%", crate::dialect::like_escape(s))
}

fn push_cond(q: &mut Sql, c: &Cond, s: &Scope<'_>, p: &TextPlan) {
    let like = crate::dialect::ilike(s.backend);
    match (&c.value, c.field) {
        (Val::Texts(v), Field::ContactNo) => {
            // The order's originating contact, or a contact attached to it (its order_no).
            q.push("(w.contact_id IN (SELECT id FROM contacts WHERE contact_no IN (");
            push_texts(q, v);
            q.push(")) OR w.order_no IN (SELECT order_no FROM contacts WHERE contact_no IN (");
            push_texts(q, v);
            q.push(") AND order_no <> ''))");
        }
        (Val::Texts(v), Field::OrderNo) => push_codes(q, "w.order_no", c.op, v, p),
        (Val::Texts(v), Field::Caller) => push_codes(q, "w.caller", c.op, v, p),
        (Val::Texts(v), Field::Address) => push_codes(q, "w.address", c.op, v, p),
        (Val::Texts(v), Field::Channel) => push_codes(q, "COALESCE(c.channel, w.origin)", c.op, v, p),
        (Val::Texts(v), Field::Source) => push_codes(q, "COALESCE(c.source, w.origin)", c.op, v, p),
        (Val::Texts(v), Field::Category) => push_codes(q, "w.category", c.op, v, p),
        (Val::Texts(v), Field::Type) => push_codes(q, "w.type_code", c.op, v, p),
        (Val::Texts(v), Field::State) => push_codes(q, "w.state", c.op, v, p),
        (Val::Texts(v), Field::Satisfaction) => {
            // The step fields accumulate on the order as compact JSON (serde_json), where a
            // key can only appear as `"satisfaction":"…"` with unescaped quotes.
            q.push(if c.op == Op::NotIn { "(NOT (" } else { "((" });
            for (i, code) in v.iter().enumerate() {
                if i > 0 {
                    q.push(" OR ");
                }
                q.push("w.fields LIKE ").bind(like_pattern(&format!("\"satisfaction\":\"{code}\"")));
                q.push(" ESCAPE '\\'");
            }
            q.push("))");
        }
        (Val::Ids(v), Field::Unit) => {
            let ids: Vec<i64> = if c.op == Op::Under {
                v.iter().flat_map(|u| s.subtrees.get(u).cloned().unwrap_or_default()).collect()
            } else {
                v.clone()
            };
            q.push("(").push(p.col("w.unit_id")).push(" IN (");
            push_ints(q, &ids);
            q.push("))");
        }
        (Val::Ids(v), Field::Priority) => {
            q.push("(w.priority IN (");
            push_ints(q, v);
            q.push("))");
        }
        (Val::Ints(a, b), _) => {
            q.push("(w.priority >= ").bind(*a).push(" AND w.priority <= ").bind(*b).push(")");
        }
        (Val::Range(from, to), f) => {
            let col = match f {
                Field::ResolvedAt => "w.resolved_at",
                Field::ConcludedAt => "w.concluded_at",
                _ => "w.created_at",
            };
            q.push("(").push(col).push(" >= ").bind(t(*from));
            q.push(" AND ").push(col).push(" < ").bind(t(*to)).push(")");
        }
        (Val::Bool(b), _) => {
            q.push(if *b { "(w.overdue = 1)" } else { "(w.overdue = 0)" });
        }
        (Val::Substring(text), f) => {
            q.push("(");
            // Only orders with the text's rarest search key can contain it (D27); orders
            // not indexed yet are read as they are.
            if let Some(key) = p.keys.get(text) {
                q.push("(w.id IN (SELECT order_id FROM order_text_keys WHERE key = ").bind(*key).push(")");
                if p.unindexed_below > 1 {
                    q.push(" OR w.id < ").bind(p.unindexed_below);
                }
                q.push(") AND ");
            }
            let pat = like_pattern(text);
            if f == Field::Address {
                q.push("w.address ").push(like).push(" ").bind(pat).push(" ESCAPE '\\'");
            } else {
                q.push("(w.title ").push(like).push(" ").bind(pat.clone()).push(" ESCAPE '\\'");
                q.push(" OR w.content ").push(like).push(" ").bind(pat.clone()).push(" ESCAPE '\\'");
                q.push(" OR w.address ").push(like).push(" ").bind(pat).push(" ESCAPE '\\')");
            }
            q.push(")");
        }
        // The parser never pairs these (a field's kind decides its value).
        _ => {
            q.push("(1 = 0)");
        }
    }
}

fn bind_key(q: &mut Sql, v: &KeyVal) {
    match v {
        KeyVal::Int(i) => q.bind(*i),
        KeyVal::Text(s) => q.bind(s.clone()),
    };
}

/// Rows after the cursor in the sort order: `(k1 ≷ v1) OR (k1 = v1 AND k2 ≷ v2) OR …
/// OR (all equal AND id ≷ last id)`, plus a plain bound on the first key for the index.
fn push_after(q: &mut Sql, sort: &[(SortKey, bool)], c: &Cursor) {
    let cmp = |desc: bool| if desc { " < " } else { " > " };
    let (k0, d0) = sort[0];
    q.push(" AND ").push(sort_col(k0)).push(if d0 { " <= " } else { " >= " });
    bind_key(q, &c.keys[0]);
    q.push(" AND (");
    for i in 0..=sort.len() {
        if i > 0 {
            q.push(" OR ");
        }
        q.push("(");
        for (j, (k, _)) in sort.iter().enumerate().take(i) {
            if j > 0 {
                q.push(" AND ");
            }
            q.push(sort_col(*k)).push(" = ");
            bind_key(q, &c.keys[j]);
        }
        if i > 0 {
            q.push(" AND ");
        }
        if i < sort.len() {
            let (k, d) = sort[i];
            q.push(sort_col(k)).push(cmp(d));
            bind_key(q, &c.keys[i]);
        } else {
            let d = sort.last().map(|s| s.1).unwrap_or(true);
            q.push("w.id").push(cmp(d)).bind(c.id);
        }
        q.push(")");
    }
    q.push(")");
}

fn push_where(q: &mut Sql, query: &Query, s: &Scope<'_>, p: &TextPlan) {
    q.push(" WHERE 1 = 1");
    if let Some(units) = s.units {
        q.push(" AND ").push(p.col("w.unit_id"));
        crate::customers::push_in(q, " IN (", units);
    }
    if let Some(own) = s.own {
        own.push(q, |c| match c {
            "assignee_id" => "w.assignee_id",
            "created_by" => "w.created_by",
            "state" => p.col("w.state"),
            _ => p.col("w.unit_id"),
        });
    }
    if let Some(f) = &query.filter {
        q.push(" AND ");
        push_node(q, f, s, p);
    }
}

/// How a query's free-text conditions are looked up (ARCHITECTURE D27), decided per
/// request from the search keys' posting counts.
#[derive(Debug, Clone, Default)]
pub struct TextPlan {
    /// Text → its rarest search key, for texts with a rare one.
    pub keys: HashMap<String, i64>,
    /// Orders with an id below this have no search keys yet (migration 0020's backfill).
    pub unindexed_below: i64,
    /// SQLite: read orders in the sort order and stop at the page's end, rather than
    /// through the indexes of other conditions (a text of common words matches densely,
    /// while SQLite would read and sort every row those indexes give).
    pub in_order: bool,
}

/// Posting counts are read up to this: a key with more is common.
const RARE_CAP: i64 = 20_000;

impl TextPlan {
    /// `col` as an indexed column, or with its index disabled (SQLite's unary `+`).
    fn col(&self, col: &'static str) -> &'static str {
        match (self.in_order, col) {
            (true, "w.type_code") => "+w.type_code",
            (true, "w.unit_id") => "+w.unit_id",
            (true, "w.state") => "+w.state",
            _ => col,
        }
    }

    /// The plan of `query`'s free-text conditions.
    pub async fn of(conn: &mut AnyConnection, query: &Query, backend: Backend) -> StoreResult<TextPlan> {
        fn texts<'q>(n: &'q Node, out: &mut Vec<&'q str>) {
            match n {
                Node::Cond(Cond { value: Val::Substring(t), .. }) => out.push(t),
                Node::Cond(_) => {}
                Node::Group { items, .. } => items.iter().for_each(|i| texts(i, out)),
            }
        }
        let mut found = Vec::new();
        if let Some(f) = &query.filter {
            texts(f, &mut found);
        }
        let mut plan = TextPlan::default();
        if found.is_empty() {
            return Ok(plan);
        }
        plan.unindexed_below = crate::order_text::unindexed_below(&mut *conn).await?;
        let mut common = false;
        for t in found {
            let keys = waterdesk_domain::grams::search_keys(t);
            match crate::order_text::rarest(&mut *conn, &keys, RARE_CAP).await? {
                Some(k) => {
                    plan.keys.insert(t.to_string(), k);
                }
                None => common = true,
            }
        }
        plan.in_order = common
            && backend == Backend::Sqlite
            && query.sort.first().is_some_and(|(k, _)| *k == SortKey::RegisteredAt);
        Ok(plan)
    }
}

/// The statement of one page (exposed for tests and EXPLAIN).
pub fn page_sql(query: &Query, s: &Scope<'_>, p: &TextPlan, after: Option<&Cursor>, limit: i64) -> Sql {
    let mut q = Sql::new(SELECT);
    q.push(FROM);
    push_where(&mut q, query, s, p);
    if let Some(c) = after {
        push_after(&mut q, &query.sort, c);
    }
    q.push(" ORDER BY ");
    for (k, d) in &query.sort {
        q.push(sort_col(*k)).push(if *d { " DESC, " } else { " ASC, " });
    }
    let last_desc = query.sort.last().map(|s| s.1).unwrap_or(true);
    q.push(if last_desc { "w.id DESC" } else { "w.id ASC" });
    q.push(" LIMIT ").bind(limit);
    q
}

/// The cursor after `r` in the query's sort.
pub fn cursor_of(query: &Query, r: &QueryRow) -> Cursor {
    let keys = query
        .sort
        .iter()
        .map(|(k, _)| match k {
            SortKey::RegisteredAt => KeyVal::Text(t(r.registered_at)),
            SortKey::Priority => KeyVal::Int(r.priority),
            SortKey::OrderNo => KeyVal::Text(r.order_no.clone()),
            SortKey::UpdatedAt => KeyVal::Text(t(r.updated_at)),
        })
        .collect();
    Cursor { keys, id: r.id }
}

/// One page after `after` (`None`: the first), at most `limit` rows, and the cursor of the
/// next page if there is one.
pub async fn page(
    conn: &mut AnyConnection,
    query: &Query,
    s: &Scope<'_>,
    after: Option<&Cursor>,
    limit: i64,
) -> StoreResult<(Vec<QueryRow>, Option<Cursor>)> {
    let plan = s.text_plan(&mut *conn, query).await?;
    let q = page_sql(query, s, &plan, after, limit + 1);
    let mut rows = q.query().fetch_all(conn).await?.iter().map(row).collect::<StoreResult<Vec<_>>>()?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next = if more { rows.last().map(|r| cursor_of(query, r)) } else { None };
    Ok((rows, next))
}

/// [`page`] in a read transaction of its own; on PostgreSQL the statement is cancelled
/// after `timeout_ms` (SQLSTATE 57014), so no query runs unbounded in time there.
pub async fn page_bounded(
    db: &crate::Db,
    query: &Query,
    s: &Scope<'_>,
    after: Option<&Cursor>,
    limit: i64,
    timeout_ms: i64,
) -> StoreResult<(Vec<QueryRow>, Option<Cursor>)> {
    let mut tx = db.reader().begin().await?;
    if db.backend() == Backend::Postgres {
        // A number from the code, not input; SET takes no placeholders.
        let set = format!("SET LOCAL statement_timeout = {}", timeout_ms.max(1));
        sqlx::query(sqlx::AssertSqlSafe(set)).execute(&mut *tx).await?;
    }
    let r = page(&mut tx, query, s, after, limit).await;
    let _ = tx.rollback().await;
    r
}

/// How many rows the query matches, counting at most `cap` (exports check their limit
/// without counting a whole table).
pub async fn count_upto(conn: &mut AnyConnection, query: &Query, s: &Scope<'_>, cap: i64) -> StoreResult<i64> {
    // Nothing is sorted: the other conditions' indexes stay on.
    let plan = TextPlan { in_order: false, ..s.text_plan(&mut *conn, query).await? };
    let mut q = Sql::new("SELECT COUNT(*) AS n FROM (SELECT 1");
    q.push(FROM);
    push_where(&mut q, query, s, &plan);
    q.push(" LIMIT ").bind(cap).push(") AS x");
    Ok(q.query().fetch_one(conn).await?.try_get("n")?)
}

// ---- saved queries -------------------------------------------------------------------

/// A saved query.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SavedQuery {
    pub id: i64,
    pub owner_id: i64,
    pub owner_name: String,
    pub unit_id: i64,
    pub name: String,
    /// The query document (JSON text).
    pub definition: String,
    /// Visible to every user of the owner's unit.
    pub shared: bool,
    pub created_at: jiff::Timestamp,
    pub updated_at: jiff::Timestamp,
}

const SAVED_SELECT: &str = "SELECT s.id, s.owner_id, COALESCE(u.display_name, u.username, '') AS owner_name,
    s.unit_id, s.name, s.definition, s.shared, s.created_at, s.updated_at
    FROM saved_queries s LEFT JOIN users u ON u.id = s.owner_id";

fn saved(r: &AnyRow) -> StoreResult<SavedQuery> {
    Ok(SavedQuery {
        id: r.try_get("id")?,
        owner_id: r.try_get("owner_id")?,
        owner_name: r.try_get("owner_name")?,
        unit_id: r.try_get("unit_id")?,
        name: r.try_get("name")?,
        definition: r.try_get("definition")?,
        shared: crate::flag(r, "shared")?,
        created_at: ts(r, "created_at")?,
        updated_at: ts(r, "updated_at")?,
    })
}

/// The user's own queries and those shared in their unit, by name.
pub async fn saved_list(conn: &mut AnyConnection, user_id: i64, unit_id: i64) -> StoreResult<Vec<SavedQuery>> {
    let mut q = Sql::new(SAVED_SELECT);
    q.push(" WHERE s.owner_id = ").bind(user_id);
    q.push(" OR (s.unit_id = ").bind(unit_id).push(" AND s.shared = 1) ORDER BY s.name, s.id LIMIT 500");
    q.query().fetch_all(conn).await?.iter().map(saved).collect()
}

pub async fn saved_get(conn: &mut AnyConnection, id: i64) -> StoreResult<Option<SavedQuery>> {
    let mut q = Sql::new(SAVED_SELECT);
    q.push(" WHERE s.id = ").bind(id);
    q.query().fetch_optional(conn).await?.as_ref().map(saved).transpose()
}

/// How many queries a user has saved.
pub async fn saved_count(conn: &mut AnyConnection, owner_id: i64) -> StoreResult<i64> {
    let r = sqlx::query("SELECT COUNT(*) AS n FROM saved_queries WHERE owner_id = $1")
        .bind(owner_id)
        .fetch_one(conn)
        .await?;
    Ok(r.try_get("n")?)
}

/// Inserts a query; a name the owner already uses is a conflict (`StoreError::Conflict`).
pub async fn saved_insert(
    conn: &mut AnyConnection,
    owner_id: i64,
    unit_id: i64,
    name: &str,
    definition: &str,
    shared: bool,
    now: jiff::Timestamp,
) -> StoreResult<i64> {
    let r = sqlx::query(
        "INSERT INTO saved_queries (owner_id, unit_id, name, definition, shared, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
    )
    .bind(owner_id)
    .bind(unit_id)
    .bind(name)
    .bind(definition)
    .bind(i64::from(shared))
    .bind(t(now))
    .fetch_one(conn)
    .await?;
    Ok(r.try_get("id")?)
}

/// Updates the owner's query; `false` if it is not theirs (or gone).
pub async fn saved_update(
    conn: &mut AnyConnection,
    id: i64,
    owner_id: i64,
    name: &str,
    definition: &str,
    shared: bool,
    now: jiff::Timestamp,
) -> StoreResult<bool> {
    let r = sqlx::query(
        "UPDATE saved_queries SET name = $1, definition = $2, shared = $3, updated_at = $4 WHERE id = $5 AND owner_id = $6",
    )
    .bind(name)
    .bind(definition)
    .bind(i64::from(shared))
    .bind(t(now))
    .bind(id)
    .bind(owner_id)
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Deletes the owner's query; `false` if it is not theirs (or gone).
pub async fn saved_delete(conn: &mut AnyConnection, id: i64, owner_id: i64) -> StoreResult<bool> {
    let r = sqlx::query("DELETE FROM saved_queries WHERE id = $1 AND owner_id = $2")
        .bind(id)
        .bind(owner_id)
        .execute(conn)
        .await?;
    Ok(r.rows_affected() == 1)
}
