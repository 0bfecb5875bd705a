//! `waterdesk seed --orders N --contacts M`: a realistic history of contacts and work
//! orders for statistics and benchmarks (issue 6). Deterministic for a given seed.
//!
//! - **When**: spread over the last `months`, with seasons (more in winter — frozen and
//!   burst pipes — and in July/August — outages and water quality) and office hours.
//! - **What**: order types by realistic shares (repairs about a third, consultations a
//!   fifth, complaints an eighth …); 70 % of orders come from a contact (hotline mostly,
//!   then WeChat, 12345, web …), the rest from staff; extra contacts without an order.
//! - **How it went**: every order walks its type's workflow as people would — accepted in
//!   minutes, dispatched to a crew member, acknowledged, on site, resolved within its
//!   deadline nine times in ten (one in ten late: overdue), some suspended for hours,
//!   verified, visited with satisfaction (82 % satisfied, 12 % basically, 6 % not) and a
//!   reply; 2 % rejected, 3 % cancelled. Steps after "now" have not happened yet, so
//!   recent orders are open. Every step is an `order_events` row, as the application
//!   writes it, so the indicators (domain::kpi) read this history like a real one.
//! - Numbers (热线编号, 工单号) are reserved per day from the same counters the
//!   application uses, so orders registered afterwards never collide.

use std::collections::{BTreeMap, HashMap};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use waterdesk_domain::numbering::{DocNumber, NumberKind, day_key};
use waterdesk_domain::sla::Deadline;
use waterdesk_domain::workflow::{Action, State, Workflow};
use waterdesk_store::sql::Value;
use waterdesk_store::{bulk, dicts, numbers, units};

use crate::escalation::targets_of;
use crate::{ServiceError, ServiceResult, Services};

/// What to generate.
#[derive(Debug, Clone)]
pub struct WorkSeedOptions {
    pub orders: i64,
    /// Contacts without an order (consultations answered at once, praise, suggestions).
    pub contacts: i64,
    pub months: i64,
    pub seed: u64,
    /// Orders (or contacts) per transaction.
    pub batch: i64,
}

impl Default for WorkSeedOptions {
    fn default() -> Self {
        WorkSeedOptions { orders: 1000, contacts: 0, months: 12, seed: 2050, batch: 2000 }
    }
}

/// What was generated.
#[derive(Debug, Clone, Default)]
pub struct WorkSeedReport {
    pub orders: i64,
    pub contacts: i64,
    pub events: i64,
    pub open: i64,
    pub overdue: i64,
    pub seconds: f64,
}

const TYPE_SHARES: &[(&str, u32)] = &[
    ("repair", 34),
    ("consultation", 20),
    ("complaint", 12),
    ("meter_replace", 6),
    ("maintenance", 5),
    ("water_quality", 5),
    ("outage", 4),
    ("hazard", 4),
    ("review", 3),
    ("new_connection", 3),
    ("meter_remove", 2),
    ("patrol", 2),
];
const CHANNELS: &[(&str, u32)] = &[
    ("hotline", 60),
    ("wechat", 15),
    ("gov_12345", 8),
    ("web", 7),
    ("app", 5),
    ("walk_in", 3),
    ("sms", 1),
    ("email", 1),
];
const STANDALONE: &[(&str, u32)] =
    &[("consultation", 70), ("help", 12), ("suggestion", 8), ("praise", 6), ("other", 4)];
const ROADS: &[(&str, f64, f64)] = &[
    ("西湖区文三路", 30.277, 120.140),
    ("西湖区天目山路", 30.272, 120.125),
    ("西湖区古墩路", 30.290, 120.099),
    ("拱墅区湖墅南路", 30.283, 120.153),
    ("拱墅区莫干山路", 30.301, 120.149),
    ("拱墅区德胜路", 30.299, 120.166),
    ("上城区解放路", 30.257, 120.178),
    ("上城区庆春路", 30.264, 120.180),
    ("上城区钱江路", 30.245, 120.211),
    ("滨江区江南大道", 30.207, 120.208),
    ("萧山区金城路", 30.176, 120.266),
    ("余杭区文一西路", 30.290, 120.010),
];

fn pick<'a, T>(rng: &mut StdRng, shares: &'a [(T, u32)]) -> &'a T {
    let total: u32 = shares.iter().map(|s| s.1).sum();
    let mut n = rng.random_range(0..total);
    for (v, w) in shares {
        if n < *w {
            return v;
        }
        n -= w;
    }
    &shares[0].0
}

fn title_of(kind: &str, place: &str) -> String {
    match kind {
        "repair" => format!("{place}水管漏水"),
        "consultation" => "咨询水费与阶梯水价".to_string(),
        "complaint" => format!("{place}水压低，反映多次未解决"),
        "meter_replace" => "水表停走，申请换表".to_string(),
        "maintenance" => format!("{place}阀门井养护"),
        "water_quality" => format!("{place}自来水发黄有异味"),
        "outage" => format!("{place}突然停水"),
        "hazard" => format!("{place}井盖松动"),
        "review" => "对本月水量有异议，申请复核".to_string(),
        "new_connection" => "新建商铺申请报装".to_string(),
        "meter_remove" => "房屋拆迁申请拆表".to_string(),
        "patrol" => format!("{place}管网巡查"),
        _ => "来电咨询".to_string(),
    }
}

/// One generated step: (action, from, to, at, fields JSON, actor).
type Step = (&'static str, &'static str, &'static str, jiff::Timestamp, String, Option<i64>);

/// An order's generated life.
struct Life {
    steps: Vec<Step>,
    pauses: Vec<(jiff::Timestamp, Option<jiff::Timestamp>)>,
    assignee: Option<i64>,
}

/// Numbers of one kind reserved in advance, per local day, from the application's own
/// counters; handed out in order.
struct Reserved {
    kind: NumberKind,
    /// Day → (next sequence number, last one reserved).
    next: BTreeMap<String, (i64, i64)>,
}

impl Reserved {
    /// Reserves one number for each of `times` (on its local day).
    async fn take(
        conn: &mut waterdesk_store::AnyConnection,
        kind: NumberKind,
        times: impl Iterator<Item = jiff::Timestamp>,
        tz: &jiff::tz::TimeZone,
    ) -> ServiceResult<Reserved> {
        let mut per_day: BTreeMap<String, i64> = BTreeMap::new();
        for at in times {
            *per_day.entry(day_key(at, tz)).or_default() += 1;
        }
        let mut next = BTreeMap::new();
        for (day, count) in per_day {
            let first = numbers::allocate_range(conn, kind, &day, count).await?;
            next.insert(day, (first, first + count - 1));
        }
        Ok(Reserved { kind, next })
    }

    /// The next reserved number of `at`'s day.
    fn next(&mut self, at: jiff::Timestamp, tz: &jiff::tz::TimeZone) -> ServiceResult<String> {
        let day = day_key(at, tz);
        let (seq, _) = self
            .next
            .get_mut(&day)
            .filter(|(seq, last)| seq <= last)
            .ok_or_else(|| ServiceError::Internal(format!("no number left reserved for {day}")))?;
        let no = DocNumber { kind: self.kind, day, seq: *seq };
        *seq += 1;
        Ok(no.to_string())
    }
}

fn mins(m: i64) -> jiff::SignedDuration {
    jiff::SignedDuration::from_mins(m)
}

impl Services {
    /// Generates `o.orders` work orders with their history and contacts, and
    /// `o.contacts` contacts without an order. `progress(done, total)` after every batch.
    pub async fn seed_work(
        &self,
        o: &WorkSeedOptions,
        mut progress: impl FnMut(i64, i64),
    ) -> ServiceResult<WorkSeedReport> {
        let started = std::time::Instant::now();
        let now = self.now();
        let mut rng = StdRng::seed_from_u64(o.seed ^ 0x0057_4f52);
        let backend = self.db.backend();
        let (types, crew, branch_units, agent, causes, solutions) = {
            let mut c = self.db.read().await?;
            let types = waterdesk_store::orders::list_types(&mut c).await?;
            let crew = waterdesk_store::orders::crew(&mut c, None).await?;
            let all = units::list(&mut c).await?;
            let mut branches: Vec<i64> = all.iter().filter(|u| u.kind == "branch").map(|u| u.id).collect();
            if branches.is_empty() {
                branches = all.iter().map(|u| u.id).take(1).collect();
            }
            let agent = waterdesk_store::users::get_by_username(&mut c, "agent").await?.map(|u| u.id);
            let codes = |items: Vec<waterdesk_store::dicts::DictItem>| -> Vec<String> {
                items.into_iter().map(|i| i.code).collect()
            };
            let causes = codes(dicts::items(&mut c, "cause", false).await?);
            let solutions = codes(dicts::items(&mut c, "solution", false).await?);
            (types, crew, branches, agent, causes, solutions)
        };
        if branch_units.is_empty() {
            return Err(ServiceError::Internal("no organisation unit to attach orders to".into()));
        }
        // A bare installation (only the root unit) gets a utility's branches, so that
        // figures grouped by unit have something to group.
        let branch_units =
            if branch_units.len() < 2 { self.seed_branches(branch_units[0]).await? } else { branch_units };
        // Somebody has to do the field work: without crew members, some are created (they
        // cannot sign in until an administrator resets their passwords).
        let crew = if crew.is_empty() {
            self.seed_crews(&branch_units, (o.orders / 2000).clamp(10, 500)).await?
        } else {
            crew
        };
        let workflows: BTreeMap<String, (Workflow, waterdesk_store::orders::OrderType)> = types
            .into_iter()
            .filter_map(|t| serde_json::from_str::<Workflow>(&t.workflow).ok().map(|w| (t.code.clone(), (w, t))))
            .collect();
        let span = jiff::SignedDuration::from_hours(24 * 30 * o.months.max(1));
        let first = now - span;
        let mut report = WorkSeedReport::default();

        // Orders, a batch per transaction, in the order they were registered (as a real
        // history grows: ids and times rise together, and indexes are appended to).
        let order_times = self.seasonal_instants(&mut rng, first, now, o.orders);
        let mut done = 0;
        while done < o.orders {
            let n = o.batch.min(o.orders - done);
            let mut gen_orders = Vec::with_capacity(n as usize);
            for &reg in &order_times[done as usize..(done + n) as usize] {
                let kind = *pick(&mut rng, TYPE_SHARES);
                let Some((w, t)) = workflows.get(kind) else { continue };
                let (impact, urgency) = (
                    ["low", "medium", "high"][rng.random_range(0..3)],
                    ["low", "medium", "medium", "high"][rng.random_range(0..4)],
                );
                let level = |s: &str| {
                    waterdesk_domain::workflow::Level::parse(s).unwrap_or(waterdesk_domain::workflow::Level::Low)
                };
                let priority = i64::from(waterdesk_domain::workflow::priority(level(impact), level(urgency)));
                let (targets, _) = targets_of(t, priority);
                let crew_member = (!crew.is_empty()).then(|| &crew[rng.random_range(0..crew.len())]);
                let life = self.simulate(
                    &mut rng,
                    w,
                    reg,
                    now,
                    targets.complete,
                    crew_member.map(|c| c.user_id),
                    agent,
                    &causes,
                    &solutions,
                );
                let (place, lat, lng) = ROADS[rng.random_range(0..ROADS.len())];
                let from_contact = rng.random_bool(0.7);
                gen_orders.push((
                    kind,
                    reg,
                    impact,
                    urgency,
                    priority,
                    targets,
                    crew_member.map(|c| c.unit_id),
                    life,
                    place,
                    lat,
                    lng,
                    from_contact,
                ));
            }
            let mut tx = self.db.begin().await?;
            let order_times = gen_orders.iter().map(|g| g.1);
            let mut order_nos = Reserved::take(&mut tx, NumberKind::WorkOrder, order_times, &self.tz).await?;
            // A contact comes 5 minutes before its order.
            let contact_times = gen_orders.iter().filter(|g| g.11).map(|g| g.1 - mins(5));
            let mut contact_nos = Reserved::take(&mut tx, NumberKind::Contact, contact_times, &self.tz).await?;
            let mut oid = bulk::next_id(&mut tx, "work_orders").await?;
            let mut cid = bulk::next_id(&mut tx, "contacts").await?;
            let (mut orders, mut contacts, mut events, mut pauses) = (vec![], vec![], vec![], vec![]);
            // Every order's version: its indicator facts are stored at once.
            let mut versions: HashMap<i64, i64> = HashMap::new();
            // (id, title, address) for the search keys.
            let mut texts: Vec<(i64, String, String)> = Vec::with_capacity(n as usize);
            for (kind, reg, impact, urgency, priority, targets, crew_unit, life, place, lat, lng, from_contact) in
                gen_orders
            {
                let order_no = order_nos.next(reg, &self.tz)?;
                let title = title_of(kind, place);
                let caller = format!("13{}{:08}", rng.random_range(0..10), rng.random_range(0..100_000_000u32));
                let address = format!("{place}{}号", rng.random_range(1..400));
                let unit = crew_unit
                    .filter(|_| life.assignee.is_some())
                    .unwrap_or(branch_units[rng.random_range(0..branch_units.len())]);
                let first_at = |a: &str| life.steps.iter().find(|s| s.0 == a).map(|s| s.3);
                let last_at = |a: &str| life.steps.iter().rev().find(|s| s.0 == a).map(|s| s.3);
                let last = life.steps.last().map(|s| s.2).unwrap_or("registered");
                let suspended_from =
                    (last == "suspended").then(|| life.steps.iter().rev().nth(1).map(|s| s.2).unwrap_or("in_progress"));
                let accepted_at = first_at("accept").or(first_at("approve"));
                let resolved_at = last_at("complete");
                let concluded_at = life.steps.iter().find(|s| s.2 == "concluded").map(|s| s.3);
                let replied_at = life.steps.iter().find(|s| s.4.contains("\"reply\"")).map(|s| s.3);
                let paused: jiff::SignedDuration = life
                    .pauses
                    .iter()
                    .map(|(a, b)| b.unwrap_or(now).duration_since(*a))
                    .fold(jiff::SignedDuration::ZERO, |x, y| x + y);
                let deadline = match (accepted_at, Deadline::Complete.target(&targets)) {
                    (Some(a), Some(m)) => Some(a + mins(i64::from(m)) + paused),
                    _ => None,
                };
                let closed = matches!(last, "concluded" | "cancelled" | "rejected");
                let overdue = match (deadline, resolved_at.or(concluded_at)) {
                    (Some(d), Some(r)) => r > d,
                    (Some(d), None) => !closed && now > d,
                    _ => false,
                };
                report.overdue += i64::from(overdue);
                versions.insert(oid, life.steps.len() as i64);
                report.open += i64::from(!closed);
                let mut fields = serde_json::Map::new();
                for s in &life.steps {
                    if let Ok(serde_json::Value::Object(m)) = serde_json::from_str(&s.4) {
                        fields.extend(m);
                    }
                }
                let contact_no = if from_contact { Some(contact_nos.next(reg - mins(5), &self.tz)?) } else { None };
                let contact_id = contact_no.map(|no| {
                    let id = cid;
                    cid += 1;
                    let at = reg - mins(5);
                    let (status, reply) = match replied_at {
                        Some(_) => ("replied", fields.get("reply").and_then(|r| r.as_str()).unwrap_or("").to_string()),
                        None => ("open", String::new()),
                    };
                    let category = match kind {
                        "repair" | "outage" | "water_quality" | "hazard" => "repair",
                        "complaint" => "complaint",
                        "consultation" | "review" => "consultation",
                        _ => "help",
                    };
                    contacts.push(vec![
                        Value::I64(id),
                        Value::Text(no),
                        Value::Text((*pick(&mut rng, CHANNELS)).to_string()),
                        "inbound".into(),
                        "customer".into(),
                        Value::Text(status.into()),
                        Value::Text(caller.clone()),
                        Value::I64(unit),
                        Value::opt_i64(agent),
                        Value::Text(category.into()),
                        Value::Text(title.clone()),
                        Value::Text(address.clone()),
                        Value::Text(reply),
                        Value::opt_text(replied_at.map(waterdesk_domain::time::to_db)),
                        Value::Text(waterdesk_domain::time::to_db(at)),
                        Value::Text(order_no.clone()),
                        Value::Text(waterdesk_domain::time::to_db(at)),
                        Value::Text(waterdesk_domain::time::to_db(at)),
                    ]);
                    id
                });
                texts.push((oid, title.clone(), address.clone()));
                let ts = |t: Option<jiff::Timestamp>| Value::opt_text(t.map(waterdesk_domain::time::to_db));
                let updated = life.steps.last().map(|s| s.3).unwrap_or(reg);
                orders.push(vec![
                    Value::I64(oid),
                    Value::Text(order_no),
                    Value::Text(kind.into()),
                    Value::Text(last.into()),
                    Value::opt_text(suspended_from.map(str::to_string)),
                    Value::I64(life.steps.len() as i64),
                    Value::Text(if from_contact { "contact" } else { "staff" }.into()),
                    Value::opt_i64(contact_id),
                    Value::Text(String::new()),
                    Value::Text(impact.into()),
                    Value::Text(urgency.into()),
                    Value::I64(priority),
                    Value::Text(title.clone()),
                    Value::Text(title),
                    Value::Text(address),
                    Value::I64((lat * 1e6) as i64 + rng.random_range(-3000..3000)),
                    Value::I64((lng * 1e6) as i64 + rng.random_range(-3000..3000)),
                    Value::Text(if from_contact { caller } else { String::new() }),
                    Value::I64(unit),
                    Value::opt_i64(life.assignee),
                    Value::opt_i64(agent),
                    Value::Text(serde_json::Value::Object(fields).to_string()),
                    ts(accepted_at),
                    ts(first_at("dispatch")),
                    ts(first_at("acknowledge")),
                    ts(first_at("start")),
                    ts(resolved_at),
                    ts(concluded_at),
                    ts(replied_at),
                    ts((!closed).then_some(now)),
                    Value::I64(i64::from(overdue)),
                    Value::Text(waterdesk_domain::time::to_db(reg)),
                    Value::Text(waterdesk_domain::time::to_db(updated)),
                ]);
                for (action, from, to, at, f, actor) in &life.steps {
                    events.push(vec![
                        Value::I64(oid),
                        Value::Text((*action).into()),
                        Value::Text((*from).into()),
                        Value::Text((*to).into()),
                        Value::opt_i64(*actor),
                        Value::Text(String::new()),
                        Value::Text(f.clone()),
                        Value::Text(waterdesk_domain::time::to_db(*at)),
                    ]);
                }
                for (a, b) in &life.pauses {
                    pauses.push(vec![
                        Value::I64(oid),
                        Value::Text(waterdesk_domain::time::to_db(*a)),
                        Value::opt_text(b.map(waterdesk_domain::time::to_db)),
                    ]);
                }
                oid += 1;
            }
            bulk::insert(&mut tx, backend, "contacts", CONTACT_COLS, &contacts).await?;
            bulk::insert(&mut tx, backend, "work_orders", ORDER_COLS, &orders).await?;
            bulk::insert(
                &mut tx,
                backend,
                "order_events",
                &["order_id", "action", "from_state", "to_state", "actor_id", "note", "fields", "at"],
                &events,
            )
            .await?;
            bulk::insert(&mut tx, backend, "order_pauses", &["order_id", "started_at", "ended_at"], &pauses).await?;
            let text_rows: Vec<(i64, &str, &str, &str)> = texts
                .iter()
                .map(|(id, title, address)| (*id, title.as_str(), title.as_str(), address.as_str()))
                .collect();
            waterdesk_store::order_text::index(&mut tx, backend, &text_rows).await?;
            bulk::sync_ids(&mut tx, backend, "work_orders").await?;
            bulk::sync_ids(&mut tx, backend, "contacts").await?;
            let mut ids: Vec<i64> = versions.keys().copied().collect();
            ids.sort_unstable();
            let facts = self.standing_facts_of(&mut tx, &ids, &versions).await?;
            waterdesk_store::stats::store_facts(&mut tx, backend, &facts).await?;
            crate::input::commit(tx).await?;
            report.orders += orders.len() as i64;
            report.contacts += contacts.len() as i64;
            report.events += events.len() as i64;
            done += n;
            progress(done, o.orders + o.contacts);
        }

        // Contacts without an order, answered at once.
        drop(order_times);
        let contact_times = self.seasonal_instants(&mut rng, first, now, o.contacts);
        let mut done_c = 0;
        while done_c < o.contacts {
            let n = o.batch.min(o.contacts - done_c);
            let batch: Vec<(jiff::Timestamp, &str)> = contact_times[done_c as usize..(done_c + n) as usize]
                .iter()
                .map(|&at| (at, *pick(&mut rng, STANDALONE)))
                .collect();
            let mut tx = self.db.begin().await?;
            let mut contact_nos =
                Reserved::take(&mut tx, NumberKind::Contact, batch.iter().map(|b| b.0), &self.tz).await?;
            let mut cid = bulk::next_id(&mut tx, "contacts").await?;
            let mut rows = Vec::with_capacity(batch.len());
            for (at, category) in batch {
                let no = contact_nos.next(at, &self.tz)?;
                let (place, _, _) = ROADS[rng.random_range(0..ROADS.len())];
                let (content, reply) = match category {
                    "consultation" => ("咨询本月水费为何升高".to_string(), "已解释阶梯水价，客户表示理解".to_string()),
                    "help" => (format!("{place}老人独居，家中水龙头关不上"), "已联系社区协助".to_string()),
                    "suggestion" => ("建议增加微信缴费提醒".to_string(), "感谢建议，已转相关部门".to_string()),
                    "praise" => ("表扬维修师傅服务周到".to_string(), "感谢表扬，已转告班组".to_string()),
                    _ => ("其他来电".to_string(), "已答复".to_string()),
                };
                let replied = at + mins(rng.random_range(1..20));
                let t = |x: jiff::Timestamp| Value::Text(waterdesk_domain::time::to_db(x));
                rows.push(vec![
                    Value::I64(cid),
                    Value::Text(no),
                    Value::Text((*pick(&mut rng, CHANNELS)).to_string()),
                    "inbound".into(),
                    "customer".into(),
                    "replied".into(),
                    Value::Text(format!("13{}{:08}", rng.random_range(0..10), rng.random_range(0..100_000_000u32))),
                    Value::I64(branch_units[rng.random_range(0..branch_units.len())]),
                    Value::opt_i64(agent),
                    Value::Text(category.into()),
                    Value::Text(content),
                    Value::Text(String::new()),
                    Value::Text(reply),
                    t(replied.min(now)),
                    t(at),
                    Value::Text(String::new()),
                    t(at),
                    t(at),
                ]);
                cid += 1;
            }
            bulk::insert(&mut tx, backend, "contacts", CONTACT_COLS, &rows).await?;
            bulk::sync_ids(&mut tx, backend, "contacts").await?;
            crate::input::commit(tx).await?;
            report.contacts += rows.len() as i64;
            done_c += n;
            progress(o.orders + done_c, o.orders + o.contacts);
        }
        report.seconds = started.elapsed().as_secs_f64();
        Ok(report)
    }

    /// Creates eight branch offices (营业所) under `root`; returns their ids.
    async fn seed_branches(&self, root: i64) -> ServiceResult<Vec<i64>> {
        const BRANCHES: [(&str, &str, &str); 8] = [
            ("seed_xihu", "西湖营业所", "Xihu branch"),
            ("seed_gongshu", "拱墅营业所", "Gongshu branch"),
            ("seed_shangcheng", "上城营业所", "Shangcheng branch"),
            ("seed_binjiang", "滨江营业所", "Binjiang branch"),
            ("seed_xiaoshan", "萧山营业所", "Xiaoshan branch"),
            ("seed_yuhang", "余杭营业所", "Yuhang branch"),
            ("seed_linping", "临平营业所", "Linping branch"),
            ("seed_qiantang", "钱塘营业所", "Qiantang branch"),
        ];
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut ids = Vec::new();
        for (i, (code, name, name_en)) in BRANCHES.into_iter().enumerate() {
            let u = waterdesk_store::units::NewUnit {
                parent_id: Some(root),
                code,
                name,
                name_en,
                kind: "branch",
                sort_order: 100 + i as i64,
            };
            ids.push(units::insert(&mut tx, &u, now).await?.id);
        }
        crate::input::commit(tx).await?;
        Ok(ids)
    }

    /// Creates `n` field workers spread over `units`, and returns the crew as dispatch sees it.
    async fn seed_crews(&self, units: &[i64], n: i64) -> ServiceResult<Vec<waterdesk_store::orders::CrewRow>> {
        let pw = crate::auth::generate_password();
        let hash = tokio::task::spawn_blocking(move || crate::auth::hash_password(&pw))
            .await
            .map_err(|e| ServiceError::Internal(e.to_string()))??;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let role = waterdesk_store::roles::get_by_code(&mut tx, waterdesk_domain::BuiltinRole::FieldWorker.code())
            .await?
            .ok_or(ServiceError::Internal("the field_worker role is missing".into()))?;
        for i in 0..n {
            let username = format!("seed_crew_{i:04}");
            let name = format!("外勤{:04}", i + 1);
            let id = waterdesk_store::users::insert(
                &mut tx,
                &waterdesk_store::users::NewUser {
                    username: &username,
                    display_name: &name,
                    unit_id: units[i as usize % units.len()],
                    kind: "staff",
                    data_scope: "own",
                    phone: "",
                    email: "",
                    password_hash: &hash,
                    must_change_password: true,
                },
                now,
            )
            .await?;
            waterdesk_store::users::set_roles(&mut tx, id, &[role.id]).await?;
        }
        let crew = waterdesk_store::orders::crew(&mut tx, None).await?;
        crate::input::commit(tx).await?;
        Ok(crew)
    }

    /// An instant in [first, now) with seasons and office hours.
    /// `n` instants from [`Self::seasonal_instant`], oldest first.
    fn seasonal_instants(
        &self,
        rng: &mut StdRng,
        first: jiff::Timestamp,
        now: jiff::Timestamp,
        n: i64,
    ) -> Vec<jiff::Timestamp> {
        let mut v: Vec<jiff::Timestamp> = (0..n).map(|_| self.seasonal_instant(rng, first, now)).collect();
        v.sort_unstable();
        v
    }

    fn seasonal_instant(&self, rng: &mut StdRng, first: jiff::Timestamp, now: jiff::Timestamp) -> jiff::Timestamp {
        let span = now.duration_since(first).as_secs().max(1);
        loop {
            let t = first + jiff::SignedDuration::from_secs(rng.random_range(0..span));
            let z = t.to_zoned(self.tz.clone());
            let month = f64::from(z.month());
            let season = 1.0
                + 0.3 * ((month - 1.0) * std::f64::consts::PI / 6.0).cos()
                + if (7..=8).contains(&z.month()) { 0.35 } else { 0.0 };
            let hour = match z.hour() {
                0..=6 => 0.08,
                7 => 0.5,
                8..=11 | 14..=17 => 1.0,
                12..=13 => 0.75,
                18..=20 => 0.55,
                _ => 0.25,
            };
            if rng.random::<f64>() * 1.65 < season * hour {
                return t;
            }
        }
    }

    /// Walks an order through its workflow as people would; steps after `now` are left out.
    #[allow(clippy::too_many_arguments)]
    fn simulate(
        &self,
        rng: &mut StdRng,
        w: &Workflow,
        reg: jiff::Timestamp,
        now: jiff::Timestamp,
        complete_minutes: Option<u32>,
        crew: Option<i64>,
        agent: Option<i64>,
        causes: &[String],
        solutions: &[String],
    ) -> Life {
        let mut life = Life {
            steps: vec![("register", "registered", "registered", reg, "{}".into(), agent)],
            pauses: vec![],
            assignee: None,
        };
        let has = |a: Action| w.steps.iter().any(|s| s.action == a);
        let mut t = reg;
        let mut state = State::Registered;
        let mut go = |life: &mut Life,
                      t: jiff::Timestamp,
                      action: &'static str,
                      to: State,
                      fields: String,
                      actor: Option<i64>|
         -> bool {
            if t > now {
                return false;
            }
            life.steps.push((action, state.code(), to.code(), t, fields, actor));
            state = to;
            true
        };
        let one =
            |v: &[String], rng: &mut StdRng| v.get(rng.random_range(0..v.len().max(1))).cloned().unwrap_or_default();
        if rng.random_bool(0.02) {
            go(
                &mut life,
                t + mins(rng.random_range(5..60)),
                "reject",
                State::Rejected,
                r#"{"note":"不属于本单位受理范围"}"#.into(),
                agent,
            );
            return life;
        }
        if !has(Action::Acknowledge) {
            // Answered by the office: concluded with the reply.
            let f = serde_json::json!({"reply": "已答复客户"}).to_string();
            go(&mut life, t + mins(rng.random_range(3..90)), "conclude", State::Concluded, f, agent);
            return life;
        }
        t += mins(rng.random_range(2..30));
        if has(Action::Approve) {
            if !go(&mut life, t, "accept", State::PendingApproval, "{}".into(), agent) {
                return life;
            }
            t += mins(rng.random_range(60..1440));
            if !go(&mut life, t, "approve", State::Accepted, "{}".into(), None) {
                return life;
            }
        } else if !go(&mut life, t, "accept", State::Accepted, "{}".into(), agent) {
            return life;
        }
        if rng.random_bool(0.03) {
            go(
                &mut life,
                t + mins(rng.random_range(30..600)),
                "cancel",
                State::Cancelled,
                r#"{"note":"客户已自行解决"}"#.into(),
                agent,
            );
            return life;
        }
        let Some(crew) = crew else { return life };
        t += mins(rng.random_range(5..90));
        if !go(&mut life, t, "dispatch", State::Dispatched, "{}".into(), agent) {
            return life;
        }
        life.assignee = Some(crew);
        t += mins(rng.random_range(2..40));
        if !go(&mut life, t, "acknowledge", State::Acknowledged, "{}".into(), Some(crew)) {
            return life;
        }
        t += mins(rng.random_range(15..180));
        if !go(&mut life, t, "start", State::InProgress, "{}".into(), Some(crew)) {
            return life;
        }
        if rng.random_bool(0.04) {
            let s = t + mins(rng.random_range(10..60));
            if !go(&mut life, s, "suspend", State::Suspended, r#"{"note":"等待配件"}"#.into(), agent) {
                return life;
            }
            let e = s + mins(rng.random_range(60..1440));
            if e > now {
                life.pauses.push((s, None));
                return life;
            }
            life.pauses.push((s, Some(e)));
            go(&mut life, e, "resume", State::InProgress, "{}".into(), agent);
            t = e;
        }
        // Nine in ten within the deadline, one in ten late.
        let budget = i64::from(complete_minutes.unwrap_or(24 * 60));
        let share = if rng.random_bool(0.9) { rng.random_range(0.15..0.9) } else { rng.random_range(1.05..3.0) };
        let done_at =
            life.steps.iter().find(|s| s.0 == "accept").map_or(t, |s| s.3) + mins((budget as f64 * share) as i64);
        t = done_at.max(t + mins(10));
        let f = serde_json::json!({"cause": one(causes, rng), "solution": one(solutions, rng)}).to_string();
        if !go(&mut life, t, "complete", State::Resolved, f, Some(crew)) {
            return life;
        }
        t += mins(rng.random_range(30..720));
        if !go(&mut life, t, "verify", State::Verified, "{}".into(), agent) {
            return life;
        }
        t += mins(rng.random_range(120..4320));
        if w.return_visit {
            let satisfaction = match rng.random_range(0..100) {
                0..=81 => "satisfied",
                82..=93 => "basically_satisfied",
                _ => "unsatisfied",
            };
            let f = serde_json::json!({"satisfaction": satisfaction, "reply": "已处理完毕，回访客户"}).to_string();
            go(&mut life, t, "visit", State::Concluded, f, agent);
        } else {
            let f = if w.customer_reply {
                serde_json::json!({"reply": "已处理完毕"}).to_string()
            } else {
                "{}".into()
            };
            go(&mut life, t, "conclude", State::Concluded, f, agent);
        }
        life
    }
}

const CONTACT_COLS: &[&str] = &[
    "id",
    "contact_no",
    "channel",
    "direction",
    "source",
    "status",
    "caller",
    "unit_id",
    "agent_id",
    "category",
    "content",
    "address",
    "reply",
    "replied_at",
    "started_at",
    "order_no",
    "created_at",
    "updated_at",
];

const ORDER_COLS: &[&str] = &[
    "id",
    "order_no",
    "type_code",
    "state",
    "suspended_from",
    "version",
    "origin",
    "contact_id",
    "category",
    "impact",
    "urgency",
    "priority",
    "title",
    "content",
    "address",
    "lat_e6",
    "lng_e6",
    "caller",
    "unit_id",
    "assignee_id",
    "created_by",
    "fields",
    "accepted_at",
    "dispatched_at",
    "acknowledged_at",
    "arrived_at",
    "resolved_at",
    "concluded_at",
    "replied_at",
    "sla_check_at",
    "overdue",
    "created_at",
    "updated_at",
];
