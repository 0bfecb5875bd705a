//! Managed code tables (数据字典, R-SYS-04, R-WO-13): channel, source, category, causes …

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::{StoreError, StoreResult, flag, t};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DictType {
    pub code: String,
    pub name: String,
    pub name_en: String,
    pub description: String,
    pub builtin: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DictItem {
    pub id: i64,
    pub dict_code: String,
    pub code: String,
    pub label_zh: String,
    pub label_en: String,
    pub parent_code: Option<String>,
    pub sort_order: i64,
    pub enabled: bool,
}

fn item_from_row(r: &AnyRow) -> StoreResult<DictItem> {
    Ok(DictItem {
        id: r.try_get("id")?,
        dict_code: r.try_get("dict_code")?,
        code: r.try_get("code")?,
        label_zh: r.try_get("label_zh")?,
        label_en: r.try_get("label_en")?,
        parent_code: r.try_get("parent_code")?,
        sort_order: r.try_get("sort_order")?,
        enabled: flag(r, "enabled")?,
    })
}

pub async fn insert_type(
    conn: &mut AnyConnection,
    code: &str,
    name: &str,
    name_en: &str,
    description: &str,
    builtin: bool,
    now: jiff::Timestamp,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO dict_types (code, name, name_en, description, builtin, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $6)",
    )
    .bind(code)
    .bind(name)
    .bind(name_en)
    .bind(description)
    .bind(i64::from(builtin))
    .bind(t(now))
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn list_types(conn: &mut AnyConnection) -> StoreResult<Vec<DictType>> {
    let rows = sqlx::query("SELECT code, name, name_en, description, builtin FROM dict_types ORDER BY code")
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(DictType {
                code: r.try_get("code")?,
                name: r.try_get("name")?,
                name_en: r.try_get("name_en")?,
                description: r.try_get("description")?,
                builtin: flag(r, "builtin")?,
            })
        })
        .collect()
}

pub async fn type_exists(conn: &mut AnyConnection, code: &str) -> StoreResult<bool> {
    Ok(sqlx::query("SELECT code FROM dict_types WHERE code = $1").bind(code).fetch_optional(conn).await?.is_some())
}

/// Fields of an item.
#[derive(Debug, Clone)]
pub struct ItemFields<'a> {
    pub code: &'a str,
    pub label_zh: &'a str,
    pub label_en: &'a str,
    pub parent_code: Option<&'a str>,
    pub sort_order: i64,
    pub enabled: bool,
}

pub async fn insert_item(
    conn: &mut AnyConnection,
    dict: &str,
    f: &ItemFields<'_>,
    now: jiff::Timestamp,
) -> StoreResult<i64> {
    let row = sqlx::query(
        "INSERT INTO dict_items (dict_code, code, label_zh, label_en, parent_code, sort_order, enabled, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id",
    )
    .bind(dict)
    .bind(f.code)
    .bind(f.label_zh)
    .bind(f.label_en)
    .bind(f.parent_code)
    .bind(f.sort_order)
    .bind(i64::from(f.enabled))
    .bind(t(now))
    .fetch_one(conn)
    .await?;
    Ok(row.try_get("id")?)
}

pub async fn update_item(
    conn: &mut AnyConnection,
    id: i64,
    f: &ItemFields<'_>,
    now: jiff::Timestamp,
) -> StoreResult<()> {
    let r = sqlx::query(
        "UPDATE dict_items SET label_zh = $1, label_en = $2, parent_code = $3, sort_order = $4, enabled = $5,
            updated_at = $6 WHERE id = $7",
    )
    .bind(f.label_zh)
    .bind(f.label_en)
    .bind(f.parent_code)
    .bind(f.sort_order)
    .bind(i64::from(f.enabled))
    .bind(t(now))
    .bind(id)
    .execute(conn)
    .await?;
    if r.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub async fn get_item(conn: &mut AnyConnection, id: i64) -> StoreResult<Option<DictItem>> {
    let row = sqlx::query(
        "SELECT id, dict_code, code, label_zh, label_en, parent_code, sort_order, enabled FROM dict_items WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(item_from_row).transpose()
}

/// Items of one dictionary in display order; disabled ones only when asked.
pub async fn items(conn: &mut AnyConnection, dict: &str, include_disabled: bool) -> StoreResult<Vec<DictItem>> {
    let rows = sqlx::query(
        "SELECT id, dict_code, code, label_zh, label_en, parent_code, sort_order, enabled FROM dict_items
         WHERE dict_code = $1 AND (enabled = 1 OR $2 = 1) ORDER BY sort_order, code",
    )
    .bind(dict)
    .bind(i64::from(include_disabled))
    .fetch_all(conn)
    .await?;
    rows.iter().map(item_from_row).collect()
}

/// Which of the `(dictionary, code)` pairs name an enabled item, in one query.
pub async fn enabled_pairs(conn: &mut AnyConnection, pairs: &[(&str, &str)]) -> StoreResult<Vec<bool>> {
    if pairs.is_empty() {
        return Ok(vec![]);
    }
    let mut sql = String::from("SELECT dict_code, code FROM dict_items WHERE enabled = 1 AND (");
    for i in 0..pairs.len() {
        if i > 0 {
            sql.push_str(" OR ");
        }
        sql.push_str(&format!("(dict_code = ${} AND code = ${})", 2 * i + 1, 2 * i + 2));
    }
    sql.push(')');
    // Only placeholders are spliced in: the values are bound.
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for (d, c) in pairs {
        q = q.bind(*d).bind(*c);
    }
    let found: Vec<(String, String)> = q
        .fetch_all(conn)
        .await?
        .iter()
        .map(|r| Ok((r.try_get("dict_code")?, r.try_get("code")?)))
        .collect::<StoreResult<_>>()?;
    Ok(pairs.iter().map(|(d, c)| found.iter().any(|(fd, fc)| fd == d && fc == c)).collect())
}
