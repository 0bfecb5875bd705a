//! First start: built-in roles, dictionaries, parameters, the root unit, the first
//! administrator; and with `--demo`, a demo utility with one user per role.
//!
//! Everything here is idempotent: it only creates what is missing, so it runs at every
//! start and never overwrites what administrators changed.

use waterdesk_domain::BuiltinRole;
use waterdesk_store::units::NewUnit;
use waterdesk_store::users::NewUser;
use waterdesk_store::{StoreError, customers, dicts, numbers, params, roles, units, users};

use crate::audit::{AuditCtx, security_in};
use crate::auth::{generate_password, hash_password};
use crate::{ServiceError, ServiceResult, Services};

/// A dictionary item as (code, 中文, English).
pub type SeedItem = (&'static str, &'static str, &'static str);

/// The built-in dictionaries: (code, 中文名, English name, items).
pub const DICTIONARIES: &[(&str, &str, &str, &[SeedItem])] = &[
    (
        "channel",
        "反映形式",
        "Channel",
        &[
            ("hotline", "热线电话", "Hotline"),
            ("wechat", "微信", "WeChat"),
            ("web", "网站", "Web"),
            ("app", "手机APP", "Mobile app"),
            ("sms", "短信", "SMS"),
            ("email", "电子邮件", "E-mail"),
            ("walk_in", "来访", "Walk-in"),
            ("gov_12345", "12345转办", "12345 transfer"),
        ],
    ),
    (
        "source",
        "反映来源",
        "Source",
        &[
            ("customer", "客户本人", "Customer"),
            ("gov_12345", "12345政务热线", "12345 government hotline"),
            ("media", "新闻媒体", "Media"),
            ("internal", "内部发现", "Internal"),
            ("other_dept", "其他部门", "Other department"),
        ],
    ),
    (
        "category",
        "反映类别",
        "Category",
        &[
            ("consultation", "咨询", "Consultation"),
            ("complaint", "投诉", "Complaint"),
            ("suggestion", "建议", "Suggestion"),
            ("repair", "报修", "Repair"),
            ("praise", "表扬", "Praise"),
            ("help", "求助", "Help"),
            ("other", "其他", "Other"),
        ],
    ),
    (
        "order_type",
        "工单类型",
        "Order type",
        &[
            ("review", "复核单", "Review"),
            ("meter_replace", "换表单", "Meter replacement"),
            ("meter_remove", "拆表单", "Meter removal"),
            ("maintenance", "养护工单", "Maintenance"),
            ("repair", "报修单", "Repair"),
            ("complaint", "投诉单", "Complaint"),
            ("consultation", "咨询单", "Consultation"),
            ("new_connection", "报装", "New connection"),
            ("outage", "停水", "Outage"),
            ("water_quality", "水质", "Water quality"),
            ("hazard", "隐患", "Hazard"),
            ("patrol", "巡查", "Patrol"),
        ],
    ),
    (
        "cause",
        "原因",
        "Cause",
        &[
            ("pipe_burst", "管道爆裂", "Pipe burst"),
            ("pipe_leak", "管道漏水", "Pipe leak"),
            ("meter_fault", "水表故障", "Faulty meter"),
            ("low_pressure", "水压不足", "Low pressure"),
            ("water_quality", "水质异常", "Water quality issue"),
            ("billing_dispute", "水费争议", "Billing dispute"),
            ("planned_outage", "计划停水", "Planned outage"),
            ("service_attitude", "服务态度", "Service attitude"),
        ],
    ),
    (
        "solution",
        "处理方式",
        "Solution",
        &[
            ("repaired", "已修复", "Repaired"),
            ("replaced", "已更换", "Replaced"),
            ("explained", "已解释说明", "Explained"),
            ("adjusted", "已调整账务", "Account adjusted"),
            ("referred", "已转办", "Referred"),
            ("no_fault", "现场无故障", "No fault found"),
        ],
    ),
    (
        "unit_kind",
        "单位类型",
        "Unit kind",
        &[
            ("company", "公司", "Company"),
            ("hotline_centre", "客服热线中心", "Hotline centre"),
            ("branch", "营业所", "Branch office"),
            ("station", "管网所", "Network station"),
            ("meter_station", "水表所", "Meter station"),
            ("department", "部门", "Department"),
        ],
    ),
];

/// System parameters with defaults: (key, value, type, 中文说明, English description).
pub const PARAMETERS: &[(&str, &str, &str, &str, &str)] = &[
    ("org.name", "示例水务集团", "string", "单位名称", "Utility name"),
    ("org.hotline", "96390", "string", "服务热线号码", "Hotline number"),
    ("org.timezone", "Asia/Shanghai", "string", "时区", "Time zone"),
    ("ui.page_size", "20", "int", "列表每页行数", "Rows per page in lists"),
    ("order.default_reply_hours", "24", "int", "默认答复时限(小时)", "Default reply deadline (hours)"),
    ("audit.retention_days", "365", "int", "审计日志保留天数(不少于180)", "Audit log retention in days (at least 180)"),
];

/// Orders and contacts without an order in the demo's year of history.
pub const DEMO_HISTORY_ORDERS: i64 = 3000;
pub const DEMO_HISTORY_CONTACTS: i64 = 1500;

/// What the first start created.
#[derive(Debug, Default)]
pub struct BootstrapReport {
    /// The first administrator's generated password, when it was created now.
    pub initial_admin: Option<(String, String)>,
    /// Demo logins `(username, password, role)`, when the demo was created now.
    pub demo_logins: Vec<(String, String, String)>,
}

/// What a first start creates besides the base data (roles, dictionaries, parameters, root unit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstUsers {
    /// A demo utility with one user per role (`serve --demo`).
    Demo,
    /// One administrator with a generated password (`serve`).
    Administrator,
    /// No users (the CLI's user commands create their own).
    None,
}

impl Services {
    /// Creates whatever of the base data is missing; on an empty user table also the
    /// first users.
    pub async fn bootstrap(&self, first: FirstUsers) -> ServiceResult<BootstrapReport> {
        let demo = first == FirstUsers::Demo;
        let now = self.now();
        let mut report = BootstrapReport::default();
        let mut tx = self.db.begin().await?;
        for role in BuiltinRole::ALL {
            if roles::get_by_code(&mut tx, role.code()).await?.is_none() {
                let (zh, en) = role.names();
                let id = roles::insert(&mut tx, role.code(), zh, en, "", true, now).await?;
                let perms: Vec<String> = role.permissions().into_iter().map(str::to_string).collect();
                roles::set_permissions(&mut tx, id, &perms).await?;
            }
        }
        for (code, zh, en, items) in DICTIONARIES {
            if !dicts::type_exists(&mut tx, code).await? {
                dicts::insert_type(&mut tx, code, zh, en, "", true, now).await?;
                for (i, (c, z, e)) in items.iter().enumerate() {
                    let f = dicts::ItemFields {
                        code: c,
                        label_zh: z,
                        label_en: e,
                        parent_code: None,
                        sort_order: (i as i64 + 1) * 10,
                        enabled: true,
                    };
                    dicts::insert_item(&mut tx, code, &f, now).await?;
                }
            }
        }
        for (k, v, ty, zh, en) in PARAMETERS {
            params::ensure(&mut tx, k, v, ty, zh, en, now).await?;
        }
        for (code, zh, en, tariff) in crate::customers::default_tariffs() {
            let def = serde_json::to_string(&tariff).map_err(|e| ServiceError::Internal(e.to_string()))?;
            waterdesk_store::billing::ensure_tariff(&mut tx, code, zh, en, &def, now).await?;
        }
        self.ensure_standard_order_types(&mut tx).await?;
        if waterdesk_store::campaigns::sheets(&mut tx).await?.is_empty() {
            let (name, items) = crate::campaigns::default_sheet();
            waterdesk_store::campaigns::sheet_insert(&mut tx, name, &items, now).await?;
        }
        let root = match units::get_by_code(&mut tx, "root").await? {
            Some(u) => u,
            None => {
                let name = if demo { "示例水务集团" } else { "水务公司" };
                units::insert(
                    &mut tx,
                    &NewUnit {
                        parent_id: None,
                        code: "root",
                        name,
                        name_en: "Water utility",
                        kind: "company",
                        sort_order: 0,
                    },
                    now,
                )
                .await?
            }
        };
        let fresh = users::count(&mut tx).await? == 0;
        if fresh && demo {
            report.demo_logins = self.seed_demo(&mut tx, root.id, now).await?;
        } else if fresh && first == FirstUsers::Administrator {
            let pw = generate_password();
            let hash = hash(&pw).await?;
            let id = users::insert(
                &mut tx,
                &NewUser {
                    username: "admin",
                    display_name: "系统管理员",
                    unit_id: root.id,
                    kind: "staff",
                    data_scope: "all",
                    phone: "",
                    email: "",
                    password_hash: &hash,
                    must_change_password: true,
                },
                now,
            )
            .await?;
            let rid = roles::get_by_code(&mut tx, "admin").await?.ok_or(StoreError::NotFound)?.id;
            users::set_roles(&mut tx, id, &[rid]).await?;
            report.initial_admin = Some(("admin".into(), pw));
        }
        if fresh {
            security_in(
                &mut tx,
                self,
                &AuditCtx::cli("bootstrap"),
                "system.bootstrap",
                "ok",
                serde_json::json!({"demo": demo}),
            )
            .await?;
        }
        crate::input::commit(tx).await?;
        if fresh && demo {
            self.seed_demo_customers().await?;
            self.seed_demo_contacts().await?;
            self.seed_demo_orders().await?;
        }
        Ok(report)
    }

    /// A year of history for the statistics and the supervisor dashboard (`serve --demo`,
    /// first start, after [`Self::bootstrap`]): orders and contacts generated by
    /// [`Self::seed_work`] — seasons, office hours, sites along Hangzhou's roads, every
    /// order walked through its workflow with return visits — on top of the hand-made demo
    /// orders. Returns the report and an example for the progress page (an order number
    /// and the last four digits of its customer's phone).
    pub async fn seed_demo_history(
        &self,
    ) -> ServiceResult<(crate::seed_work::WorkSeedReport, Option<(String, String)>)> {
        let o = crate::seed_work::WorkSeedOptions {
            orders: DEMO_HISTORY_ORDERS,
            contacts: DEMO_HISTORY_CONTACTS,
            months: 12,
            seed: 2050,
            batch: 2000,
        };
        let report = self.seed_work(&o, |_, _| {}).await?;
        let mut c = self.db.read().await?;
        let example = waterdesk_store::progress::example(&mut c).await?;
        Ok((report, example))
    }

    /// Demo contacts of the last days, on every channel, taken by the demo agent.
    async fn seed_demo_contacts(&self) -> ServiceResult<()> {
        use waterdesk_domain::numbering::NumberKind;
        use waterdesk_store::contacts::{self as contacts, ContactFields};
        let mut tx = self.db.begin().await?;
        let Some(agent) = users::get_by_username(&mut tx, "agent").await? else { return Ok(()) };
        // (days ago, hour, channel, source, caller, account, category, content, reply)
        type Row =
            (i64, i8, &'static str, &'static str, &'static str, &'static str, &'static str, &'static str, &'static str);
        let rows: [Row; 8] = [
            (
                3,
                9,
                "hotline",
                "customer",
                "13957123456",
                "HZ0010002",
                "complaint",
                "早上7点到9点水压很低，几乎没水。",
                "已转东区供水所排查，24小时内回复。",
            ),
            (
                2,
                10,
                "wechat",
                "customer",
                "13858012345",
                "HZ0010001",
                "consultation",
                "阶梯水价怎么计算？今年用到第几档了？",
                "居民年用水量0-216立方米为第一档，您今年已用约150立方米，仍在第一档。",
            ),
            (
                2,
                15,
                "email",
                "customer",
                "057188776655",
                "HZ0030001",
                "suggestion",
                "希望能提供电子发票，方便财务报销。",
                "已记录，电子发票功能将在营业厅系统升级后提供。",
            ),
            (
                1,
                11,
                "gov_12345",
                "gov_12345",
                "18667890123",
                "HZ0020001",
                "complaint",
                "12345转办：本月水费账单金额异常，比上月高出一倍。",
                "",
            ),
            (
                1,
                14,
                "hotline",
                "customer",
                "02188886666",
                "",
                "consultation",
                "询问拱墅区明天是否计划停水。",
                "明天无计划停水，如有变化将短信通知。",
            ),
            (
                1,
                16,
                "walk_in",
                "customer",
                "",
                "HZ0010002",
                "help",
                "老人来营业厅代缴水费，不会使用手机支付。",
                "已在柜台办理缴费。",
            ),
            (0, 8, "hotline", "customer", "18667890123", "HZ0020001", "repair", "小区门口路面冒水，水流较大。", ""),
            (
                0,
                9,
                "web",
                "customer",
                "13858012345",
                "HZ0010001",
                "praise",
                "上周维修师傅来得很快，服务很好，表扬！",
                "感谢您的表扬，已转告维修班组。",
            ),
        ];
        let today = self.now().to_zoned(self.tz.clone()).date();
        for (ago, hour, channel, source, caller, account_no, category, content, reply) in rows {
            let day = today.checked_sub(jiff::Span::new().days(ago)).unwrap_or(today);
            let at = day.at(hour, 12, 0, 0).to_zoned(self.tz.clone()).map(|z| z.timestamp()).unwrap_or(self.now());
            let at = at.min(self.now());
            let account = match account_no {
                "" => None,
                no => customers::get_account_by_no(&mut tx, no).await?,
            };
            let no = numbers::allocate(&mut tx, NumberKind::Contact, at, &self.tz).await?.to_string();
            let f = ContactFields {
                channel,
                direction: "inbound",
                source,
                caller,
                customer_id: account.as_ref().map(|a| a.holder_id),
                account_id: account.as_ref().map(|a| a.id),
                category,
                content,
                address: "",
                reply,
            };
            let status = if reply.is_empty() { "open" } else { "replied" };
            let c = contacts::NewContact {
                contact_no: &no,
                fields: f,
                status,
                agent_id: Some(agent.id),
                unit_id: agent.unit_id,
                call_id: None,
                called: "96390",
                started_at: at,
                now: at,
            };
            contacts::insert(&mut tx, &c).await?;
        }
        let supervisor = users::get_by_username(&mut tx, "supervisor").await?;
        crate::input::commit(tx).await?;
        // Two campaigns on the demo agent's call list: arrears reminders and return visits.
        let Some(sup) = supervisor else { return Ok(()) };
        let mut p = crate::Principal::system();
        (p.user_id, p.unit_id, p.username, p.display_name) = (sup.id, sup.unit_id, sup.username, sup.display_name);
        let ctx = AuditCtx::cli("demo");
        let campaigns = [
            (
                "欠费催缴（示例）",
                "arrears",
                serde_json::json!({"min_arrears_fen": 1000, "min_days_overdue": 0}),
                "尊敬的客户：{subject}，请及时缴纳，如已缴费请忽略。",
            ),
            (
                "投诉回访（示例）",
                "return_visit",
                serde_json::json!({"categories": ["complaint", "repair"], "days": 7}),
                "",
            ),
        ];
        for (name, kind, rule, sms) in campaigns {
            let input = crate::campaigns::CampaignInput {
                name: name.into(),
                kind: kind.into(),
                rule,
                questions: vec![],
                max_attempts: Some(3),
                retry_minutes: Some(120),
                sms_template: sms.into(),
            };
            let c = self.campaign_create(&p, &input, &ctx).await?;
            self.campaign_generate(&p, c.campaign.id, &ctx).await?;
            self.campaign_assign(&p, c.campaign.id, &[agent.id], &ctx).await?;
        }
        Ok(())
    }

    /// Demo work orders in every stage of the loop, three more crew members of the repair
    /// team and the crews' positions around the West Lake, so the queue, the dispatch
    /// suggestions and the escalations have something to show.
    async fn seed_demo_orders(&self) -> ServiceResult<()> {
        use waterdesk_domain::numbering::NumberKind;
        use waterdesk_domain::workflow::{Action, Level, State, priority};
        use waterdesk_store::orders::{self as repo, Change, NewEvent, NewOrder};
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let Some(worker) = users::get_by_username(&mut tx, "worker").await? else { return Ok(()) };
        let (Some(agent), Some(dispatcher)) =
            (users::get_by_username(&mut tx, "agent").await?, users::get_by_username(&mut tx, "dispatcher").await?)
        else {
            return Ok(());
        };
        // Crew members without a printed login (an administrator can reset their passwords).
        let rid = roles::get_by_code(&mut tx, BuiltinRole::FieldWorker.code()).await?.ok_or(StoreError::NotFound)?.id;
        let mut crew = vec![(worker.id, 30.276_80, 120.145_10)];
        for (username, name, lat, lng) in [
            ("crew_wang", "王海涛", 30.259_30, 120.168_50),
            ("crew_liu", "刘建华", 30.289_70, 120.155_30),
            ("crew_zhou", "周斌", 30.245_60, 120.139_80),
        ] {
            let hash = hash(&generate_password()).await?;
            let id = users::insert(
                &mut tx,
                &NewUser {
                    username,
                    display_name: name,
                    unit_id: worker.unit_id,
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
            users::set_roles(&mut tx, id, &[rid]).await?;
            crew.push((id, lat, lng));
        }
        for (id, lat, lng) in &crew {
            let e6 = |x: f64| (x * 1e6).round() as i64;
            repo::set_position(&mut tx, *id, e6(*lat), e6(*lng), Some(10), now).await?;
        }
        let crew_id = |i: usize| crew.get(i).map(|c| c.0);
        // (hours ago, type, impact, urgency, title, address, account, lat, lng, steps, crew, fields)
        type Steps = &'static [(&'static str, &'static str, i64)];
        type Row = (
            i64,
            &'static str,
            &'static str,
            &'static str,
            &'static str,
            &'static str,
            &'static str,
            f64,
            f64,
            Steps,
            usize,
        );
        // The field loop, minutes after registration; most demo orders stop part way.
        const LOOP: Steps = &[
            ("accept", "accepted", 5),
            ("dispatch", "dispatched", 10),
            ("acknowledge", "acknowledged", 15),
            ("start", "in_progress", 50),
            ("complete", "resolved", 110),
            ("verify", "verified", 180),
            ("visit", "concluded", 600),
        ];
        let rows: [Row; 10] = [
            (
                3,
                "repair",
                "high",
                "medium",
                "文三路12号门口路面冒水",
                "西湖区文三路12号",
                "HZ0010001",
                30.276_12,
                120.142_31,
                &LOOP[..4],
                0,
            ),
            (
                1,
                "complaint",
                "medium",
                "medium",
                "早高峰水压低，几乎没水",
                "西湖区文三路18号1幢",
                "HZ0010002",
                30.276_55,
                120.143_02,
                &[],
                0,
            ),
            (
                2,
                "water_quality",
                "high",
                "medium",
                "自来水有异味、发黄",
                "拱墅区湖墅南路88号6幢",
                "HZ0020001",
                30.283_40,
                120.153_77,
                &[("accept", "accepted", 10)],
                0,
            ),
            (
                20,
                "meter_replace",
                "low",
                "medium",
                "水表停走，申请换表",
                "西湖区天目山路200号底商",
                "HZ0030001",
                30.272_90,
                120.128_20,
                &[("accept", "pending_approval", 30)],
                0,
            ),
            (
                2,
                "hazard",
                "high",
                "high",
                "人行道井盖缺失",
                "上城区解放路与中河路口",
                "",
                30.259_80,
                120.169_20,
                &LOOP[..3],
                1,
            ),
            (
                120,
                "repair",
                "high",
                "low",
                "小区内消防栓漏水",
                "拱墅区湖墅南路90号",
                "HZ0020001",
                30.284_10,
                120.154_20,
                &LOOP[..3],
                2,
            ),
            (
                30,
                "maintenance",
                "low",
                "low",
                "阀门井清淤",
                "西湖区古墩路与文二西路口",
                "",
                30.281_90,
                120.101_10,
                &[
                    ("accept", "accepted", 15),
                    ("dispatch", "dispatched", 20),
                    ("acknowledge", "acknowledged", 60),
                    ("start", "in_progress", 180),
                    ("suspend", "suspended", 200),
                ],
                3,
            ),
            (
                72,
                "repair",
                "high",
                "medium",
                "厨房水管接头漏水",
                "西湖区文三路12号3幢",
                "HZ0010001",
                30.276_12,
                120.142_31,
                &LOOP[..7],
                0,
            ),
            (
                48,
                "outage",
                "medium",
                "low",
                "文三路片区计划停水（管网改造）",
                "西湖区文三路片区",
                "",
                30.276_00,
                120.140_00,
                &LOOP[..5],
                2,
            ),
            (
                26,
                "consultation",
                "low",
                "low",
                "咨询阶梯水价如何计算",
                "",
                "HZ0010002",
                0.0,
                0.0,
                &[("conclude", "concluded", 8)],
                0,
            ),
        ];
        for (hours, type_code, impact, urgency, title, address, account_no, lat, lng, steps, crew_at) in rows {
            let at = now - jiff::SignedDuration::from_hours(hours);
            let account = match account_no {
                "" => None,
                no => customers::get_account_by_no(&mut tx, no).await?,
            };
            let level = |s: &str| Level::parse(s).unwrap_or(Level::Low);
            let no = numbers::allocate(&mut tx, NumberKind::WorkOrder, at, &self.tz).await?.to_string();
            let (lat_e6, lng_e6) =
                if lat == 0.0 { (None, None) } else { (Some((lat * 1e6) as i64), Some((lng * 1e6) as i64)) };
            let mut o = repo::insert(
                &mut tx,
                &NewOrder {
                    order_no: &no,
                    type_code,
                    origin: "staff",
                    origin_ref: "",
                    contact_id: None,
                    customer_id: account.as_ref().map(|a| a.holder_id),
                    account_id: account.as_ref().map(|a| a.id),
                    category: "",
                    impact,
                    urgency,
                    priority: i64::from(priority(level(impact), level(urgency))),
                    title,
                    content: title,
                    address,
                    lat_e6,
                    lng_e6,
                    caller: "",
                    unit_id: agent.unit_id,
                    created_by: Some(agent.id),
                },
                at,
            )
            .await?;
            let register = NewEvent {
                action: "register",
                from_state: "registered",
                to_state: "registered",
                actor_id: Some(agent.id),
                note: "",
                fields: "{}",
                lat_e6: None,
                lng_e6: None,
            };
            repo::add_event(&mut tx, o.id, &register, at).await?;
            for (action, to, minutes) in steps.iter().copied() {
                let when = at + jiff::SignedDuration::from_mins(minutes);
                let (Some(a), Some(st)) = (Action::parse(action), State::parse(to)) else { continue };
                let crew_step = matches!(a, Action::Acknowledge | Action::Start | Action::Complete);
                let actor = if crew_step {
                    o.assignee_id
                } else if a == Action::Visit || a == Action::Conclude {
                    Some(agent.id)
                } else {
                    Some(dispatcher.id)
                };
                let fields = match a {
                    Action::Complete => r#"{"cause":"pipe_leak","solution":"repaired"}"#,
                    Action::Visit => r#"{"satisfaction":"satisfied","reply":"已修复并电话告知客户"}"#,
                    Action::Conclude => r#"{"reply":"已向客户解释阶梯水价：第一阶梯每月15吨以内"}"#,
                    Action::Suspend => r#"{"note":"等待路政开挖许可"}"#,
                    _ => "{}",
                };
                let assignee = if a == Action::Dispatch { crew_id(crew_at) } else { o.assignee_id };
                let prev = o.state.clone();
                let change = Change {
                    state: st.code(),
                    suspended_from: (st == State::Suspended).then_some(prev.as_str()),
                    unit_id: o.unit_id,
                    assignee_id: assignee,
                    fields,
                    milestone: crate::orders::milestone(a, st),
                    replied: fields.contains("reply"),
                };
                let Some(next) = repo::apply(&mut tx, o.id, o.version, &change, when).await? else { break };
                if a == Action::Suspend {
                    repo::pause(&mut tx, o.id, when).await?;
                }
                let event = NewEvent {
                    action: a.code(),
                    from_state: &prev,
                    to_state: st.code(),
                    actor_id: actor,
                    note: "",
                    fields,
                    lat_e6: None,
                    lng_e6: None,
                };
                repo::add_event(&mut tx, o.id, &event, when).await?;
                o = next;
            }
        }
        crate::input::commit(tx).await
    }

    /// Demo customers with accounts, meters, a year of monthly readings, bills and payments.
    async fn seed_demo_customers(&self) -> ServiceResult<()> {
        use crate::customers::{AccountInput, CustomerInput, MeterInput, PaymentInput, PhoneInput, ReadingInput};
        let sys = crate::Principal::system();
        let ctx = AuditCtx::cli("demo");
        let unit = |code: &'static str| async move {
            let mut c = self.db.read().await?;
            units::get_by_code(&mut c, code).await?.map(|u| u.id).ok_or(ServiceError::NotFound { entity: "unit" })
        };
        let east = unit("branch_east").await?;
        let west = unit("branch_west").await?;
        let people = [
            (
                "张建华",
                "13858012345",
                "330106198503150016",
                "西湖区文三路12号3幢2单元501室",
                "HZ0010001",
                east,
                3,
                120.142_31,
                30.276_12,
            ),
            ("李秀英", "13957123456", "", "西湖区文三路18号1幢102室", "HZ0010002", east, 5, 120.143_02, 30.276_55),
            ("王志强", "18667890123", "", "拱墅区湖墅南路88号6幢301室", "HZ0020001", west, 2, 120.153_77, 30.283_40),
            (
                "杭州西溪餐饮有限公司",
                "057188776655",
                "",
                "西湖区天目山路200号底商",
                "HZ0030001",
                east,
                4,
                120.128_20,
                30.272_90,
            ),
        ];
        let today = self.now().to_zoned(self.tz.clone()).date();
        for (n, (name, phone, id_no, address, account_no, unit_id, persons, lon, lat)) in people.into_iter().enumerate()
        {
            let organisation = name.ends_with("公司");
            let c = self
                .customer_create(
                    &sys,
                    &CustomerInput {
                        kind: if organisation { "organisation" } else { "person" }.into(),
                        name: name.into(),
                        id_type: if id_no.is_empty() { String::new() } else { "id_card".into() },
                        id_number: id_no.into(),
                        email: String::new(),
                        wechat_openid: String::new(),
                        note: String::new(),
                        unit_id: Some(unit_id),
                        phones: vec![PhoneInput {
                            phone: phone.into(),
                            label: if organisation { "前台".into() } else { "手机".into() },
                        }],
                    },
                    &ctx,
                )
                .await?;
            let a = self
                .account_create(
                    &sys,
                    &AccountInput {
                        account_no: account_no.into(),
                        holder_id: c.id,
                        address: address.into(),
                        lat: Some(lat),
                        lon: Some(lon),
                        category: if organisation { "non_residential" } else { "residential" }.into(),
                        status: "active".into(),
                        book_no: format!("B{:03}", 100 + n),
                        unit_id: Some(unit_id),
                        tariff_code: None,
                        household_size: persons,
                        e_bill: n % 2 == 0,
                        transfer_reason: String::new(),
                    },
                    &ctx,
                )
                .await?;
            let start = today.checked_sub(jiff::Span::new().months(13)).unwrap_or(today);
            let m = self
                .meter_add(
                    &sys,
                    a.id,
                    &MeterInput {
                        serial: format!("WM{}{:04}", today.year(), n + 1),
                        diameter_mm: if organisation { 40 } else { 20 },
                        model: "LXS-20E".into(),
                        installed_on: start.to_string(),
                        initial_reading: 0,
                        replaces_meter_id: None,
                    },
                    &ctx,
                )
                .await?;
            let mut reading = 0;
            for k in 1..=12 {
                let on = start.checked_add(jiff::Span::new().months(k)).unwrap_or(today);
                if on > today {
                    break;
                }
                // Plausible monthly use: more in summer, more for larger households and businesses.
                let summer = matches!(on.month(), 6..=9);
                reading += (persons * 4 + if summer { 6 } else { 0 } + (k % 3)) * if organisation { 6 } else { 1 };
                let r = self
                    .reading_record(
                        &sys,
                        a.id,
                        &ReadingInput { meter_id: m.id, read_on: on.to_string(), reading, source: "manual".into() },
                        &ctx,
                    )
                    .await?;
                // Everyone pays, except the last two months of the second customer (arrears).
                if let Some(bill) = r.bill.filter(|b| b.total_fen > 0 && !(n == 1 && k > 10)) {
                    let input = PaymentInput {
                        channel: ["wechat", "alipay", "counter", "bank"][k as usize % 4].into(),
                        amount_fen: bill.total_fen,
                        // Paid a few days after the reading, in office hours.
                        paid_at: on
                            .checked_add(jiff::Span::new().days(3 + k % 9))
                            .ok()
                            .and_then(|d| d.at(9 + (k % 8) as i8, 15, 0, 0).to_zoned(self.tz.clone()).ok())
                            .map(|z| z.timestamp())
                            .filter(|t| *t <= self.now()),
                        external_txn_id: format!("DEMO-{account_no}-{k}"),
                        note: String::new(),
                    };
                    self.payment_record(&sys, a.id, &input, &ctx).await?;
                }
            }
        }
        Ok(())
    }

    async fn seed_demo(
        &self,
        tx: &mut waterdesk_store::Tx,
        root: i64,
        now: jiff::Timestamp,
    ) -> ServiceResult<Vec<(String, String, String)>> {
        let mk = |code: &'static str, name: &'static str, en: &'static str, kind: &'static str, order: i64| {
            (code, name, en, kind, order)
        };
        let children = [
            mk("hotline", "客服热线中心", "Hotline centre", "hotline_centre", 10),
            mk("branch_east", "城东营业所", "East branch", "branch", 20),
            mk("branch_west", "城西营业所", "West branch", "branch", 30),
            mk("network", "管网运维所", "Network maintenance station", "station", 40),
            mk("meters", "水表所", "Meter station", "meter_station", 50),
        ];
        let mut ids = std::collections::HashMap::new();
        for (code, name, en, kind, order) in children {
            let u = units::insert(
                tx,
                &NewUnit { parent_id: Some(root), code, name, name_en: en, kind, sort_order: order },
                now,
            )
            .await?;
            ids.insert(code, u.id);
        }
        let team = units::insert(
            tx,
            &NewUnit {
                parent_id: Some(ids["network"]),
                code: "network_team1",
                name: "抢修一班",
                name_en: "Repair team 1",
                kind: "department",
                sort_order: 10,
            },
            now,
        )
        .await?;
        let people: [(&str, &str, i64, &str, BuiltinRole); 10] = [
            ("admin", "王建国", root, "all", BuiltinRole::Admin),
            ("sysadmin", "周文博", root, "all", BuiltinRole::SysAdmin),
            ("secadmin", "吴秀英", root, "all", BuiltinRole::SecurityAdmin),
            ("auditor", "郑明", root, "all", BuiltinRole::Auditor),
            ("agent", "李晓燕", ids["hotline"], "all", BuiltinRole::Agent),
            ("dispatcher", "张伟", ids["hotline"], "all", BuiltinRole::Dispatcher),
            ("worker", "陈志强", team.id, "own", BuiltinRole::FieldWorker),
            ("approver", "刘国平", ids["branch_east"], "unit_tree", BuiltinRole::Approver),
            ("supervisor", "赵丽华", ids["hotline"], "all", BuiltinRole::Supervisor),
            ("customer", "孙美玲", root, "own", BuiltinRole::Customer),
        ];
        let mut logins = Vec::new();
        for (username, name, unit, scope, role) in people {
            let pw = generate_password();
            let hash = hash(&pw).await?;
            let kind = if role == BuiltinRole::Customer { "customer" } else { "staff" };
            let id = users::insert(
                tx,
                &NewUser {
                    username,
                    display_name: name,
                    unit_id: unit,
                    kind,
                    data_scope: scope,
                    phone: "",
                    email: "",
                    password_hash: &hash,
                    must_change_password: false,
                },
                now,
            )
            .await?;
            let rid = roles::get_by_code(tx, role.code()).await?.ok_or(StoreError::NotFound)?.id;
            users::set_roles(tx, id, &[rid]).await?;
            logins.push((username.to_string(), pw, role.code().to_string()));
        }
        Ok(logins)
    }
}

async fn hash(pw: &str) -> ServiceResult<String> {
    let pw = pw.to_string();
    tokio::task::spawn_blocking(move || hash_password(&pw)).await.map_err(|e| ServiceError::Internal(e.to_string()))?
}
