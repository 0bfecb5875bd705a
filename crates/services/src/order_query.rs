//! Conditional queries over work orders (R-DATA-02), their saved definitions, and Excel
//! exports of a query's whole result with progress (R-DATA-03).
//!
//! A query is parsed and checked by `domain::query` (unknown fields, bad operators and
//! values, too many conditions, ranges over five years → 422 with a stable code), always
//! runs within the caller's data scope, and is one bounded statement per page. On
//! PostgreSQL every page also runs under a statement timeout.
//!
//! Exports run in a task of this process: the request checks the query and counts its rows
//! against the caller's limit (200,000 with `report.export`, else 20,000), answers at once
//! with the run, and the page polls its progress; the finished workbook waits in a
//! temporary file for its owner to download it (30 minutes). Rows are read a page at a
//! time and the writer spills rows to disk, so memory stays flat.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use waterdesk_domain::permissions::perm;
use waterdesk_domain::query::{Field, Op, Query, QueryError};
use waterdesk_store::order_query::{self as repo, QueryRow, SavedQuery, Scope};

use crate::access::Masking;
use crate::audit::{AuditCtx, security_in};
use crate::sheet::{CellKind, XlsxWriter};
use crate::{Principal, ServiceError, ServiceResult, Services};

/// Rows an export may have with `report.export`.
pub const EXPORT_LIMIT_REPORT: i64 = 200_000;
/// Rows an export may have without it.
pub const EXPORT_LIMIT_DEFAULT: i64 = 20_000;
/// Rows read per page while exporting.
const EXPORT_PAGE: i64 = 2_000;
/// How long a finished export waits for its download.
const EXPORT_KEEP: Duration = Duration::from_secs(30 * 60);
/// Exports one user may run at once.
const EXPORTS_PER_USER: usize = 2;
/// A page's statement is cancelled after this long (PostgreSQL).
const STATEMENT_TIMEOUT_MS: i64 = 20_000;
/// Saved queries per user.
const MAX_SAVED: i64 = 200;

/// A page of a query's result.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct QueryPage {
    pub items: Vec<QueryRow>,
    /// Pass as `after` for the next page; `null` on the last page.
    pub next: Option<String>,
}

fn query_error(e: QueryError) -> ServiceError {
    let field = if e.path.is_empty() { "query".to_string() } else { e.path };
    ServiceError::Validation { field, code: e.code, detail: e.detail }
}

/// A PostgreSQL statement timeout becomes a refusal the user can act on.
fn timeout_or(e: waterdesk_store::StoreError) -> ServiceError {
    if let waterdesk_store::StoreError::Sqlx(x) = &e
        && x.as_database_error().and_then(|d| d.code()).as_deref() == Some("57014")
    {
        return ServiceError::validation(
            "query",
            "query_timeout",
            "the query took too long: add a condition (a date range, a unit, a type)",
        );
    }
    e.into()
}

impl Services {
    /// Parses a query document in the service's time zone.
    pub fn order_query_parse(&self, doc: &serde_json::Value) -> ServiceResult<Query> {
        Query::parse(doc, &self.tz).map_err(query_error)
    }

    /// The units below each unit named by an `under` condition.
    async fn query_subtrees(&self, q: &Query) -> ServiceResult<HashMap<i64, Vec<i64>>> {
        let wanted: HashSet<i64> = q
            .conditions()
            .into_iter()
            .filter(|c| c.field == Field::Unit && c.op == Op::Under)
            .flat_map(|c| match &c.value {
                waterdesk_domain::query::Val::Ids(v) => v.clone(),
                _ => vec![],
            })
            .collect();
        let mut out = HashMap::new();
        if wanted.is_empty() {
            return Ok(out);
        }
        let mut c = self.db.read().await?;
        let all = waterdesk_store::units::list(&mut c).await?;
        for id in wanted {
            let ids = match all.iter().find(|u| u.id == id) {
                Some(top) => all.iter().filter(|u| u.path.starts_with(&top.path)).map(|u| u.id).collect(),
                None => vec![],
            };
            out.insert(id, ids);
        }
        Ok(out)
    }

    /// Writes the search keys of up to about `max` orders registered before they were
    /// kept (migration 0020), newest first, in transactions of 2,000; returns how many
    /// orders were covered (0: none left).
    pub async fn backfill_order_text(&self, max: i64) -> ServiceResult<i64> {
        let mut done = 0;
        while done < max {
            let mut tx = self.db.begin().await?;
            let n = waterdesk_store::order_text::backfill(&mut tx, self.db.backend(), 2_000).await?;
            crate::input::commit(tx).await?;
            if n == 0 {
                break;
            }
            done += n;
        }
        Ok(done)
    }

    /// One page of a checked query, in a read transaction (with a statement timeout on
    /// PostgreSQL).
    async fn query_page_in(
        &self,
        q: &Query,
        s: &QueryScope,
        after: Option<&waterdesk_domain::query::Cursor>,
        limit: i64,
    ) -> ServiceResult<(Vec<QueryRow>, Option<waterdesk_domain::query::Cursor>)> {
        let scope = s.scope(self.db.backend());
        repo::page_bounded(&self.db, q, &scope, after, limit, STATEMENT_TIMEOUT_MS).await.map_err(timeout_or)
    }

    fn present(&self, p: &Principal, mut rows: Vec<QueryRow>) -> Vec<QueryRow> {
        let mask = Masking::of(p);
        for r in &mut rows {
            r.caller = mask.phone(std::mem::take(&mut r.caller));
        }
        rows
    }

    /// A page of orders matching a query document, in the caller's data scope (R-DATA-02).
    pub async fn order_query(&self, p: &Principal, doc: &serde_json::Value) -> ServiceResult<QueryPage> {
        p.require(perm::ORDER_READ)?;
        let q = self.order_query_parse(doc)?;
        let access = self.scope(p).await?;
        let subtrees = self.query_subtrees(&q).await?;
        let scope = QueryScope {
            units: access.order_units().map(<[i64]>::to_vec),
            own: access.own_orders(),
            subtrees,
            text: None,
        };
        let (rows, next) = self.query_page_in(&q, &scope, q.after.as_ref(), q.limit).await?;
        Ok(QueryPage { items: self.present(p, rows), next: next.map(|c| c.encode(&q.sort)) })
    }

    /// The units a query may name for the caller: those in their data scope, as (id,
    /// name, English name), in tree order.
    pub async fn query_units(&self, p: &Principal) -> ServiceResult<Vec<(i64, String, String)>> {
        p.require(perm::ORDER_READ)?;
        let scope = self.scope_unit_ids(p).await?;
        let mut c = self.db.read().await?;
        let mut all = waterdesk_store::units::list(&mut c).await?;
        all.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(all
            .into_iter()
            .filter(|u| scope.as_ref().is_none_or(|s| s.contains(&u.id)))
            .map(|u| (u.id, u.name, u.name_en))
            .collect())
    }

    /// The most rows the caller may export.
    pub fn export_limit(p: &Principal) -> i64 {
        if p.has(perm::REPORT_EXPORT) { EXPORT_LIMIT_REPORT } else { EXPORT_LIMIT_DEFAULT }
    }

    // ---- saved queries ---------------------------------------------------------------

    /// The caller's saved queries and those shared in their unit.
    pub async fn saved_queries(&self, p: &Principal) -> ServiceResult<Vec<SavedQuery>> {
        p.require(perm::ORDER_READ)?;
        let mut c = self.db.read().await?;
        Ok(repo::saved_list(&mut c, p.user_id, p.unit_id).await?)
    }

    /// One saved query: the owner's, or shared in the caller's unit.
    pub async fn saved_query(&self, p: &Principal, id: i64) -> ServiceResult<SavedQuery> {
        p.require(perm::ORDER_READ)?;
        let mut c = self.db.read().await?;
        repo::saved_get(&mut c, id)
            .await?
            .filter(|s| s.owner_id == p.user_id || (s.shared && s.unit_id == p.unit_id))
            .ok_or(ServiceError::NotFound { entity: "saved_query" })
    }

    fn check_saved(&self, i: &SavedQueryInput) -> ServiceResult<(String, String)> {
        let name = i.name.trim().to_string();
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(ServiceError::validation("name", "invalid_name", "1 to 100 characters"));
        }
        let mut doc = i.definition.clone();
        // A saved query is a definition, not a position in a result.
        if let Some(o) = doc.as_object_mut() {
            o.remove("after");
        }
        self.order_query_parse(&doc)?;
        let text = doc.to_string();
        if text.len() > 64 * 1024 {
            return Err(ServiceError::validation("definition", "query_too_complex", "at most 64 KiB"));
        }
        Ok((name, text))
    }

    /// Saves a query for the caller (optionally shared with their unit).
    pub async fn saved_query_create(
        &self,
        p: &Principal,
        i: &SavedQueryInput,
        ctx: &AuditCtx,
    ) -> ServiceResult<SavedQuery> {
        p.require(perm::ORDER_READ)?;
        let (name, def) = self.check_saved(i)?;
        let mut tx = self.db.begin().await?;
        if repo::saved_count(&mut tx, p.user_id).await? >= MAX_SAVED {
            return Err(ServiceError::validation("name", "too_many", format!("at most {MAX_SAVED} saved queries")));
        }
        let id = repo::saved_insert(&mut tx, p.user_id, p.unit_id, &name, &def, i.shared, self.now()).await.map_err(
            |e| match e {
                waterdesk_store::StoreError::Conflict(_) => ServiceError::Duplicate { entity: "saved_query" },
                e => e.into(),
            },
        )?;
        let params = serde_json::json!({"id": id, "name": name, "shared": i.shared});
        security_in(&mut tx, self, &ctx.clone().for_principal(p), "query.save", "ok", params).await?;
        let s = repo::saved_get(&mut tx, id).await?.ok_or(ServiceError::NotFound { entity: "saved_query" })?;
        crate::input::commit(tx).await?;
        Ok(s)
    }

    /// Changes one of the caller's own queries (shared ones of others are read-only).
    pub async fn saved_query_update(
        &self,
        p: &Principal,
        id: i64,
        i: &SavedQueryInput,
        ctx: &AuditCtx,
    ) -> ServiceResult<SavedQuery> {
        p.require(perm::ORDER_READ)?;
        let (name, def) = self.check_saved(i)?;
        let mut tx = self.db.begin().await?;
        own_saved(&mut tx, p, id).await?;
        repo::saved_update(&mut tx, id, p.user_id, &name, &def, i.shared, self.now()).await.map_err(|e| match e {
            waterdesk_store::StoreError::Conflict(_) => ServiceError::Duplicate { entity: "saved_query" },
            e => e.into(),
        })?;
        let params = serde_json::json!({"id": id, "name": name, "shared": i.shared});
        security_in(&mut tx, self, &ctx.clone().for_principal(p), "query.update", "ok", params).await?;
        let s = repo::saved_get(&mut tx, id).await?.ok_or(ServiceError::NotFound { entity: "saved_query" })?;
        crate::input::commit(tx).await?;
        Ok(s)
    }

    /// Deletes one of the caller's own queries.
    pub async fn saved_query_delete(&self, p: &Principal, id: i64, ctx: &AuditCtx) -> ServiceResult<()> {
        p.require(perm::ORDER_READ)?;
        let mut tx = self.db.begin().await?;
        let existing = own_saved(&mut tx, p, id).await?;
        repo::saved_delete(&mut tx, id, p.user_id).await?;
        let name = existing.name;
        security_in(
            &mut tx,
            self,
            &ctx.clone().for_principal(p),
            "query.delete",
            "ok",
            serde_json::json!({"id": id, "name": name}),
        )
        .await?;
        crate::input::commit(tx).await?;
        Ok(())
    }
}

/// One of the caller's own saved queries, read in `conn`: another's query shared in the
/// caller's unit is refused (403), any other is not found (404).
async fn own_saved(conn: &mut waterdesk_store::AnyConnection, p: &Principal, id: i64) -> ServiceResult<SavedQuery> {
    match repo::saved_get(conn, id).await? {
        Some(s) if s.owner_id == p.user_id => Ok(s),
        Some(s) if s.shared && s.unit_id == p.unit_id => Err(ServiceError::Forbidden { permission: "owner".into() }),
        _ => Err(ServiceError::NotFound { entity: "saved_query" }),
    }
}

/// A saved query to create or replace.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SavedQueryInput {
    pub name: String,
    /// The query document (`where`, `sort`, `limit`).
    #[schema(value_type = Object)]
    pub definition: serde_json::Value,
    #[serde(default)]
    pub shared: bool,
}

// ---- exports -------------------------------------------------------------------------

/// The columns of an export, in order: (field name, kind, 中文, English).
pub const EXPORT_COLUMNS: &[(&str, CellKind, &str, &str)] = &[
    ("order_no", CellKind::Text, "工单号", "Order no."),
    ("contact_no", CellKind::Text, "热线编号", "Contact no."),
    ("registered_at", CellKind::DateTime, "登记时间", "Registered"),
    ("type", CellKind::Text, "工单类型", "Type"),
    ("state", CellKind::Text, "状态", "State"),
    ("priority", CellKind::Integer, "优先级", "Priority"),
    ("channel", CellKind::Text, "反映形式", "Channel"),
    ("source", CellKind::Text, "反映来源", "Source"),
    ("category", CellKind::Text, "反映类别", "Category"),
    ("unit", CellKind::Text, "处理单位", "Handling unit"),
    ("caller", CellKind::Text, "来电号码", "Caller"),
    ("address", CellKind::Text, "地址", "Address"),
    ("title", CellKind::Text, "标题", "Title"),
    ("content", CellKind::Text, "内容", "Content"),
    ("overdue", CellKind::Text, "是否超期", "Overdue"),
    ("satisfaction", CellKind::Text, "满意度", "Satisfaction"),
    ("resolved_at", CellKind::DateTime, "处理完成时间", "Resolved"),
    ("concluded_at", CellKind::DateTime, "办结时间", "Concluded"),
    ("handling_hours", CellKind::Decimal, "处理时长(小时)", "Handling time (hours)"),
];

/// An export run as its owner sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ExportRun {
    pub id: String,
    /// `running`, `done` or `failed`.
    pub state: String,
    pub done: i64,
    pub total: i64,
    pub file_name: String,
    /// Why it failed.
    pub error: Option<String>,
}

struct ExportEntry {
    /// The `Services` that started it (tests run several in one process).
    instance: usize,
    owner: i64,
    run: ExportRun,
    started: Instant,
    file: Option<Arc<tempfile::NamedTempFile>>,
}

/// Exports of this process by id.
static EXPORTS: LazyLock<Mutex<HashMap<String, ExportEntry>>> = LazyLock::new(Default::default);

fn exports() -> std::sync::MutexGuard<'static, HashMap<String, ExportEntry>> {
    EXPORTS.lock().unwrap_or_else(|e| e.into_inner())
}

fn set_progress(id: &str, f: impl FnOnce(&mut ExportEntry)) {
    if let Some(e) = exports().get_mut(id) {
        f(e);
    }
}

/// Order origins by name (they stand in for channel and source without a contact).
const ORIGIN_NAMES: &[(&str, &str, &str)] = &[
    ("staff", "人工登记", "Registered by staff"),
    ("portal", "网上服务厅", "Self-service portal"),
    ("api", "外部系统", "Other system"),
    ("billing", "营业收费系统", "Billing system"),
    ("hotline12345", "12345 热线", "12345 hotline"),
    ("alarm", "监测报警", "Monitoring alarm"),
    ("plan", "计划任务", "Plan"),
];

/// What a query runs within, owned (an export's pages run in a task of their own).
struct QueryScope {
    /// The caller's units (`None`: all).
    units: Option<Vec<i64>>,
    /// Data scope `own`: only the caller's orders.
    own: Option<waterdesk_store::orders::OwnOrders>,
    /// The units under each unit an `under` condition names.
    subtrees: HashMap<i64, Vec<i64>>,
    /// How free text is looked up, when decided once for all statements.
    text: Option<repo::TextPlan>,
}

impl QueryScope {
    fn scope(&self, backend: waterdesk_store::Backend) -> Scope<'_> {
        Scope {
            units: self.units.as_deref(),
            own: self.own,
            subtrees: &self.subtrees,
            backend,
            text: self.text.as_ref(),
        }
    }
}

/// Names for the codes in an export: dictionaries, states, satisfaction, yes/no.
struct Names {
    zh: bool,
    dicts: HashMap<(String, String), String>,
}

impl Names {
    /// A dictionary name; for channel and source of orders without a contact, the origin's.
    fn dict(&self, dict: &str, code: &str) -> String {
        if let Some(n) = self.dicts.get(&(dict.to_string(), code.to_string())) {
            return n.clone();
        }
        match ORIGIN_NAMES.iter().find(|o| o.0 == code) {
            Some((_, zh, en)) if dict != "category" => if self.zh { zh } else { en }.to_string(),
            _ => code.to_string(),
        }
    }

    fn state(&self, code: &str) -> String {
        match waterdesk_domain::workflow::State::parse(code) {
            Some(s) => if self.zh { s.label().0 } else { s.label().1 }.to_string(),
            None => code.to_string(),
        }
    }

    fn satisfaction(&self, code: &str) -> String {
        let (zh, en) = match code {
            "satisfied" => ("满意", "Satisfied"),
            "basically_satisfied" => ("基本满意", "Basically satisfied"),
            "unsatisfied" => ("不满意", "Unsatisfied"),
            other => (other, other),
        };
        if self.zh { zh } else { en }.to_string()
    }
}

impl Services {
    /// Identifies this service instance (its clones share it) in the process-wide registry.
    fn instance(&self) -> usize {
        Arc::as_ptr(&self.auth) as usize
    }

    /// Checks a query for export and starts writing its whole result to an XLSX in the
    /// background (R-DATA-03). Refused with `export_too_large` (and the count) over the
    /// caller's limit.
    pub async fn order_export_start(
        &self,
        p: &Principal,
        doc: &serde_json::Value,
        zh: bool,
        ctx: &AuditCtx,
    ) -> ServiceResult<ExportRun> {
        p.require(perm::ORDER_READ)?;
        let mut doc = doc.clone();
        if let Some(o) = doc.as_object_mut() {
            o.remove("after");
            o.remove("limit");
        }
        let q = self.order_query_parse(&doc)?;
        purge_exports();
        let me = self.instance();
        let running =
            exports().values().filter(|e| e.instance == me && e.owner == p.user_id && e.run.state == "running").count();
        if running >= EXPORTS_PER_USER {
            return Err(ServiceError::validation(
                "query",
                "export_busy",
                format!("at most {EXPORTS_PER_USER} exports at a time; wait for one to finish"),
            ));
        }
        let access = self.scope(p).await?;
        let subtrees = self.query_subtrees(&q).await?;
        let limit = Self::export_limit(p);
        // Counted up to ten times the limit, so a refusal can say how far over it is
        // without counting the whole book.
        let count_cap = limit * 10;
        // How free text is looked up is decided once, for the count and every page.
        let (scope, total) = {
            let mut c = self.db.read().await?;
            let text = Some(repo::TextPlan::of(&mut c, &q, self.db.backend()).await?);
            let scope = QueryScope {
                units: access.order_units().map(<[i64]>::to_vec),
                own: access.own_orders(),
                subtrees,
                text,
            };
            let total = repo::count_upto(&mut c, &q, &scope.scope(self.db.backend()), count_cap + 1)
                .await
                .map_err(timeout_or)?;
            (scope, total)
        };
        if total > limit {
            let n = if total > count_cap { format!("more than {count_cap}") } else { total.to_string() };
            return Err(ServiceError::validation(
                "query",
                "export_too_large",
                format!("{n} rows match; you may export at most {limit} — narrow the query"),
            ));
        }
        let names = self.export_names(zh).await?;
        let id = uuid::Uuid::new_v4().simple().to_string();
        let stamp = self.now().to_zoned(self.tz.clone()).strftime("%Y%m%d-%H%M%S").to_string();
        let run = ExportRun {
            id: id.clone(),
            state: "running".into(),
            done: 0,
            total,
            file_name: format!("orders-{stamp}.xlsx"),
            error: None,
        };
        {
            let mut tx = self.db.begin().await?;
            let params = serde_json::json!({"export": id, "rows": total, "query": doc});
            security_in(&mut tx, self, &ctx.clone().for_principal(p), "order.export", "ok", params).await?;
            crate::input::commit(tx).await?;
        }
        exports().insert(
            id.clone(),
            ExportEntry { instance: me, owner: p.user_id, run: run.clone(), started: Instant::now(), file: None },
        );
        let (svc, p2) = (self.clone(), p.clone());
        tokio::spawn(async move {
            let r = svc.export_task(&id, &p2, &q, &scope, names).await;
            set_progress(&id, |e| match r {
                Ok(file) => {
                    e.run.state = "done".into();
                    e.run.done = e.run.done.max(e.run.total);
                    e.file = Some(Arc::new(file));
                }
                Err(err) => {
                    tracing::error!(error = %err, "order export failed");
                    e.run.state = "failed".into();
                    e.run.error = Some(err.code().to_string());
                }
            });
        });
        Ok(run)
    }

    async fn export_names(&self, zh: bool) -> ServiceResult<Names> {
        let mut c = self.db.read().await?;
        let mut dicts = HashMap::new();
        for d in ["channel", "source", "category"] {
            for i in waterdesk_store::dicts::items(&mut c, d, true).await? {
                dicts.insert((d.to_string(), i.code), if zh { i.label_zh } else { i.label_en });
            }
        }
        Ok(Names { zh, dicts })
    }

    async fn export_task(
        &self,
        id: &str,
        p: &Principal,
        q: &Query,
        scope: &QueryScope,
        names: Names,
    ) -> ServiceResult<tempfile::NamedTempFile> {
        let columns: Vec<&'static str> = EXPORT_COLUMNS.iter().map(|c| c.0).collect();
        let labels = EXPORT_COLUMNS.iter().map(|c| if names.zh { c.2 } else { c.3 }.to_string()).collect();
        let mut w = XlsxWriter::new(&columns, labels)?.with_kinds(EXPORT_COLUMNS.iter().map(|c| c.1).collect());
        let mut after = None;
        let mut done = 0i64;
        let limit = Self::export_limit(p);
        loop {
            let (rows, next) = self.query_page_in(q, scope, after.as_ref(), EXPORT_PAGE).await?;
            for r in self.present(p, rows) {
                w.push(&self.export_cells(&r, &names))?;
                done += 1;
            }
            set_progress(id, |e| {
                e.run.done = done;
                e.run.total = e.run.total.max(done);
            });
            // Orders registered since the count may add a few rows; never past the limit.
            if next.is_none() || done >= limit {
                break;
            }
            after = next;
        }
        tokio::task::spawn_blocking(move || -> ServiceResult<tempfile::NamedTempFile> {
            let mut f = tempfile::NamedTempFile::new().map_err(|e| ServiceError::Internal(e.to_string()))?;
            w.finish(f.as_file_mut())?;
            Ok(f)
        })
        .await
        .map_err(|e| ServiceError::Internal(e.to_string()))?
    }

    fn export_cells(&self, r: &QueryRow, n: &Names) -> Vec<String> {
        let local = |t: jiff::Timestamp| t.to_zoned(self.tz.clone()).strftime("%Y-%m-%dT%H:%M:%S").to_string();
        let hours = r
            .resolved_at
            .map(|res| format!("{:.1}", res.duration_since(r.registered_at).as_secs_f64() / 3600.0))
            .unwrap_or_default();
        vec![
            r.order_no.clone(),
            r.contact_no.clone().unwrap_or_default(),
            local(r.registered_at),
            if n.zh { r.type_zh.clone() } else { r.type_en.clone() },
            n.state(&r.state),
            r.priority.to_string(),
            n.dict("channel", &r.channel),
            n.dict("source", &r.source),
            n.dict("category", &r.category),
            r.unit_name.clone(),
            r.caller.clone(),
            r.address.clone(),
            r.title.clone(),
            r.content.clone(),
            if r.overdue {
                if n.zh { "是" } else { "yes" }
            } else if n.zh {
                "否"
            } else {
                "no"
            }
            .to_string(),
            n.satisfaction(&r.satisfaction),
            r.resolved_at.map(local).unwrap_or_default(),
            r.concluded_at.map(local).unwrap_or_default(),
            hours,
        ]
    }

    /// An export run of the caller's.
    pub fn order_export_status(&self, p: &Principal, id: &str) -> ServiceResult<ExportRun> {
        p.require(perm::ORDER_READ)?;
        purge_exports();
        let me = self.instance();
        exports()
            .get(id)
            .filter(|e| e.instance == me && e.owner == p.user_id)
            .map(|e| e.run.clone())
            .ok_or(ServiceError::NotFound { entity: "export" })
    }

    /// The finished workbook of one of the caller's exports (a fresh handle each time)
    /// and its file name.
    pub fn order_export_file(&self, p: &Principal, id: &str) -> ServiceResult<(std::fs::File, String)> {
        p.require(perm::ORDER_READ)?;
        let me = self.instance();
        let (file, name) = {
            let m = exports();
            let e = m
                .get(id)
                .filter(|e| e.instance == me && e.owner == p.user_id)
                .ok_or(ServiceError::NotFound { entity: "export" })?;
            let Some(f) = &e.file else {
                return Err(ServiceError::validation(
                    "id",
                    "export_not_ready",
                    "the export is still running or failed",
                ));
            };
            (f.clone(), e.run.file_name.clone())
        };
        let f = file.reopen().map_err(|e| ServiceError::Internal(e.to_string()))?;
        Ok((f, name))
    }
}

/// Forgets exports older than [`EXPORT_KEEP`] (their files are deleted when the last
/// download of them ends).
fn purge_exports() {
    exports().retain(|_, e| e.started.elapsed() < EXPORT_KEEP || e.run.state == "running");
}
