//! Attachments (R-WO-07, R-CALL-01): photos, short videos and signatures of work orders,
//! files of contacts.
//!
//! The bytes go to a [`BlobStore`] — a local directory by default ([`LocalStore`]);
//! S3-compatible object storage ([`crate::blob_s3::S3Store`]) for several replicas. An
//! upload is checked before anything is stored: the declared type must match what the
//! bytes are (magic numbers: JPEG, PNG, WebP; MP4/MOV, WebM), images at most 10 MiB and
//! 12,000 px a side, videos at most the configured attachment limit; an image must decode,
//! and gets a 320 px JPEG thumbnail. The same file uploaded again for the same order or
//! contact (a phone retrying on a bad network) returns the stored one. The blob is written
//! before the row; if the row's transaction fails, the blob is an orphan, never a row
//! without its file.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use waterdesk_domain::permissions::perm;
use waterdesk_store::attachments::{self as repo, Attachment, NewAttachment, Owner};

use crate::audit::{AuditCtx, security_in};
use crate::input::commit;
use crate::{Principal, ServiceError, ServiceResult, Services};

/// A boxed future of the blob store.
pub type BlobFuture<'a, T> = Pin<Box<dyn Future<Output = std::io::Result<T>> + Send + 'a>>;

/// Where attachment bytes live.
pub trait BlobStore: Send + Sync + std::fmt::Debug {
    fn put<'a>(&'a self, key: &'a str, bytes: &'a [u8]) -> BlobFuture<'a, ()>;
    fn get<'a>(&'a self, key: &'a str) -> BlobFuture<'a, Vec<u8>>;
}

/// Blobs as files under a directory; keys are relative paths (`2026/11/30/<uuid>.jpg`).
#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        LocalStore { root: root.into() }
    }

    fn path(&self, key: &str) -> std::io::Result<PathBuf> {
        // Keys are made here, but a key read back from the database is checked anyway.
        let ok = !key.is_empty() && key.split('/').all(|p| !p.is_empty() && p != "." && p != ".." && !p.contains('\\'));
        if !ok {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "bad blob key"));
        }
        Ok(self.root.join(key))
    }
}

impl BlobStore for LocalStore {
    fn put<'a>(&'a self, key: &'a str, bytes: &'a [u8]) -> BlobFuture<'a, ()> {
        Box::pin(async move {
            let path = self.path(key)?;
            if let Some(dir) = path.parent() {
                tokio::fs::create_dir_all(dir).await?;
            }
            // Written aside, flushed to disk, then renamed: a crash never leaves half a file.
            let tmp = path.with_extension("part");
            let mut f = tokio::fs::File::create(&tmp).await?;
            tokio::io::AsyncWriteExt::write_all(&mut f, bytes).await?;
            f.sync_all().await?;
            drop(f);
            tokio::fs::rename(&tmp, &path).await
        })
    }

    fn get<'a>(&'a self, key: &'a str) -> BlobFuture<'a, Vec<u8>> {
        Box::pin(async move { tokio::fs::read(self.path(key)?).await })
    }
}

/// Largest image accepted.
pub const MAX_IMAGE_BYTES: usize = 10 * 1024 * 1024;
/// Largest side of an image, pixels (decompression bombs are refused before decoding).
const MAX_SIDE: u32 = 12_000;
/// Thumbnail box, pixels.
const THUMB: u32 = 320;

/// Stages of an order attachment.
pub const STAGES: &[&str] = &["before", "during", "after", "signature", "other"];

/// What the bytes are: (content type, kind, file extension).
pub fn sniff(b: &[u8]) -> Option<(&'static str, &'static str, &'static str)> {
    if b.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(("image/jpeg", "image", "jpg"))
    } else if b.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        Some(("image/png", "image", "png"))
    } else if b.len() >= 12 && &b[..4] == b"RIFF" && &b[8..12] == b"WEBP" {
        Some(("image/webp", "image", "webp"))
    } else if b.len() >= 12 && &b[4..8] == b"ftyp" {
        if &b[8..10] == b"qt" { Some(("video/quicktime", "video", "mov")) } else { Some(("video/mp4", "video", "mp4")) }
    } else if b.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]) {
        Some(("video/webm", "video", "webm"))
    } else {
        None
    }
}

/// An upload as the handler received it.
#[derive(Debug, Clone, Default)]
pub struct Upload {
    /// The declared `Content-Type`.
    pub content_type: String,
    pub file_name: String,
    pub stage: String,
    pub lat: Option<f64>,
    pub lng: Option<f64>,
}

fn v(field: &str, code: &'static str, detail: impl Into<String>) -> ServiceError {
    ServiceError::validation(field, code, detail)
}

/// Checks an image and makes its thumbnail: (width, height, thumbnail JPEG).
fn thumbnail(bytes: &[u8]) -> ServiceResult<(u32, u32, Vec<u8>)> {
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| v("file", "invalid_image", e.to_string()))?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(512 * 1024 * 1024);
    reader.limits(limits);
    let img = reader.decode().map_err(|e| v("file", "invalid_image", format!("the image cannot be read: {e}")))?;
    let (w, h) = (img.width(), img.height());
    // Transparent pixels (a signature drawn on a clear canvas) go white, not black.
    let small = img.thumbnail(THUMB, THUMB).to_rgba8();
    let thumb = image::RgbImage::from_fn(small.width(), small.height(), |x, y| {
        let [r, g, b, a] = small.get_pixel(x, y).0;
        let over = |c: u8| ((u16::from(c) * u16::from(a) + 255 * (255 - u16::from(a))) / 255) as u8;
        image::Rgb([over(r), over(g), over(b)])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80)
        .encode_image(&thumb)
        .map_err(|e| ServiceError::Internal(format!("thumbnail: {e}")))?;
    Ok((w, h, out.into_inner()))
}

impl Services {
    /// Stores an attachment of an order (crew member of the order, dispatchers, agents) or
    /// of a contact (who may write contacts). Returns it and whether it was new.
    pub async fn attachment_add(
        &self,
        p: &Principal,
        owner: Owner,
        up: &Upload,
        bytes: &[u8],
        ctx: &AuditCtx,
    ) -> ServiceResult<(Attachment, bool)> {
        match owner {
            Owner::Order(id) => {
                let staff = p.has(perm::ORDER_DISPATCH) || p.has(perm::ORDER_CREATE);
                if !staff && !p.has(perm::ORDER_HANDLE) {
                    return Err(ServiceError::Forbidden { permission: perm::ORDER_HANDLE.into() });
                }
                let o = self.order_get(p, id).await?.order;
                if !staff && o.assignee_id != Some(p.user_id) {
                    return Err(v("order", "not_assignee", "only the crew member the order is assigned to"));
                }
                if matches!(o.state.as_str(), "concluded" | "cancelled" | "rejected") {
                    return Err(v("order", "order_closed", "the order is closed"));
                }
            }
            Owner::Contact(id) => {
                p.require(perm::CONTACT_WRITE)?;
                self.contact_get(p, id).await?;
            }
        }
        let stage = if up.stage.trim().is_empty() { "other" } else { up.stage.trim() };
        if !STAGES.contains(&stage) {
            return Err(v("stage", "unknown_stage", STAGES.join(", ")));
        }
        let file_name: String = up.file_name.trim().chars().filter(|c| !c.is_control()).take(200).collect();
        if bytes.is_empty() {
            return Err(v("file", "empty_file", "the file is empty"));
        }
        let (content_type, kind, ext) =
            sniff(bytes).ok_or_else(|| v("file", "unsupported_type", "JPEG, PNG, WebP, MP4, MOV or WebM"))?;
        let declared = up.content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        let declared = if declared == "image/jpg" { "image/jpeg".to_string() } else { declared };
        if declared != content_type {
            return Err(v("file", "type_mismatch", format!("declared {declared}, but the file is {content_type}")));
        }
        let limit = if kind == "image" { MAX_IMAGE_BYTES } else { self.limits.max_attachment_bytes };
        if bytes.len() > limit {
            return Err(v("file", "too_large", format!("at most {} MiB for this kind of file", limit / (1024 * 1024))));
        }
        let (lat, lng) = crate::input::position(up.lat, up.lng)?;
        let sha = hex::encode(Sha256::digest(bytes));
        {
            let mut c = self.db.read().await?;
            if let Some(same) = repo::list(&mut c, owner).await?.into_iter().find(|a| a.sha256 == sha) {
                return Ok((same, false));
            }
        }
        let (size, dims) = if kind == "image" {
            let data = bytes.to_vec();
            let (w, h, thumb) = tokio::task::spawn_blocking(move || thumbnail(&data))
                .await
                .map_err(|e| ServiceError::Internal(e.to_string()))??;
            (bytes.len(), Some((w, h, thumb)))
        } else {
            (bytes.len(), None)
        };
        let now = self.now();
        let day = now.to_zoned(self.tz.clone()).strftime("%Y/%m/%d").to_string();
        let name = uuid::Uuid::now_v7().simple().to_string();
        let key = format!("{day}/{name}.{ext}");
        self.blobs.put(&key, bytes).await.map_err(|e| ServiceError::Internal(format!("blob store: {e}")))?;
        let thumb_key = match &dims {
            Some((_, _, thumb)) => {
                let k = format!("{day}/{name}.thumb.jpg");
                self.blobs.put(&k, thumb).await.map_err(|e| ServiceError::Internal(format!("blob store: {e}")))?;
                Some(k)
            }
            None => None,
        };
        let mut tx = self.db.begin().await?;
        let a = repo::insert(
            &mut tx,
            &NewAttachment {
                owner,
                stage,
                kind,
                content_type,
                file_name: &file_name,
                size: size as i64,
                sha256: &sha,
                storage_key: &key,
                thumb_key: thumb_key.as_deref(),
                width: dims.as_ref().map(|d| i64::from(d.0)),
                height: dims.as_ref().map(|d| i64::from(d.1)),
                uploaded_by: p.actor(),
                lat_e6: lat,
                lng_e6: lng,
            },
            now,
        )
        .await?;
        let (owner_kind, owner_id) = match owner {
            Owner::Order(id) => ("order", id),
            Owner::Contact(id) => ("contact", id),
        };
        let params = serde_json::json!({
            "id": a.id, owner_kind: owner_id, "stage": stage, "type": content_type, "size": size, "sha256": sha,
        });
        security_in(&mut tx, self, &ctx.clone().for_principal(p), "attachment.add", "ok", params).await?;
        commit(tx).await?;
        Ok((a, true))
    }

    /// The attachments of an order or a contact the caller may see.
    pub async fn attachments(&self, p: &Principal, owner: Owner) -> ServiceResult<Vec<Attachment>> {
        self.check_owner(p, owner).await?;
        let mut c = self.db.read().await?;
        Ok(repo::list(&mut c, owner).await?)
    }

    async fn check_owner(&self, p: &Principal, owner: Owner) -> ServiceResult<()> {
        match owner {
            Owner::Order(id) => self.order_get(p, id).await.map(|_| ()),
            Owner::Contact(id) => self.contact_get(p, id).await.map(|_| ()),
        }
    }

    /// An attachment's bytes (or its thumbnail) for a caller who may see its owner.
    pub async fn attachment_bytes(&self, p: &Principal, id: i64, thumb: bool) -> ServiceResult<(Attachment, Vec<u8>)> {
        if !p.has(perm::ORDER_READ) && !p.has(perm::CONTACT_READ) {
            return Err(ServiceError::Forbidden { permission: perm::ORDER_READ.into() });
        }
        let a = {
            let mut c = self.db.read().await?;
            repo::get(&mut c, id).await?.ok_or(ServiceError::NotFound { entity: "attachment" })?
        };
        let owner = match (a.order_id, a.contact_id) {
            (Some(o), _) => Owner::Order(o),
            (None, Some(c)) => Owner::Contact(c),
            _ => return Err(ServiceError::NotFound { entity: "attachment" }),
        };
        // Not visible and not there look the same.
        self.check_owner(p, owner).await.map_err(|e| match e {
            ServiceError::Forbidden { .. } => ServiceError::NotFound { entity: "attachment" },
            e => e,
        })?;
        let key = if thumb {
            a.thumb_key.clone().ok_or(ServiceError::NotFound { entity: "thumbnail" })?
        } else {
            a.storage_key.clone()
        };
        let bytes = self.blobs.get(&key).await.map_err(|e| ServiceError::Internal(format!("blob store: {e}")))?;
        Ok((a, bytes))
    }
}

/// Limits of the attachment services.
#[derive(Debug, Clone)]
pub struct AttachmentLimits {
    /// Largest video (and any non-image) accepted, bytes.
    pub max_attachment_bytes: usize,
}

impl Default for AttachmentLimits {
    fn default() -> Self {
        AttachmentLimits { max_attachment_bytes: 50 * 1024 * 1024 }
    }
}

/// The default blob store of a data directory.
pub fn local_store(data_dir: &std::path::Path) -> Arc<dyn BlobStore> {
    Arc::new(LocalStore::new(data_dir.join("attachments")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffing() {
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0]).map(|s| s.0), Some("image/jpeg"));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\nrest").map(|s| s.0), Some("image/png"));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 ").map(|s| s.0), Some("image/webp"));
        assert_eq!(sniff(b"\0\0\0\x18ftypmp42").map(|s| s.0), Some("video/mp4"));
        assert_eq!(sniff(b"\0\0\0\x14ftypqt  ").map(|s| s.0), Some("video/quicktime"));
        assert_eq!(sniff(&[0x1A, 0x45, 0xDF, 0xA3, 1]).map(|s| s.1), Some("video"));
        assert_eq!(sniff(b"MZ\x90\0 not an image"), None);
        assert_eq!(sniff(b"<svg xmlns=..."), None);
        assert_eq!(sniff(b""), None);
    }

    #[test]
    fn thumbnails_are_small_and_transparency_goes_white() {
        let img = image::RgbaImage::from_pixel(1000, 400, image::Rgba([0, 0, 0, 0]));
        let mut png = std::io::Cursor::new(Vec::new());
        image::DynamicImage::ImageRgba8(img).write_to(&mut png, image::ImageFormat::Png).unwrap();
        let (w, h, thumb) = thumbnail(png.get_ref()).unwrap();
        assert_eq!((w, h), (1000, 400));
        let t = image::load_from_memory(&thumb).unwrap().to_rgb8();
        assert_eq!((t.width(), t.height()), (320, 128));
        assert!(t.get_pixel(10, 10).0.iter().all(|c| *c > 245), "{:?}", t.get_pixel(10, 10));
        // Not an image after all.
        assert!(thumbnail(b"\x89PNG\r\n\x1a\n broken").is_err());
    }

    #[test]
    fn keys_cannot_escape_the_root() {
        let s = LocalStore::new("/tmp/x");
        assert!(s.path("2026/11/30/a.jpg").is_ok());
        for bad in ["", "../etc/passwd", "a//b", "a/./b", "/abs", "a\\b"] {
            assert!(s.path(bad).is_err(), "{bad}");
        }
    }
}
