//! Attachment bytes in S3-compatible object storage (MinIO, Ceph RGW, SeaweedFS, the
//! S3 gateways of the cloud providers): the scale-out [`BlobStore`], so that replicas
//! need no shared directory.
//!
//! It speaks the S3 REST protocol itself — `PUT`/`GET`/`HEAD` on path-style URLs
//! `{endpoint}/{bucket}/{key}`, signed with AWS Signature Version 4 ([`Signer`]) — rather
//! than through an SDK, whose TLS stack alone would add minutes to every build. Plain
//! HTTP only, like the billing adapter and the webhooks: an `https://` endpoint is a
//! configuration error (use the storage inside the LAN or a TLS-terminating proxy).

use std::io;
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::attachments::{BlobFuture, BlobStore};

/// Where the objects go, and the credentials to put them there.
#[derive(Clone, Default)]
pub struct S3Config {
    /// `http://HOST[:PORT][/PREFIX]` of the S3 API.
    pub endpoint: String,
    pub bucket: String,
    /// Signing region (`us-east-1` for most self-hosted servers).
    pub region: String,
    pub access_key: String,
    pub secret_key: String,
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("access_key", &self.access_key)
            .field("secret_key", &"***")
            .finish()
    }
}

impl S3Config {
    /// Checks the settings at start-up; the message names the `attachments.` key.
    pub fn validate(&self) -> Result<(), String> {
        let e = self.endpoint.trim();
        if e.starts_with("https://") {
            return Err("attachments.s3_endpoint: HTTPS is not supported yet; use http:// inside the LAN or a \
                 TLS-terminating proxy"
                .into());
        }
        if !e.starts_with("http://") {
            return Err(format!("attachments.s3_endpoint `{e}` must start with http://"));
        }
        let url = reqwest::Url::parse(e).map_err(|err| format!("attachments.s3_endpoint `{e}`: {err}"))?;
        if url.host_str().is_none_or(str::is_empty) {
            return Err(format!("attachments.s3_endpoint `{e}` has no host"));
        }
        if !url.username().is_empty() || url.password().is_some() || url.query().is_some() || url.fragment().is_some() {
            return Err("attachments.s3_endpoint: no credentials, query or fragment in the URL".into());
        }
        if encode_path(url.path()) != url.path() {
            return Err("attachments.s3_endpoint: the path may hold only letters, digits and `-_.~/`".into());
        }
        let b = &self.bucket;
        let bucket_ok = (3..=63).contains(&b.len())
            && b.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'.' || c == b'-')
            && b.starts_with(|c: char| c.is_ascii_alphanumeric())
            && b.ends_with(|c: char| c.is_ascii_alphanumeric());
        if !bucket_ok {
            return Err(format!(
                "attachments.s3_bucket `{b}`: 3–63 lower-case letters, digits, dots and hyphens, starting and \
                 ending with a letter or digit"
            ));
        }
        if self.region.is_empty() || !self.region.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-') {
            return Err(format!("attachments.s3_region `{}`: letters, digits and hyphens", self.region));
        }
        if self.access_key.is_empty() || self.secret_key.is_empty() {
            return Err("attachments.s3_access_key and attachments.s3_secret_key are required".into());
        }
        Ok(())
    }
}

/// AWS Signature Version 4 for one credential scope.
pub struct Signer<'a> {
    pub access_key: &'a str,
    pub secret_key: &'a str,
    pub region: &'a str,
    pub service: &'a str,
}

/// The headers a signed request carries besides its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// `x-amz-date`, `YYYYMMDD'T'HHMMSS'Z'`.
    pub amz_date: String,
    /// `Authorization`.
    pub authorization: String,
}

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut m = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    m.update(data.as_bytes());
    m.finalize().into_bytes().to_vec()
}

impl Signer<'_> {
    /// Signs a request without a query string. `path` is the URI path exactly as sent
    /// (already encoded, see [`encode_path`]); `headers` are the request's other signed
    /// headers (`host`, `x-amz-content-sha256` and `x-amz-date` are added here);
    /// `payload_hash` is the hex SHA-256 of the body, sent as `x-amz-content-sha256`.
    pub fn sign(
        &self,
        method: &str,
        host: &str,
        path: &str,
        headers: &[(&str, &str)],
        payload_hash: &str,
        time: jiff::Timestamp,
    ) -> Signed {
        let utc = time.to_zoned(jiff::tz::TimeZone::UTC);
        let amz_date = utc.strftime("%Y%m%dT%H%M%SZ").to_string();
        let day = &amz_date[..8];
        let mut all: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.split_whitespace().collect::<Vec<_>>().join(" ")))
            .collect();
        all.push(("host".into(), host.to_string()));
        all.push(("x-amz-content-sha256".into(), payload_hash.to_string()));
        all.push(("x-amz-date".into(), amz_date.clone()));
        all.sort();
        let canonical_headers: String = all.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
        let signed_headers = all.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>().join(";");
        let canonical_request = format!("{method}\n{path}\n\n{canonical_headers}\n{signed_headers}\n{payload_hash}");
        let scope = format!("{day}/{}/{}/aws4_request", self.region, self.service);
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
            hex::encode(Sha256::digest(canonical_request.as_bytes()))
        );
        let k_date = hmac(format!("AWS4{}", self.secret_key).as_bytes(), day);
        let k_region = hmac(&k_date, self.region);
        let k_service = hmac(&k_region, self.service);
        let k_signing = hmac(&k_service, "aws4_request");
        let signature = hex::encode(hmac(&k_signing, &string_to_sign));
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope},SignedHeaders={signed_headers},Signature={signature}",
            self.access_key
        );
        Signed { amz_date, authorization }
    }
}

/// URI-encodes a path the SigV4 way: unreserved characters (`A–Z a–z 0–9 - _ . ~`) and the
/// `/` between segments are kept, every other byte becomes `%XX` (upper-case hex).
pub fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Attachment bytes in a bucket of an S3-compatible server.
pub struct S3Store {
    client: reqwest::Client,
    /// `http://host[:port]`.
    origin: String,
    /// The `Host` header as the client sends it (port only when not 80).
    host: String,
    /// The endpoint's path prefix and the bucket, encoded: `/prefix/bucket`.
    bucket_path: String,
    bucket: String,
    region: String,
    access_key: String,
    secret_key: String,
}

impl std::fmt::Debug for S3Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Store").field("origin", &self.origin).field("bucket", &self.bucket).finish_non_exhaustive()
    }
}

/// Time allowed for a request before a stalled server is given up on.
const TIMEOUT: Duration = Duration::from_secs(30);

impl S3Store {
    /// A store for valid settings (see [`S3Config::validate`]).
    pub fn new(cfg: &S3Config) -> Result<S3Store, String> {
        cfg.validate()?;
        let url = reqwest::Url::parse(cfg.endpoint.trim()).map_err(|e| e.to_string())?;
        let host_name = url.host_str().unwrap_or_default();
        // What reqwest sends as `Host` (it is signed, so it must be the same).
        let host = match url.port() {
            Some(p) => format!("{host_name}:{p}"),
            None => host_name.to_string(),
        };
        let prefix = url.path().trim_end_matches('/');
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("S3 client: {e}"))?;
        Ok(S3Store {
            client,
            origin: format!("http://{host}"),
            host,
            bucket_path: format!("{}/{}", encode_path(prefix), encode_path(&cfg.bucket)),
            bucket: cfg.bucket.clone(),
            region: cfg.region.clone(),
            access_key: cfg.access_key.clone(),
            secret_key: cfg.secret_key.clone(),
        })
    }

    fn signer(&self) -> Signer<'_> {
        Signer { access_key: &self.access_key, secret_key: &self.secret_key, region: &self.region, service: "s3" }
    }

    /// One signed request on the bucket (`key` None) or an object; non-2xx become errors.
    async fn call(
        &self,
        method: reqwest::Method,
        key: Option<&str>,
        content_type: Option<&str>,
        body: &[u8],
    ) -> io::Result<reqwest::Response> {
        let path = match key {
            Some(k) => {
                if k.is_empty() || k.starts_with('/') {
                    return Err(io::Error::new(io::ErrorKind::InvalidInput, "bad blob key"));
                }
                format!("{}/{}", self.bucket_path, encode_path(k))
            }
            None => self.bucket_path.clone(),
        };
        let payload_hash = hex::encode(Sha256::digest(body));
        let headers: Vec<(&str, &str)> = content_type.map(|c| ("content-type", c)).into_iter().collect();
        let signed =
            self.signer().sign(method.as_str(), &self.host, &path, &headers, &payload_hash, jiff::Timestamp::now());
        // The whole request may take 30 s plus a second per MiB sent (a 50 MiB video on a slow link).
        let timeout = TIMEOUT + Duration::from_secs((body.len() / (1024 * 1024)) as u64);
        let mut req = self
            .client
            .request(method.clone(), format!("{}{path}", self.origin))
            .timeout(timeout)
            .header("x-amz-date", &signed.amz_date)
            .header("x-amz-content-sha256", &payload_hash)
            .header(reqwest::header::AUTHORIZATION, &signed.authorization);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        if !body.is_empty() || method == reqwest::Method::PUT {
            req = req.body(body.to_vec());
        }
        let what = format!("S3 {method} {}", key.map_or(self.bucket.clone(), |k| format!("{}/{k}", self.bucket)));
        let resp = req.send().await.map_err(|e| {
            let kind = if e.is_timeout() { io::ErrorKind::TimedOut } else { io::ErrorKind::Other };
            io::Error::new(kind, format!("{what}: {e}"))
        })?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let text = if method == reqwest::Method::HEAD { String::new() } else { resp.text().await.unwrap_or_default() };
        let kind = match status.as_u16() {
            404 => io::ErrorKind::NotFound,
            403 => io::ErrorKind::PermissionDenied,
            _ => io::ErrorKind::Other,
        };
        let detail = match (xml_element(&text, "Code"), xml_element(&text, "Message")) {
            (Some(c), Some(m)) => format!("{c}: {m}"),
            (Some(c), None) => c.to_string(),
            _ => status.canonical_reason().unwrap_or("error").to_string(),
        };
        Err(io::Error::new(kind, format!("{what}: HTTP {} {detail}", status.as_u16())))
    }

    /// Creates the bucket (first set-up and tests; most operators create it with their
    /// storage's own tools).
    pub async fn create_bucket(&self) -> io::Result<()> {
        self.call(reqwest::Method::PUT, None, None, b"").await.map(drop)
    }

    /// Checks that the bucket exists and the credentials are accepted (`HEAD` bucket).
    pub async fn probe(&self) -> io::Result<()> {
        self.call(reqwest::Method::HEAD, None, None, b"").await.map(drop)
    }
}

/// The text of the first `<name>…</name>` in an S3 error body.
fn xml_element<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let start = xml.find(&format!("<{name}>"))? + name.len() + 2;
    let end = xml[start..].find(&format!("</{name}>"))? + start;
    Some(xml[start..end].trim()).filter(|s| !s.is_empty())
}

/// The stored type of an object, from the key's extension (the attachment row keeps the
/// checked type; this is for whoever browses the bucket).
fn content_type(key: &str) -> &'static str {
    match key.rsplit('.').next().unwrap_or("") {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "webp" => "image/webp",
        "mp4" => "video/mp4",
        "mov" => "video/quicktime",
        "webm" => "video/webm",
        _ => "application/octet-stream",
    }
}

impl BlobStore for S3Store {
    fn put<'a>(&'a self, key: &'a str, bytes: &'a [u8]) -> BlobFuture<'a, ()> {
        Box::pin(
            async move { self.call(reqwest::Method::PUT, Some(key), Some(content_type(key)), bytes).await.map(drop) },
        )
    }

    fn get<'a>(&'a self, key: &'a str) -> BlobFuture<'a, Vec<u8>> {
        Box::pin(async move {
            let resp = self.call(reqwest::Method::GET, Some(key), None, b"").await?;
            let body = resp.bytes().await.map_err(|e| io::Error::other(format!("S3 GET {key}: {e}")))?;
            Ok(body.to_vec())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: Signer<'static> = Signer {
        access_key: "AKIAIOSFODNN7EXAMPLE",
        secret_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        region: "us-east-1",
        service: "s3",
    };

    fn may_24_2013() -> jiff::Timestamp {
        "2013-05-24T00:00:00Z".parse().unwrap()
    }

    /// AWS's "GET Object" example ("Authenticating Requests: Using the Authorization
    /// Header (AWS Signature Version 4)", S3 API reference).
    #[test]
    fn aws_get_object_example() {
        let empty = hex::encode(Sha256::digest(b""));
        assert_eq!(empty, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        let s = EXAMPLE.sign(
            "GET",
            "examplebucket.s3.amazonaws.com",
            &encode_path("/test.txt"),
            &[("Range", "bytes=0-9")],
            &empty,
            may_24_2013(),
        );
        assert_eq!(s.amz_date, "20130524T000000Z");
        assert_eq!(
            s.authorization,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,\
             SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,\
             Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
    }

    /// The same page's "PUT Object" example: a payload, a `$` in the key, more headers.
    #[test]
    fn aws_put_object_example() {
        let hash = hex::encode(Sha256::digest(b"Welcome to Amazon S3."));
        assert_eq!(hash, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
        let path = encode_path("/test$file.text");
        assert_eq!(path, "/test%24file.text");
        let s = EXAMPLE.sign(
            "PUT",
            "examplebucket.s3.amazonaws.com",
            &path,
            &[("Date", "Fri, 24 May 2013 00:00:00 GMT"), ("x-amz-storage-class", "REDUCED_REDUNDANCY")],
            &hash,
            may_24_2013(),
        );
        assert!(
            s.authorization.ends_with(
                "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,\
                 Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"
            ),
            "{}",
            s.authorization
        );
    }

    #[test]
    fn paths_are_encoded_per_segment() {
        assert_eq!(encode_path("/b/2026/11/30/0192ab.thumb.jpg"), "/b/2026/11/30/0192ab.thumb.jpg");
        assert_eq!(encode_path("/a b/c+d/~x_y-z"), "/a%20b/c%2Bd/~x_y-z");
        assert_eq!(encode_path("/水"), "/%E6%B0%B4");
    }

    fn cfg() -> S3Config {
        S3Config {
            endpoint: "http://minio.lan:9000".into(),
            bucket: "waterdesk-attachments".into(),
            region: "us-east-1".into(),
            access_key: "AK".into(),
            secret_key: "very-secret".into(),
        }
    }

    #[test]
    fn settings_are_checked() {
        assert!(cfg().validate().is_ok());
        let https = S3Config { endpoint: "https://s3.example.com".into(), ..cfg() };
        assert!(https.validate().unwrap_err().contains("HTTPS is not supported"));
        for (bad, field) in [
            (S3Config { endpoint: "minio:9000".into(), ..cfg() }, "s3_endpoint"),
            (S3Config { endpoint: "http://u:p@minio:9000".into(), ..cfg() }, "s3_endpoint"),
            (S3Config { bucket: "Photos".into(), ..cfg() }, "s3_bucket"),
            (S3Config { bucket: "ab".into(), ..cfg() }, "s3_bucket"),
            (S3Config { bucket: "a/b".into(), ..cfg() }, "s3_bucket"),
            (S3Config { region: "".into(), ..cfg() }, "s3_region"),
            (S3Config { secret_key: "".into(), ..cfg() }, "s3_secret_key"),
        ] {
            assert!(bad.validate().unwrap_err().contains(field), "{bad:?}");
        }
    }

    #[test]
    fn urls_and_host_follow_the_endpoint() {
        let s = S3Store::new(&cfg()).unwrap();
        assert_eq!(
            (s.origin.as_str(), s.host.as_str(), s.bucket_path.as_str()),
            ("http://minio.lan:9000", "minio.lan:9000", "/waterdesk-attachments")
        );
        let s = S3Store::new(&S3Config { endpoint: "http://gw.lan/s3/".into(), ..cfg() }).unwrap();
        assert_eq!((s.host.as_str(), s.bucket_path.as_str()), ("gw.lan", "/s3/waterdesk-attachments"));
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let c = cfg();
        assert!(!format!("{c:?}").contains("very-secret"));
        assert!(!format!("{:?}", S3Store::new(&c).unwrap()).contains("very-secret"));
    }

    #[test]
    fn error_codes_come_from_the_xml_body() {
        let body =
            "<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>The key does not exist.</Message></Error>";
        assert_eq!(xml_element(body, "Code"), Some("NoSuchKey"));
        assert_eq!(xml_element(body, "Message"), Some("The key does not exist."));
        assert_eq!(xml_element("Bad Gateway", "Code"), None);
        assert_eq!(content_type("2026/11/30/x.thumb.jpg"), "image/jpeg");
        assert_eq!(content_type("2026/11/30/x.mov"), "video/quicktime");
    }
}
