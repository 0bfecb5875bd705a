//! `waterdesk seed`: realistic Chinese sample data at scale — customers with phones and
//! ID numbers, accounts at addresses on Hangzhou's real road grid with coordinates,
//! meters, and monthly readings, tiered bills and payments. Deterministic for a given seed.
//! Rows go in with bulk inserts and explicit ids, a batch of customers per transaction.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use waterdesk_store::bulk;
use waterdesk_store::sql::Value;
use waterdesk_store::units;

use crate::customers::default_tariffs;
use crate::{ServiceError, ServiceResult, Services};

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭", "何", "高", "林",
    "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "彭", "曾", "肖", "田", "董", "袁", "潘", "于",
    "蒋", "蔡", "余", "杜", "叶", "程", "苏", "魏", "吕", "丁", "任", "沈", "姚", "卢", "姜", "崔", "钟", "谭", "陆",
    "汪", "范", "金", "石", "廖", "贾", "夏", "韦", "付", "方", "白", "邹", "孟", "熊", "秦", "邱", "江", "尹", "薛",
    "闫", "段", "雷", "侯", "龙", "史", "欧阳",
];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "秀", "英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超",
    "霞", "平", "刚", "桂", "华", "建", "国", "文", "志", "红", "玲", "辉", "鹏", "飞", "婷", "晓", "雪", "慧", "宇",
    "浩", "凯", "琳", "燕", "萍", "波", "俊", "宁", "欣", "佳", "梅", "兰", "峰", "斌", "亮", "林", "海", "云", "东",
    "春", "雨", "新", "立", "成", "振", "嘉", "子", "涵", "睿", "博", "思", "诗", "怡", "梓", "轩", "泽", "铭", "昊",
    "悦", "瑶", "琪", "彤", "晨", "阳", "航",
];
/// (district, road, longitude, latitude) — real roads of Hangzhou, approximate centres.
const ROADS: &[(&str, &str, f64, f64)] = &[
    ("西湖区", "文三路", 120.140, 30.277),
    ("西湖区", "文二路", 120.138, 30.282),
    ("西湖区", "文一路", 120.135, 30.288),
    ("西湖区", "天目山路", 120.125, 30.272),
    ("西湖区", "教工路", 120.146, 30.281),
    ("西湖区", "古墩路", 120.099, 30.290),
    ("西湖区", "紫金港路", 120.083, 30.292),
    ("西湖区", "西溪路", 120.120, 30.262),
    ("西湖区", "留和路", 120.072, 30.260),
    ("西湖区", "丰潭路", 120.111, 30.293),
    ("拱墅区", "湖墅南路", 120.153, 30.283),
    ("拱墅区", "莫干山路", 120.149, 30.301),
    ("拱墅区", "德胜路", 120.166, 30.299),
    ("拱墅区", "石桥路", 120.190, 30.319),
    ("拱墅区", "东新路", 120.176, 30.302),
    ("拱墅区", "文晖路", 120.165, 30.290),
    ("拱墅区", "学院路", 120.137, 30.295),
    ("上城区", "延安路", 120.166, 30.258),
    ("上城区", "解放路", 120.178, 30.257),
    ("上城区", "庆春路", 120.180, 30.264),
    ("上城区", "凤起路", 120.176, 30.268),
    ("上城区", "体育场路", 120.168, 30.274),
    ("上城区", "中河路", 120.171, 30.252),
    ("上城区", "建国路", 120.185, 30.259),
    ("上城区", "秋涛路", 120.197, 30.255),
    ("上城区", "钱江路", 120.211, 30.245),
    ("上城区", "婺江路", 120.186, 30.234),
    ("上城区", "复兴路", 120.170, 30.215),
    ("上城区", "新塘路", 120.202, 30.270),
    ("滨江区", "江南大道", 120.208, 30.207),
    ("滨江区", "滨盛路", 120.212, 30.212),
    ("滨江区", "长河路", 120.197, 30.192),
    ("余杭区", "五常大道", 120.047, 30.289),
    ("余杭区", "余杭塘路", 120.067, 30.301),
    ("萧山区", "市心路", 120.270, 30.170),
    ("萧山区", "金城路", 120.262, 30.163),
];
const MOBILE_PREFIXES: &[&str] = &[
    "135", "136", "137", "138", "139", "150", "151", "152", "157", "158", "159", "186", "187", "188", "189", "177",
    "199",
];

fn id_check(body: &str) -> char {
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const C: &[u8; 11] = b"10X98765432";
    let sum: u32 = body.bytes().zip(W).map(|(d, w)| u32::from(d - b'0') * w).sum();
    C[(sum % 11) as usize] as char
}

/// What a seeding run did.
#[derive(Debug, Clone, Default)]
pub struct SeedReport {
    pub customers: i64,
    pub readings: i64,
    pub bills: i64,
    pub payments: i64,
    pub seconds: f64,
}

/// Seeding options.
#[derive(Debug, Clone)]
pub struct SeedOptions {
    pub customers: i64,
    pub months: i64,
    pub seed: u64,
    /// Customers per transaction.
    pub batch: i64,
}

impl Default for SeedOptions {
    fn default() -> Self {
        SeedOptions { customers: 1000, months: 24, seed: 2050, batch: 2000 }
    }
}

fn t(ts: jiff::Timestamp) -> Value {
    Value::Text(waterdesk_domain::time::to_db(ts))
}

impl Services {
    /// Generates `o.customers` customers with accounts, meters and `o.months` months of
    /// readings, bills and payments. `progress` is called after every batch.
    pub async fn seed_customers(
        &self,
        o: &SeedOptions,
        mut progress: impl FnMut(i64, i64),
    ) -> ServiceResult<SeedReport> {
        let started = std::time::Instant::now();
        let now = self.now();
        let mut rng = StdRng::seed_from_u64(o.seed);
        let unit_ids: Vec<i64> = {
            let mut c = self.db.read().await?;
            let all = units::list(&mut c).await?;
            let branches: Vec<i64> = all.iter().filter(|u| u.kind == "branch").map(|u| u.id).collect();
            if branches.is_empty() { all.iter().map(|u| u.id).take(1).collect() } else { branches }
        };
        if unit_ids.is_empty() {
            return Err(ServiceError::Internal("no organisation unit to attach customers to".into()));
        }
        let residential = default_tariffs()
            .into_iter()
            .find(|t| t.0 == "residential")
            .map(|t| t.3)
            .ok_or(ServiceError::Internal("tariff".into()))?;
        let today = now.to_zoned(self.tz.clone()).date();
        let first_month = today
            .first_of_month()
            .checked_sub(jiff::Span::new().months(o.months))
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        let mut report = SeedReport::default();
        let mut done = 0;
        while done < o.customers {
            let n = o.batch.min(o.customers - done);
            let mut tx = self.db.begin().await?;
            let mut cid = bulk::next_id(&mut tx, "customers").await?;
            let mut aid = bulk::next_id(&mut tx, "accounts").await?;
            let mut mid = bulk::next_id(&mut tx, "meters").await?;
            let mut bid = bulk::next_id(&mut tx, "bills").await?;
            let mut pid = bulk::next_id(&mut tx, "payments").await?;
            let (mut customers, mut phones, mut accounts, mut holders, mut meters) =
                (vec![], vec![], vec![], vec![], vec![]);
            let (mut readings, mut bills, mut payments, mut allocations) = (vec![], vec![], vec![], vec![]);
            let mut grams: Vec<Vec<Value>> = vec![];
            let now_s = t(now);
            for _ in 0..n {
                let name = format!(
                    "{}{}{}",
                    SURNAMES[rng.random_range(0..SURNAMES.len())],
                    GIVEN[rng.random_range(0..GIVEN.len())],
                    if rng.random_bool(0.7) { GIVEN[rng.random_range(0..GIVEN.len())] } else { "" }
                );
                let birth =
                    jiff::civil::date(rng.random_range(1940..2004), rng.random_range(1..=12), rng.random_range(1..=28));
                let body = format!(
                    "3301{:02}{}{:03}",
                    rng.random_range(1..10),
                    birth.strftime("%Y%m%d"),
                    rng.random_range(0..1000)
                );
                let id_number = format!("{body}{}", id_check(&body));
                let phone = format!(
                    "{}{:08}",
                    MOBILE_PREFIXES[rng.random_range(0..MOBILE_PREFIXES.len())],
                    rng.random_range(0..100_000_000u32)
                );
                let unit = unit_ids[rng.random_range(0..unit_ids.len())];
                customers.push(vec![
                    Value::I64(cid),
                    "person".into(),
                    Value::Text(name.clone()),
                    "id_card".into(),
                    Value::Text(id_number),
                    Value::I64(unit),
                    now_s.clone(),
                    now_s.clone(),
                ]);
                phones.push(vec![
                    Value::I64(cid),
                    Value::Text(phone.clone()),
                    Value::Text(phone[phone.len() - 4..].to_string()),
                    "手机".into(),
                    now_s.clone(),
                ]);
                let (district, road, lon, lat) = ROADS[rng.random_range(0..ROADS.len())];
                let address = format!(
                    "{district}{road}{}号{}幢{}单元{}{:02}室",
                    rng.random_range(1..400),
                    rng.random_range(1..30),
                    rng.random_range(1..5),
                    rng.random_range(1..20),
                    rng.random_range(1..5)
                );
                let key = waterdesk_store::customers::address_key(&address);
                let customer_grams = waterdesk_store::customers::search_grams(&name, std::slice::from_ref(&key));
                grams.extend(customer_grams.into_iter().map(|g| vec![Value::Text(g), Value::I64(cid)]));
                let persons = rng.random_range(1..7i64);
                let account_no = format!("SD{aid:09}");
                let lat_e6 = ((lat + rng.random_range(-0.006..0.006)) * 1e6) as i64;
                let lon_e6 = ((lon + rng.random_range(-0.008..0.008)) * 1e6) as i64;
                accounts.push(vec![
                    Value::I64(aid),
                    Value::Text(account_no.clone()),
                    Value::I64(cid),
                    Value::Text(address),
                    Value::Text(key),
                    Value::I64(lat_e6),
                    Value::I64(lon_e6),
                    "residential".into(),
                    "active".into(),
                    Value::Text(format!("B{:04}", aid % 2000)),
                    Value::I64(unit),
                    "residential".into(),
                    Value::I64(persons),
                    Value::I64(rng.random_range(0..2)),
                    now_s.clone(),
                    now_s.clone(),
                ]);
                holders.push(vec![Value::I64(aid), Value::I64(cid), now_s.clone(), "opened".into(), now_s.clone()]);
                // Monthly readings, bills and (mostly) payments.
                let mut reading = rng.random_range(0..500i64);
                let installed =
                    first_month.checked_sub(jiff::Span::new().days(rng.random_range(1..300))).unwrap_or(first_month);
                meters.push(vec![
                    Value::I64(mid),
                    Value::I64(aid),
                    Value::Text(format!("WM{mid:010}")),
                    Value::I64(20),
                    "LXS-20E".into(),
                    Value::Text(installed.to_string()),
                    Value::I64(reading),
                    now_s.clone(),
                    now_s.clone(),
                ]);
                let mut prev_on = installed.to_string();
                let mut ytd = 0;
                let mut year = 0;
                let late_payer = rng.random_bool(0.15);
                for k in 0..o.months {
                    let month = first_month.checked_add(jiff::Span::new().months(k)).unwrap_or(first_month);
                    let read_on = month.checked_add(jiff::Span::new().days(rng.random_range(14..26))).unwrap_or(month);
                    if read_on > today {
                        break;
                    }
                    if read_on.year() != year {
                        year = read_on.year();
                        ytd = 0;
                    }
                    let summer = matches!(read_on.month(), 6..=9);
                    let volume =
                        (persons * rng.random_range(3..6) + if summer { rng.random_range(2..8) } else { 0 }).max(0);
                    reading += volume;
                    let charge = residential.charge(ytd, volume, persons);
                    ytd = charge.ytd_after;
                    let total = charge.total.0;
                    let unpaid = late_payer && k >= o.months - 2;
                    let due = read_on.checked_add(jiff::Span::new().days(30)).unwrap_or(read_on);
                    let paid = if unpaid { 0 } else { total };
                    let status = if paid >= total { "paid" } else { "unpaid" };
                    let read_s = read_on.to_string();
                    let lines = serde_json::to_string(&charge.lines).unwrap_or_default();
                    readings.push(vec![
                        Value::I64(mid),
                        Value::I64(aid),
                        Value::Text(read_s.clone()),
                        Value::I64(reading),
                        Value::I64(volume),
                        "manual".into(),
                        Value::I64(bid),
                        now_s.clone(),
                    ]);
                    bills.push(vec![
                        Value::I64(bid),
                        Value::I64(aid),
                        Value::Text(read_on.strftime("%Y-%m").to_string()),
                        Value::Text(prev_on.clone()),
                        Value::Text(read_s.clone()),
                        Value::I64(volume),
                        Value::I64(charge.water.0),
                        Value::I64(charge.sewage.0),
                        Value::I64(total),
                        Value::I64(paid),
                        status.into(),
                        Value::Text(due.to_string()),
                        Value::I64(charge.ytd_after),
                        Value::Text(lines),
                        now_s.clone(),
                        now_s.clone(),
                    ]);
                    if paid > 0 {
                        let paid_on =
                            read_on.checked_add(jiff::Span::new().days(rng.random_range(1..20))).unwrap_or(read_on);
                        let paid_at = paid_on
                            .at(rng.random_range(8..21), rng.random_range(0..60), 0, 0)
                            .to_zoned(self.tz.clone())
                            .map(|z| z.timestamp())
                            .unwrap_or(now)
                            .min(now);
                        let channel = ["wechat", "alipay", "bank", "counter", "app"][rng.random_range(0..5)];
                        payments.push(vec![
                            Value::I64(pid),
                            Value::I64(aid),
                            channel.into(),
                            Value::I64(paid),
                            t(paid_at),
                            Value::Text(format!("SEED-{aid}-{k}")),
                            now_s.clone(),
                        ]);
                        allocations.push(vec![Value::I64(pid), Value::I64(bid), Value::I64(paid)]);
                        pid += 1;
                    }
                    prev_on = read_s;
                    bid += 1;
                }
                if let Some(m) = meters.last_mut() {
                    m.push(Value::I64(reading));
                    m.push(Value::Text(prev_on));
                }
                cid += 1;
                aid += 1;
                mid += 1;
            }
            bulk::insert(
                &mut tx,
                self.db.backend(),
                "customers",
                &["id", "kind", "name", "id_type", "id_number", "unit_id", "created_at", "updated_at"],
                &customers,
            )
            .await?;
            bulk::insert(
                &mut tx,
                self.db.backend(),
                "customer_phones",
                &["customer_id", "phone", "last4", "label", "created_at"],
                &phones,
            )
            .await?;
            bulk::insert(
                &mut tx,
                self.db.backend(),
                "accounts",
                &[
                    "id",
                    "account_no",
                    "holder_id",
                    "address",
                    "address_key",
                    "lat_e6",
                    "lon_e6",
                    "category",
                    "status",
                    "book_no",
                    "unit_id",
                    "tariff_code",
                    "household_size",
                    "e_bill",
                    "created_at",
                    "updated_at",
                ],
                &accounts,
            )
            .await?;
            bulk::insert(
                &mut tx,
                self.db.backend(),
                "account_holders",
                &["account_id", "customer_id", "from_at", "reason", "created_at"],
                &holders,
            )
            .await?;
            bulk::insert(
                &mut tx,
                self.db.backend(),
                "meters",
                &[
                    "id",
                    "account_id",
                    "serial",
                    "diameter_mm",
                    "model",
                    "installed_on",
                    "initial_reading",
                    "created_at",
                    "updated_at",
                    "last_reading",
                    "last_read_on",
                ],
                &meters,
            )
            .await?;
            bulk::insert(
                &mut tx,
                self.db.backend(),
                "bills",
                &[
                    "id",
                    "account_id",
                    "period",
                    "read_from",
                    "read_to",
                    "volume",
                    "water_fen",
                    "sewage_fen",
                    "total_fen",
                    "paid_fen",
                    "status",
                    "due_on",
                    "ytd_after",
                    "lines",
                    "created_at",
                    "updated_at",
                ],
                &bills,
            )
            .await?;
            bulk::insert(
                &mut tx,
                self.db.backend(),
                "meter_readings",
                &["meter_id", "account_id", "read_on", "reading", "volume", "source", "bill_id", "created_at"],
                &readings,
            )
            .await?;
            bulk::insert(
                &mut tx,
                self.db.backend(),
                "payments",
                &["id", "account_id", "channel", "amount_fen", "paid_at", "external_txn_id", "created_at"],
                &payments,
            )
            .await?;
            bulk::insert(&mut tx, self.db.backend(), "search_grams", &["gram", "customer_id"], &grams).await?;
            bulk::insert(
                &mut tx,
                self.db.backend(),
                "payment_allocations",
                &["payment_id", "bill_id", "amount_fen"],
                &allocations,
            )
            .await?;
            for table in ["customers", "accounts", "meters", "bills", "payments"] {
                bulk::sync_ids(&mut tx, self.db.backend(), table).await?;
            }
            crate::input::commit(tx).await?;
            report.readings += readings.len() as i64;
            report.bills += bills.len() as i64;
            report.payments += payments.len() as i64;
            done += n;
            report.customers = done;
            progress(done, o.customers);
        }
        report.seconds = started.elapsed().as_secs_f64();
        Ok(report)
    }
}
