//! The conditional query language over work orders (R-DATA-02): a JSON document parsed at
//! the boundary into a checked tree that the store compiles to parameterised SQL.
//!
//! ```json
//! {"where": {"all": [{"field": "channel", "op": "in", "value": ["phone", "wechat"]},
//!                    {"any": [{"field": "text", "op": "contains", "value": "漏水"},
//!                             {"field": "overdue", "op": "is", "value": true}]}]},
//!  "sort": [{"field": "registered_at", "dir": "desc"}], "limit": 50, "after": "…"}
//! ```
//!
//! Only the fields of [`Field`] exist, each with its own operators and value shapes; every
//! limit is checked here (nesting, number of conditions, list lengths, date spans, text
//! lengths, page size), so nothing the store runs is unbounded or shaped by input other
//! than through bound values. Errors carry a stable code and the JSON path of the culprit.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::Value;

/// Groups nest at most this deep (the top group is depth 1).
pub const MAX_DEPTH: usize = 3;
/// Conditions in one query, all groups together.
pub const MAX_CONDITIONS: usize = 40;
/// Values of one `in` list.
pub const MAX_IN: usize = 200;
/// The longest date range, in days (five years).
pub const MAX_RANGE_DAYS: i64 = 5 * 366;
/// Free text: at least two characters (one Chinese character matches half the book), at most 100.
pub const TEXT_CHARS: std::ops::RangeInclusive<usize> = 2..=100;
/// Page size.
pub const MAX_LIMIT: i64 = 200;
pub const DEFAULT_LIMIT: i64 = 50;
/// Sort keys.
pub const MAX_SORT: usize = 2;

/// The return-visit satisfaction scale (as recorded by the `visit` step).
pub const SATISFACTION: &[&str] = &["satisfied", "basically_satisfied", "unsatisfied"];

/// A field one may query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// 热线编号 of a contact that reported the order (its origin or one attached to it).
    ContactNo,
    OrderNo,
    /// The caller's phone number.
    Caller,
    Address,
    /// 反映形式: the originating contact's channel, else the order's origin.
    Channel,
    /// 反映来源: the originating contact's source, else the order's origin.
    Source,
    Category,
    Type,
    /// Handling unit.
    Unit,
    State,
    Priority,
    RegisteredAt,
    ResolvedAt,
    ConcludedAt,
    Overdue,
    Satisfaction,
    /// Free text over title, content and address.
    Text,
}

/// What values a field takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Short codes (channel, type, state …).
    Code,
    /// Document numbers (WO…, C…).
    Number,
    Phone,
    /// Text searched by substring.
    Text,
    Id,
    Int,
    Date,
    Bool,
}

impl Field {
    pub const ALL: [Field; 17] = [
        Field::ContactNo,
        Field::OrderNo,
        Field::Caller,
        Field::Address,
        Field::Channel,
        Field::Source,
        Field::Category,
        Field::Type,
        Field::Unit,
        Field::State,
        Field::Priority,
        Field::RegisteredAt,
        Field::ResolvedAt,
        Field::ConcludedAt,
        Field::Overdue,
        Field::Satisfaction,
        Field::Text,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Field::ContactNo => "contact_no",
            Field::OrderNo => "order_no",
            Field::Caller => "caller",
            Field::Address => "address",
            Field::Channel => "channel",
            Field::Source => "source",
            Field::Category => "category",
            Field::Type => "type",
            Field::Unit => "unit",
            Field::State => "state",
            Field::Priority => "priority",
            Field::RegisteredAt => "registered_at",
            Field::ResolvedAt => "resolved_at",
            Field::ConcludedAt => "concluded_at",
            Field::Overdue => "overdue",
            Field::Satisfaction => "satisfaction",
            Field::Text => "text",
        }
    }

    pub fn parse(code: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.code() == code)
    }

    pub fn kind(self) -> Kind {
        match self {
            Field::ContactNo | Field::OrderNo => Kind::Number,
            Field::Caller => Kind::Phone,
            Field::Address | Field::Text => Kind::Text,
            Field::Channel | Field::Source | Field::Category | Field::Type | Field::State | Field::Satisfaction => {
                Kind::Code
            }
            Field::Unit => Kind::Id,
            Field::Priority => Kind::Int,
            Field::RegisteredAt | Field::ResolvedAt | Field::ConcludedAt => Kind::Date,
            Field::Overdue => Kind::Bool,
        }
    }

    /// The operators the field accepts.
    pub fn ops(self) -> &'static [Op] {
        match self {
            Field::Text => &[Op::Contains],
            Field::Address => &[Op::Contains, Op::Eq],
            Field::ContactNo | Field::OrderNo | Field::Caller => &[Op::Eq, Op::In],
            Field::Unit => &[Op::Eq, Op::In, Op::Under],
            Field::Priority => &[Op::Eq, Op::In, Op::Between],
            Field::RegisteredAt | Field::ResolvedAt | Field::ConcludedAt => &[Op::Between],
            Field::Overdue => &[Op::Is],
            _ => &[Op::Eq, Op::In, Op::NotIn],
        }
    }

    /// (中文, English) label.
    pub fn label(self) -> (&'static str, &'static str) {
        match self {
            Field::ContactNo => ("热线编号", "Contact no."),
            Field::OrderNo => ("工单号", "Order no."),
            Field::Caller => ("来电号码", "Caller"),
            Field::Address => ("地址", "Address"),
            Field::Channel => ("反映形式", "Channel"),
            Field::Source => ("反映来源", "Source"),
            Field::Category => ("反映类别", "Category"),
            Field::Type => ("工单类型", "Type"),
            Field::Unit => ("处理单位", "Handling unit"),
            Field::State => ("状态", "State"),
            Field::Priority => ("优先级", "Priority"),
            Field::RegisteredAt => ("登记时间", "Registered"),
            Field::ResolvedAt => ("处理完成时间", "Resolved"),
            Field::ConcludedAt => ("办结时间", "Concluded"),
            Field::Overdue => ("超期", "Overdue"),
            Field::Satisfaction => ("满意度", "Satisfaction"),
            Field::Text => ("内容关键字", "Text"),
        }
    }
}

/// An operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Eq,
    In,
    NotIn,
    /// A unit and every unit below it.
    Under,
    /// A range: dates `[from, to)` (a date without a time as `to` includes that day);
    /// integers inclusive.
    Between,
    Contains,
    Is,
}

impl Op {
    pub const ALL: [Op; 7] = [Op::Eq, Op::In, Op::NotIn, Op::Under, Op::Between, Op::Contains, Op::Is];

    pub fn code(self) -> &'static str {
        match self {
            Op::Eq => "eq",
            Op::In => "in",
            Op::NotIn => "not_in",
            Op::Under => "under",
            Op::Between => "between",
            Op::Contains => "contains",
            Op::Is => "is",
        }
    }

    pub fn parse(code: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|o| o.code() == code)
    }
}

/// A checked value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Val {
    Texts(Vec<String>),
    Ids(Vec<i64>),
    /// Inclusive integer range.
    Ints(i64, i64),
    /// `[from, to)`.
    Range(Timestamp, Timestamp),
    Bool(bool),
    /// A substring (not yet escaped for `LIKE`).
    Substring(String),
}

/// One condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cond {
    pub field: Field,
    pub op: Op,
    pub value: Val,
}

/// A node of the condition tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Cond(Cond),
    /// `all` (AND, `true`) or `any` (OR, `false`) of the children.
    Group {
        all: bool,
        items: Vec<Node>,
    },
}

/// A sort key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SortKey {
    RegisteredAt,
    Priority,
    OrderNo,
    UpdatedAt,
}

impl SortKey {
    pub const ALL: [SortKey; 4] = [SortKey::RegisteredAt, SortKey::Priority, SortKey::OrderNo, SortKey::UpdatedAt];

    pub fn code(self) -> &'static str {
        match self {
            SortKey::RegisteredAt => "registered_at",
            SortKey::Priority => "priority",
            SortKey::OrderNo => "order_no",
            SortKey::UpdatedAt => "updated_at",
        }
    }

    pub fn parse(code: &str) -> Option<SortKey> {
        SortKey::ALL.into_iter().find(|k| k.code() == code)
    }

    /// Whether the key's values are integers (else text).
    pub fn is_int(self) -> bool {
        self == SortKey::Priority
    }
}

/// A value of a sort key in a cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyVal {
    Int(i64),
    Text(String),
}

/// Where the previous page ended: the last row's sort-key values and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub keys: Vec<KeyVal>,
    pub id: i64,
}

/// A checked query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub filter: Option<Node>,
    /// Sort keys with `desc`; the order id breaks ties in the last key's direction.
    pub sort: Vec<(SortKey, bool)>,
    pub limit: i64,
    pub after: Option<Cursor>,
}

/// Why a query was refused: a stable code, where (a JSON path such as
/// `where.all[2].value`) and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code} at {path}: {detail}")]
pub struct QueryError {
    pub code: &'static str,
    pub path: String,
    pub detail: String,
}

fn err(code: &'static str, path: &str, detail: impl Into<String>) -> QueryError {
    QueryError { code, path: path.to_string(), detail: detail.into() }
}

type R<T> = Result<T, QueryError>;

impl Query {
    /// Parses and checks a query document. Dates without a time are days in `tz`.
    pub fn parse(doc: &Value, tz: &TimeZone) -> R<Query> {
        let obj = doc.as_object().ok_or_else(|| err("query_bad_value", "", "the query must be a JSON object"))?;
        for k in obj.keys() {
            if !matches!(k.as_str(), "where" | "sort" | "limit" | "after") {
                return Err(err("query_unknown_key", k, "allowed: where, sort, limit, after"));
            }
        }
        let mut count = 0;
        let filter = match obj.get("where") {
            None | Some(Value::Null) => None,
            Some(w) => Some(parse_group(w, "where", 1, &mut count, tz)?),
        };
        let sort = parse_sort(obj.get("sort"))?;
        let limit = match obj.get("limit") {
            None | Some(Value::Null) => DEFAULT_LIMIT,
            Some(v) => v
                .as_i64()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| err("query_bad_limit", "limit", format!("an integer from 1 to {MAX_LIMIT}")))?,
        };
        let after = match obj.get("after") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.is_empty() => None,
            Some(Value::String(s)) => Some(Cursor::decode(s, &sort)?),
            Some(_) => return Err(err("query_bad_cursor", "after", "the `next` string of the previous page")),
        };
        Ok(Query { filter, sort, limit, after })
    }

    /// The conditions of the tree, depth first.
    pub fn conditions(&self) -> Vec<&Cond> {
        fn walk<'a>(n: &'a Node, out: &mut Vec<&'a Cond>) {
            match n {
                Node::Cond(c) => out.push(c),
                Node::Group { items, .. } => items.iter().for_each(|i| walk(i, out)),
            }
        }
        let mut out = Vec::new();
        if let Some(f) = &self.filter {
            walk(f, &mut out);
        }
        out
    }
}

fn parse_group(v: &Value, path: &str, depth: usize, count: &mut usize, tz: &TimeZone) -> R<Node> {
    let obj = v.as_object().ok_or_else(|| err("query_bad_value", path, "a group {\"all\": […]} or {\"any\": […]}"))?;
    let (all, items) = match (obj.get("all"), obj.get("any"), obj.len()) {
        (Some(items), None, 1) => (true, items),
        (None, Some(items), 1) => (false, items),
        _ => {
            return Err(err("query_bad_group", path, "a group has exactly one key, `all` (AND) or `any` (OR)"));
        }
    };
    if depth > MAX_DEPTH {
        return Err(err("query_too_complex", path, format!("groups nest at most {MAX_DEPTH} deep")));
    }
    let key = if all { "all" } else { "any" };
    let list = items.as_array().ok_or_else(|| err("query_bad_group", path, "`all`/`any` take a list"))?;
    if list.is_empty() {
        return Err(err("query_bad_group", path, "an empty group"));
    }
    let mut out = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        let p = format!("{path}.{key}[{i}]");
        let is_group = item.as_object().is_some_and(|o| o.contains_key("all") || o.contains_key("any"));
        if is_group {
            out.push(parse_group(item, &p, depth + 1, count, tz)?);
        } else {
            *count += 1;
            if *count > MAX_CONDITIONS {
                return Err(err("query_too_complex", &p, format!("at most {MAX_CONDITIONS} conditions")));
            }
            out.push(Node::Cond(parse_cond(item, &p, tz)?));
        }
    }
    Ok(Node::Group { all, items: out })
}

fn parse_cond(v: &Value, path: &str, tz: &TimeZone) -> R<Cond> {
    let obj =
        v.as_object().ok_or_else(|| err("query_bad_value", path, "a condition {\"field\", \"op\", \"value\"}"))?;
    for k in obj.keys() {
        if !matches!(k.as_str(), "field" | "op" | "value") {
            return Err(err("query_unknown_key", &format!("{path}.{k}"), "allowed: field, op, value"));
        }
    }
    let fname = obj.get("field").and_then(Value::as_str).unwrap_or_default();
    let field = Field::parse(fname).ok_or_else(|| {
        err("query_unknown_field", &format!("{path}.field"), format!("unknown field {:?}", clip(fname)))
    })?;
    let oname = obj.get("op").and_then(Value::as_str).unwrap_or_default();
    let op = Op::parse(oname).filter(|o| field.ops().contains(o)).ok_or_else(|| {
        let allowed: Vec<&str> = field.ops().iter().map(|o| o.code()).collect();
        err(
            "query_bad_operator",
            &format!("{path}.op"),
            format!("{} takes {}, not {:?}", field.code(), allowed.join(", "), clip(oname)),
        )
    })?;
    let vpath = format!("{path}.value");
    let value = obj.get("value").ok_or_else(|| err("query_bad_value", &vpath, "a value is required"))?;
    let value = parse_value(field, op, value, &vpath, tz)?;
    Ok(Cond { field, op, value })
}

/// Input echoed in messages is cut short.
fn clip(s: &str) -> String {
    s.chars().take(40).collect()
}

fn parse_value(field: Field, op: Op, v: &Value, path: &str, tz: &TimeZone) -> R<Val> {
    let bad = |d: String| err("query_bad_value", path, d);
    match op {
        Op::Is => v.as_bool().map(Val::Bool).ok_or_else(|| bad("true or false".into())),
        Op::Contains => {
            let s = v.as_str().ok_or_else(|| bad("a text".into()))?.trim();
            let n = s.chars().count();
            if !TEXT_CHARS.contains(&n) {
                return Err(bad(format!("{} to {} characters", TEXT_CHARS.start(), TEXT_CHARS.end())));
            }
            if s.chars().any(char::is_control) {
                return Err(bad("no control characters".into()));
            }
            Ok(Val::Substring(s.to_string()))
        }
        Op::Between => match field.kind() {
            Kind::Int => {
                let (a, b) = bounds(v).ok_or_else(|| bad("{\"from\": n, \"to\": n}".into()))?;
                let (a, b) = (int_of(field, a, path)?, int_of(field, b, path)?);
                if a > b {
                    return Err(err("query_bad_range", path, "`from` must not be above `to`"));
                }
                Ok(Val::Ints(a, b))
            }
            _ => {
                let (a, b) = bounds(v).ok_or_else(|| bad("{\"from\": date, \"to\": date}".into()))?;
                let from =
                    instant(a, false, tz).ok_or_else(|| bad("`from`: YYYY-MM-DD or an RFC 3339 instant".into()))?;
                let to = instant(b, true, tz).ok_or_else(|| bad("`to`: YYYY-MM-DD or an RFC 3339 instant".into()))?;
                if from >= to {
                    return Err(err("query_bad_range", path, "`from` must be before `to`"));
                }
                if to.duration_since(from).as_secs() > MAX_RANGE_DAYS * 86_400 {
                    return Err(err("query_range_too_large", path, format!("at most {MAX_RANGE_DAYS} days")));
                }
                Ok(Val::Range(from, to))
            }
        },
        Op::Eq | Op::In | Op::NotIn | Op::Under => {
            let items: Vec<&Value> = match (op, v) {
                (Op::Eq | Op::Under, v) if !v.is_array() => vec![v],
                (Op::In | Op::NotIn, Value::Array(a)) => a.iter().collect(),
                _ => return Err(bad(if matches!(op, Op::In | Op::NotIn) { "a list" } else { "one value" }.into())),
            };
            if items.is_empty() {
                return Err(bad("at least one value".into()));
            }
            if items.len() > MAX_IN {
                return Err(err("query_too_complex", path, format!("at most {MAX_IN} values")));
            }
            match field.kind() {
                Kind::Id => {
                    let ids = items.iter().map(|x| x.as_i64().filter(|n| *n > 0)).collect::<Option<Vec<i64>>>();
                    ids.map(Val::Ids).ok_or_else(|| bad("unit ids".into()))
                }
                Kind::Int => {
                    let ns = items.iter().map(|x| int_of(field, x, path)).collect::<R<Vec<i64>>>()?;
                    Ok(Val::Ids(ns))
                }
                _ => {
                    let texts = items
                        .iter()
                        .map(|x| x.as_str().map(str::trim).ok_or_else(|| bad("texts".into())))
                        .collect::<R<Vec<&str>>>()?;
                    texts.into_iter().map(|t| text_value(field, t, path)).collect::<R<Vec<_>>>().map(Val::Texts)
                }
            }
        }
    }
}

/// Checks one text value of a field of codes, numbers or phones.
fn text_value(field: Field, t: &str, path: &str) -> R<String> {
    let bad = |d: &str| err("query_bad_value", path, format!("{}: {d}", clip(t)));
    match field.kind() {
        Kind::Phone => crate::phone::Phone::parse(t).map(|p| p.as_str().to_string()).map_err(|e| bad(&e.to_string())),
        Kind::Number => {
            let ok = !t.is_empty() && t.len() <= 40 && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
            if ok { Ok(t.to_ascii_uppercase()) } else { Err(bad("a document number such as WO20261121-000001")) }
        }
        Kind::Text => {
            let n = t.chars().count();
            if n == 0 || n > *TEXT_CHARS.end() || t.chars().any(char::is_control) {
                return Err(bad("1 to 100 characters"));
            }
            Ok(t.to_string())
        }
        _ => {
            let ok = !t.is_empty()
                && t.len() <= 50
                && t.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
            if !ok {
                return Err(bad("a code (letters, digits, _ - .)"));
            }
            if field == Field::State && crate::workflow::State::parse(t).is_none() {
                return Err(bad("not a work-order state"));
            }
            if field == Field::Satisfaction && !SATISFACTION.contains(&t) {
                return Err(bad("satisfied, basically_satisfied or unsatisfied"));
            }
            Ok(t.to_string())
        }
    }
}

fn int_of(field: Field, v: &Value, path: &str) -> R<i64> {
    let n = v.as_i64().ok_or_else(|| err("query_bad_value", path, "an integer"))?;
    if field == Field::Priority && !(1..=4).contains(&n) {
        return Err(err("query_bad_value", path, "priority is 1 to 4"));
    }
    Ok(n)
}

fn bounds(v: &Value) -> Option<(&Value, &Value)> {
    let o = v.as_object()?;
    if o.len() != 2 {
        return None;
    }
    Some((o.get("from")?, o.get("to")?))
}

/// A date (`YYYY-MM-DD`, local midnight — the next midnight when it ends a range, so the
/// day is included) or an RFC 3339 instant.
fn instant(v: &Value, end: bool, tz: &TimeZone) -> Option<Timestamp> {
    let s = v.as_str()?.trim();
    if s.len() > 40 {
        return None;
    }
    if let Ok(t) = s.parse::<Timestamp>() {
        return Some(t);
    }
    let d: jiff::civil::Date = s.parse().ok()?;
    let d = if end { d.tomorrow().ok()? } else { d };
    d.to_zoned(tz.clone()).ok().map(|z| z.timestamp())
}

fn parse_sort(v: Option<&Value>) -> R<Vec<(SortKey, bool)>> {
    let list = match v {
        None | Some(Value::Null) => return Ok(vec![(SortKey::RegisteredAt, true)]),
        Some(Value::Array(a)) => a,
        Some(_) => return Err(err("query_bad_sort", "sort", "a list of {\"field\", \"dir\"}")),
    };
    if list.is_empty() {
        return Ok(vec![(SortKey::RegisteredAt, true)]);
    }
    if list.len() > MAX_SORT {
        return Err(err("query_bad_sort", "sort", format!("at most {MAX_SORT} sort keys")));
    }
    let mut out: Vec<(SortKey, bool)> = Vec::new();
    for (i, s) in list.iter().enumerate() {
        let path = format!("sort[{i}]");
        let o = s.as_object().ok_or_else(|| err("query_bad_sort", &path, "{\"field\", \"dir\"}"))?;
        if o.keys().any(|k| k != "field" && k != "dir") {
            return Err(err("query_bad_sort", &path, "allowed: field, dir"));
        }
        let name = o.get("field").and_then(Value::as_str).unwrap_or_default();
        let key = SortKey::parse(name).ok_or_else(|| {
            let allowed: Vec<&str> = SortKey::ALL.iter().map(|k| k.code()).collect();
            err("query_bad_sort", &path, format!("sort by {}, not {:?}", allowed.join(", "), clip(name)))
        })?;
        let desc = match o.get("dir").map(|d| d.as_str()) {
            None | Some(Some("asc")) => false,
            Some(Some("desc")) => true,
            _ => return Err(err("query_bad_sort", &path, "dir is asc or desc")),
        };
        if out.iter().any(|(k, _)| *k == key) {
            return Err(err("query_bad_sort", &path, "a key appears twice"));
        }
        out.push((key, desc));
    }
    Ok(out)
}

impl Cursor {
    /// The opaque text of a cursor, tied to its sort (a cursor of another sort is refused).
    pub fn encode(&self, sort: &[(SortKey, bool)]) -> String {
        let keys: Vec<Value> = self
            .keys
            .iter()
            .map(|k| match k {
                KeyVal::Int(i) => Value::from(*i),
                KeyVal::Text(s) => Value::from(s.as_str()),
            })
            .collect();
        let doc = serde_json::json!({"s": sort_sig(sort), "k": keys, "i": self.id});
        hex::encode(doc.to_string())
    }

    pub fn decode(s: &str, sort: &[(SortKey, bool)]) -> R<Cursor> {
        let bad = || err("query_bad_cursor", "after", "not a cursor of this query's sort (use the `next` string)");
        if s.len() > 2000 {
            return Err(bad());
        }
        let bytes = hex::decode(s).map_err(|_| bad())?;
        let doc: Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
        if doc["s"].as_str() != Some(sort_sig(sort).as_str()) {
            return Err(bad());
        }
        let id = doc["i"].as_i64().ok_or_else(bad)?;
        let raw = doc["k"].as_array().ok_or_else(bad)?;
        if raw.len() != sort.len() {
            return Err(bad());
        }
        let mut keys = Vec::new();
        for ((k, _), v) in sort.iter().zip(raw) {
            keys.push(match (k.is_int(), v) {
                (true, Value::Number(n)) => KeyVal::Int(n.as_i64().ok_or_else(bad)?),
                (false, Value::String(t)) if t.len() <= 64 => KeyVal::Text(t.clone()),
                _ => return Err(bad()),
            });
        }
        Ok(Cursor { keys, id })
    }
}

fn sort_sig(sort: &[(SortKey, bool)]) -> String {
    sort.iter().map(|(k, d)| format!("{}:{}", k.code(), if *d { "d" } else { "a" })).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn tz() -> TimeZone {
        TimeZone::get("Asia/Shanghai").unwrap()
    }

    fn parse(v: Value) -> R<Query> {
        Query::parse(&v, &tz())
    }

    fn code(v: Value) -> &'static str {
        parse(v).unwrap_err().code
    }

    #[test]
    fn a_nested_query() {
        let q = parse(json!({
            "where": {"all": [
                {"field": "channel", "op": "in", "value": ["phone", "wechat"]},
                {"field": "registered_at", "op": "between", "value": {"from": "2026-11-01", "to": "2026-11-30"}},
                {"any": [{"field": "text", "op": "contains", "value": " 漏水 "}, {"field": "overdue", "op": "is", "value": true}]}
            ]},
            "sort": [{"field": "priority", "dir": "asc"}, {"field": "registered_at", "dir": "desc"}],
            "limit": 20
        }))
        .unwrap();
        assert_eq!(q.limit, 20);
        assert_eq!(q.sort, vec![(SortKey::Priority, false), (SortKey::RegisteredAt, true)]);
        let c = q.conditions();
        assert_eq!(c.len(), 4);
        assert_eq!(c[0].value, Val::Texts(vec!["phone".into(), "wechat".into()]));
        // Days in Shanghai: the 1st from midnight local, the 30th included.
        let from: Timestamp = "2026-10-31T16:00:00Z".parse().unwrap();
        let to: Timestamp = "2026-11-30T16:00:00Z".parse().unwrap();
        assert_eq!(c[1].value, Val::Range(from, to));
        assert_eq!(c[2].value, Val::Substring("漏水".into()));
        assert_eq!(c[3].value, Val::Bool(true));
    }

    #[test]
    fn defaults() {
        let q = parse(json!({})).unwrap();
        assert_eq!((q.filter, q.sort, q.limit, q.after), (None, vec![(SortKey::RegisteredAt, true)], 50, None));
    }

    #[test]
    fn refusals_have_stable_codes() {
        assert_eq!(code(json!([])), "query_bad_value");
        assert_eq!(code(json!({"select": 1})), "query_unknown_key");
        let c = |cond: Value| code(json!({"where": {"all": [cond]}}));
        assert_eq!(c(json!({"field": "password", "op": "eq", "value": "x"})), "query_unknown_field");
        assert_eq!(c(json!({"field": "id; DROP TABLE work_orders", "op": "eq", "value": "x"})), "query_unknown_field");
        assert_eq!(c(json!({"field": "text", "op": "eq", "value": "漏水"})), "query_bad_operator");
        assert_eq!(c(json!({"field": "channel", "op": "like", "value": "x"})), "query_bad_operator");
        assert_eq!(c(json!({"field": "channel", "op": "eq", "value": "x' OR '1'='1"})), "query_bad_value");
        assert_eq!(c(json!({"field": "channel", "op": "in", "value": "phone"})), "query_bad_value");
        assert_eq!(c(json!({"field": "channel", "op": "in", "value": []})), "query_bad_value");
        assert_eq!(c(json!({"field": "state", "op": "eq", "value": "nonsense"})), "query_bad_value");
        assert_eq!(c(json!({"field": "priority", "op": "eq", "value": 9})), "query_bad_value");
        assert_eq!(c(json!({"field": "caller", "op": "eq", "value": "12"})), "query_bad_value");
        assert_eq!(c(json!({"field": "text", "op": "contains", "value": "漏"})), "query_bad_value");
        assert_eq!(c(json!({"field": "text", "op": "contains", "value": "x".repeat(101)})), "query_bad_value");
        assert_eq!(c(json!({"field": "overdue", "op": "is", "value": "yes"})), "query_bad_value");
        assert_eq!(c(json!({"field": "channel", "op": "eq"})), "query_bad_value");
        assert_eq!(c(json!({"field": "channel", "op": "eq", "value": "x", "extra": 1})), "query_unknown_key");
        let range = |from: &str, to: &str| {
            c(json!({"field": "registered_at", "op": "between", "value": {"from": from, "to": to}}))
        };
        assert_eq!(range("2020-01-01", "2026-01-01"), "query_range_too_large");
        assert_eq!(range("2026-01-02", "2026-01-01"), "query_bad_range");
        assert_eq!(range("0001-01-01", "9999-12-30"), "query_range_too_large");
        assert_eq!(range("yesterday", "2026-01-01"), "query_bad_value");
        let many: Vec<String> = (0..201).map(|i| format!("c{i}")).collect();
        assert_eq!(c(json!({"field": "category", "op": "in", "value": many})), "query_too_complex");
        let cond = json!({"field": "overdue", "op": "is", "value": true});
        let conds: Vec<Value> = (0..41).map(|_| cond.clone()).collect();
        assert_eq!(code(json!({"where": {"any": conds}})), "query_too_complex");
        let deep = json!({"all": [{"any": [{"all": [{"any": [cond.clone()]}]}]}]});
        assert_eq!(code(json!({"where": deep})), "query_too_complex");
        assert_eq!(code(json!({"where": {"all": [], }})), "query_bad_group");
        assert_eq!(code(json!({"where": {"all": [cond.clone()], "any": [cond]}})), "query_bad_group");
        assert_eq!(code(json!({"sort": [{"field": "created_at; DROP TABLE x", "dir": "desc"}]})), "query_bad_sort");
        assert_eq!(code(json!({"sort": [{"field": "priority", "dir": "sideways"}]})), "query_bad_sort");
        assert_eq!(code(json!({"sort": "priority"})), "query_bad_sort");
        assert_eq!(code(json!({"limit": 0})), "query_bad_limit");
        assert_eq!(code(json!({"limit": 100000})), "query_bad_limit");
        assert_eq!(code(json!({"after": "zz"})), "query_bad_cursor");
    }

    #[test]
    fn three_levels_are_allowed() {
        let cond = json!({"field": "overdue", "op": "is", "value": true});
        let q = parse(json!({"where": {"all": [{"any": [{"all": [cond]}]}]}})).unwrap();
        assert_eq!(q.conditions().len(), 1);
    }

    #[test]
    fn cursors_round_trip_and_are_bound_to_their_sort() {
        let sort = vec![(SortKey::Priority, false), (SortKey::RegisteredAt, true)];
        let c = Cursor { keys: vec![KeyVal::Int(2), KeyVal::Text("2026-11-01T00:00:00.000000Z".into())], id: 42 };
        let s = c.encode(&sort);
        assert_eq!(Cursor::decode(&s, &sort).unwrap(), c);
        assert_eq!(Cursor::decode(&s, &[(SortKey::Priority, true)]).unwrap_err().code, "query_bad_cursor");
        let q = parse(json!({"sort": [{"field": "priority"}, {"field": "registered_at", "dir": "desc"}], "after": s}));
        assert_eq!(q.unwrap().after, Some(c));
    }

    #[test]
    fn values_are_normalised() {
        let q = parse(json!({"where": {"any": [
            {"field": "caller", "op": "eq", "value": "+86 138-0000-1234"},
            {"field": "order_no", "op": "in", "value": ["wo20261121-000001"]},
            {"field": "unit", "op": "under", "value": 3},
            {"field": "priority", "op": "between", "value": {"from": 1, "to": 2}}
        ]}}))
        .unwrap();
        let c = q.conditions();
        assert_eq!(c[0].value, Val::Texts(vec!["13800001234".into()]));
        assert_eq!(c[1].value, Val::Texts(vec!["WO20261121-000001".into()]));
        assert_eq!(c[2].value, Val::Ids(vec![3]));
        assert_eq!(c[3].value, Val::Ints(1, 2));
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            prop_oneof![
                Just("field".to_string()),
                Just("op".to_string()),
                Just("value".to_string()),
                Just("channel".to_string()),
                Just("registered_at".to_string()),
                Just("between".to_string()),
                Just("2026-01-01".to_string()),
                ".{0,12}".prop_map(|s| s)
            ]
            .prop_map(Value::from),
        ];
        leaf.prop_recursive(5, 64, 6, |inner| {
            let key = prop_oneof![
                Just("where".to_string()),
                Just("all".to_string()),
                Just("any".to_string()),
                Just("field".to_string()),
                Just("op".to_string()),
                Just("value".to_string()),
                Just("from".to_string()),
                Just("to".to_string()),
                Just("sort".to_string()),
                Just("dir".to_string()),
                Just("limit".to_string()),
                Just("after".to_string()),
            ];
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
                prop::collection::btree_map(key, inner, 0..5).prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        // Random documents never panic, and whatever passes obeys the limits.
        #[test]
        fn random_json_never_panics(doc in arb_json()) {
            if let Ok(q) = Query::parse(&doc, &tz()) {
                prop_assert!(q.conditions().len() <= MAX_CONDITIONS);
                prop_assert!((1..=MAX_LIMIT).contains(&q.limit));
                prop_assert!(q.sort.len() <= MAX_SORT);
            }
        }
    }
}
