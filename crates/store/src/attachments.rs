//! Attachment rows (the bytes are in the blob store, see `services::attachments`).

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::{StoreResult, t, ts};

/// An attachment as stored.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Attachment {
    pub id: i64,
    pub order_id: Option<i64>,
    pub contact_id: Option<i64>,
    /// `before`, `during`, `after`, `signature` or `other`.
    pub stage: String,
    /// `image` or `video`.
    pub kind: String,
    pub content_type: String,
    pub file_name: String,
    pub size: i64,
    pub sha256: String,
    #[serde(skip)]
    pub storage_key: String,
    #[serde(skip)]
    pub thumb_key: Option<String>,
    /// Whether a thumbnail exists (images).
    pub has_thumb: bool,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub uploaded_by: Option<i64>,
    pub lat_e6: Option<i64>,
    pub lng_e6: Option<i64>,
    pub created_at: jiff::Timestamp,
}

const COLS: &str = "id, order_id, contact_id, stage, kind, content_type, file_name, size, sha256, storage_key, \
    thumb_key, width, height, uploaded_by, lat_e6, lng_e6, created_at";

fn row(r: &AnyRow) -> StoreResult<Attachment> {
    let thumb_key: Option<String> = r.try_get("thumb_key")?;
    Ok(Attachment {
        id: r.try_get("id")?,
        order_id: r.try_get("order_id")?,
        contact_id: r.try_get("contact_id")?,
        stage: r.try_get("stage")?,
        kind: r.try_get("kind")?,
        content_type: r.try_get("content_type")?,
        file_name: r.try_get("file_name")?,
        size: r.try_get("size")?,
        sha256: r.try_get("sha256")?,
        storage_key: r.try_get("storage_key")?,
        has_thumb: thumb_key.is_some(),
        thumb_key,
        width: r.try_get("width")?,
        height: r.try_get("height")?,
        uploaded_by: r.try_get("uploaded_by")?,
        lat_e6: r.try_get("lat_e6")?,
        lng_e6: r.try_get("lng_e6")?,
        created_at: ts(r, "created_at")?,
    })
}

/// What an attachment is attached to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    Order(i64),
    Contact(i64),
}

impl Owner {
    fn ids(self) -> (Option<i64>, Option<i64>) {
        match self {
            Owner::Order(id) => (Some(id), None),
            Owner::Contact(id) => (None, Some(id)),
        }
    }
}

/// A new attachment row.
#[derive(Debug, Clone)]
pub struct NewAttachment<'a> {
    pub owner: Owner,
    pub stage: &'a str,
    pub kind: &'a str,
    pub content_type: &'a str,
    pub file_name: &'a str,
    pub size: i64,
    pub sha256: &'a str,
    pub storage_key: &'a str,
    pub thumb_key: Option<&'a str>,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub uploaded_by: Option<i64>,
    pub lat_e6: Option<i64>,
    pub lng_e6: Option<i64>,
}

pub async fn insert(conn: &mut AnyConnection, a: &NewAttachment<'_>, now: jiff::Timestamp) -> StoreResult<Attachment> {
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "INSERT INTO attachments (order_id, contact_id, stage, kind, content_type, file_name, size, sha256,
                storage_key, thumb_key, width, height, uploaded_by, lat_e6, lng_e6, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) RETURNING {COLS}"
        )
    });
    let (order_id, contact_id) = a.owner.ids();
    let r = sqlx::query(SQL.as_str())
        .bind(order_id)
        .bind(contact_id)
        .bind(a.stage)
        .bind(a.kind)
        .bind(a.content_type)
        .bind(a.file_name)
        .bind(a.size)
        .bind(a.sha256)
        .bind(a.storage_key)
        .bind(a.thumb_key)
        .bind(a.width)
        .bind(a.height)
        .bind(a.uploaded_by)
        .bind(a.lat_e6)
        .bind(a.lng_e6)
        .bind(t(now))
        .fetch_one(conn)
        .await?;
    row(&r)
}

/// The attachments of an order or a contact, oldest first.
pub async fn list(conn: &mut AnyConnection, owner: Owner) -> StoreResult<Vec<Attachment>> {
    static BY_ORDER: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| format!("SELECT {COLS} FROM attachments WHERE order_id = $1 ORDER BY id"));
    static BY_CONTACT: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| format!("SELECT {COLS} FROM attachments WHERE contact_id = $1 ORDER BY id"));
    let (sql, id) = match owner {
        Owner::Order(id) => (BY_ORDER.as_str(), id),
        Owner::Contact(id) => (BY_CONTACT.as_str(), id),
    };
    let rows = sqlx::query(sql).bind(id).fetch_all(conn).await?;
    rows.iter().map(row).collect()
}

pub async fn get(conn: &mut AnyConnection, id: i64) -> StoreResult<Option<Attachment>> {
    static SQL: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| format!("SELECT {COLS} FROM attachments WHERE id = $1"));
    let r = sqlx::query(SQL.as_str()).bind(id).fetch_optional(conn).await?;
    r.as_ref().map(row).transpose()
}
