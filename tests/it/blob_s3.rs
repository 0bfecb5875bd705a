//! The S3 blob store against a real S3-compatible server: moto with signature checking on
//! (tests/moto_s3.py), where botocore recomputes every request's signature and the body's
//! SHA-256 — a wrong secret is refused, so a broken signer fails these tests. Then a photo
//! uploaded through the API lands in the bucket, not in the data directory. Skipped,
//! visibly, without python3 and moto (`pip install 'moto[server]'`; CI installs it).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use waterdesk_services::attachments::BlobStore;
use waterdesk_services::audit::AuditCtx;
use waterdesk_services::blob_s3::{S3Config, S3Store};
use waterdesk_services::orders::OrderInput;

use crate::backend_test;
use crate::helpers::{TestApp, skip};
use crate::orders::as_user;

/// A moto server of this test; ended when dropped.
struct Moto {
    child: Child,
    endpoint: String,
    access_key: String,
    secret_key: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    /// Starts moto, or reports the test skipped when python3 or moto is missing.
    fn start(test: &str) -> Option<Moto> {
        let present = Command::new("python3")
            .args(["-c", "import moto.moto_server.werkzeug_app, boto3, werkzeug"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !present {
            skip(&format!("{test}: python3 with moto is not installed (pip install 'moto[server]')"));
            return None;
        }
        let log = std::env::temp_dir().join(format!("waterdesk-moto-{}.log", uuid::Uuid::new_v4().simple()));
        let mut child = Command::new("python3")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/moto_s3.py"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("moto log"))
            .spawn()
            .expect("start moto");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(60)).unwrap_or_default();
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
            let _ = child.kill();
            panic!("moto did not start: {}", std::fs::read_to_string(&log).unwrap_or_default());
        };
        let _ = std::fs::remove_file(&log);
        let s = |k: &str| v[k].as_str().expect(k).to_string();
        Some(Moto { endpoint: s("endpoint"), access_key: s("access_key"), secret_key: s("secret_key"), child })
    }

    fn config(&self, bucket: &str) -> S3Config {
        S3Config {
            endpoint: self.endpoint.clone(),
            bucket: bucket.into(),
            region: "us-east-1".into(),
            access_key: self.access_key.clone(),
            secret_key: self.secret_key.clone(),
        }
    }
}

/// Bytes that start like a JPEG and are not UTF-8.
fn jpeg_like() -> Vec<u8> {
    let mut b = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00, 0xC3, 0x28, 0xFE];
    b.extend((0..300_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    b.extend([0xFF, 0xD9]);
    b
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_store_round_trips_with_checked_signatures() {
    let Some(moto) = Moto::start("blob_s3::s3_store_round_trips_with_checked_signatures") else { return };
    let store = S3Store::new(&moto.config("wd-photos")).unwrap();

    // No bucket yet; then created by a signed PUT /wd-photos.
    let e = store.probe().await.unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::NotFound, "{e}");
    store.create_bucket().await.unwrap();
    store.probe().await.unwrap();

    let photo = jpeg_like();
    assert!(std::str::from_utf8(&photo).is_err());
    let key = format!("2026/11/30/{}.jpg", uuid::Uuid::now_v7().simple());
    store.put(&key, &photo).await.unwrap();
    assert_eq!(store.get(&key).await.unwrap(), photo);
    // Another key of the same day, a thumbnail's; an empty object; an overwrite.
    let thumb = format!("2026/11/30/{}.thumb.jpg", uuid::Uuid::now_v7().simple());
    store.put(&thumb, b"\xFF\xD8\xFFthumb").await.unwrap();
    assert_eq!(store.get(&thumb).await.unwrap(), b"\xFF\xD8\xFFthumb");
    assert_eq!(store.get(&key).await.unwrap().len(), photo.len());
    store.put("2026/12/01/empty.webm", b"").await.unwrap();
    assert_eq!(store.get("2026/12/01/empty.webm").await.unwrap(), b"");
    store.put(&thumb, b"second").await.unwrap();
    // (Keys with characters that need percent-encoding are covered by AWS's PUT example in
    // the unit tests: moto checks signatures against the decoded path and refuses even
    // boto3's own requests for such keys. waterdesk's keys never have them.)
    assert_eq!(store.get(&thumb).await.unwrap(), b"second");

    // Missing objects are NotFound, as LocalStore's missing files are.
    let e = store.get("2026/11/30/missing.jpg").await.unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::NotFound, "{e}");
    assert!(e.to_string().contains("NoSuchKey"), "{e}");

    // The server checks the signature: a wrong secret is refused, for writes and reads.
    let forged =
        S3Store::new(&S3Config { secret_key: format!("{}x", moto.secret_key), ..moto.config("wd-photos") }).unwrap();
    let e = forged.put("2026/11/30/forged.jpg", &photo).await.unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::PermissionDenied, "{e}");
    assert!(e.to_string().contains("SignatureDoesNotMatch"), "{e}");
    assert!(!e.to_string().contains(&moto.secret_key), "no secret in errors: {e}");
    let e = forged.get(&key).await.unwrap_err();
    assert!(e.to_string().contains("SignatureDoesNotMatch"), "{e}");
    assert_eq!(store.get("2026/11/30/forged.jpg").await.unwrap_err().kind(), std::io::ErrorKind::NotFound);

    // A server that is not there is an error, not a hang.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let gone =
        S3Store::new(&S3Config { endpoint: format!("http://127.0.0.1:{port}"), ..moto.config("wd-photos") }).unwrap();
    assert!(gone.get(&key).await.is_err());
}

/// A real JPEG.
fn photo_bytes() -> Vec<u8> {
    let img = image::RgbImage::from_fn(1280, 960, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 90]));
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img).write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

backend_test!(photos_go_to_the_bucket, |backend| async move {
    let Some(moto) = Moto::start(&format!("blob_s3::photos_go_to_the_bucket::{backend:?}")) else { return };
    let store = S3Store::new(&moto.config("wd-attachments")).unwrap();
    store.create_bucket().await.unwrap();
    let (endpoint, access_key, secret_key) = (moto.endpoint.clone(), moto.access_key.clone(), moto.secret_key.clone());
    let app = TestApp::spawn_with(backend, |s| {
        s.attachments.store = "s3".into();
        s.attachments.s3_endpoint = endpoint;
        s.attachments.s3_bucket = "wd-attachments".into();
        s.attachments.s3_access_key = access_key;
        s.attachments.s3_secret_key = secret_key;
    })
    .await;
    let dispatcher = as_user(&app, "dispatcher").await;
    let input = OrderInput {
        type_code: "repair".into(),
        impact: "medium".into(),
        urgency: "medium".into(),
        title: "文一路水表井漏水".into(),
        address: "西湖区文一路200号".into(),
        ..Default::default()
    };
    let o = app.services().order_create(&dispatcher, &input, &AuditCtx::cli("test")).await.unwrap();

    let api = app.api("dispatcher").await;
    let jpeg = photo_bytes();
    let r = api
        .upload(&format!("/api/v1/orders/{}/attachments?stage=before&name=IMG_1.jpg", o.id), "image/jpeg", jpeg.clone())
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let id = r.body["id"].as_i64().unwrap();
    let (st, ct, body) = api.bytes(&format!("/api/v1/attachments/{id}")).await;
    assert_eq!((st, ct.as_str()), (StatusCode::OK, "image/jpeg"));
    assert_eq!(body, jpeg);
    let (st, _, thumb) = api.bytes(&format!("/api/v1/attachments/{id}?thumb=true")).await;
    assert_eq!(st, StatusCode::OK);
    let t = image::load_from_memory(&thumb).unwrap();
    assert_eq!((t.width(), t.height()), (320, 240));

    // The bytes are objects in the bucket; the data directory holds no attachments.
    let row = {
        let mut c = app.services().db.read().await.unwrap();
        waterdesk_store::attachments::get(&mut c, id).await.unwrap().unwrap()
    };
    assert_eq!(store.get(&row.storage_key).await.unwrap(), jpeg);
    assert_eq!(store.get(row.thumb_key.as_deref().unwrap()).await.unwrap(), thumb);
    assert!(!app._data_dir.path().join("attachments").exists());

    // With the storage gone, a download fails cleanly (and an upload stores no row).
    drop(moto);
    let (st, _, _) = api.bytes(&format!("/api/v1/attachments/{id}")).await;
    assert_eq!(st, StatusCode::INTERNAL_SERVER_ERROR);
    let png = {
        let mut out = std::io::Cursor::new(Vec::new());
        image::DynamicImage::ImageRgb8(image::RgbImage::new(40, 40))
            .write_to(&mut out, image::ImageFormat::Png)
            .unwrap();
        out.into_inner()
    };
    let r = api.upload(&format!("/api/v1/orders/{}/attachments", o.id), "image/png", png).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR, "{:?}", r.body);
    let list = api.get(&format!("/api/v1/orders/{}/attachments", o.id)).await;
    assert_eq!(list.body.as_array().map(Vec::len), Some(1));
    app.stop().await;
});

fn waterdesk(data_dir: &std::path::Path, env: &[(&str, &str)]) -> (bool, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_waterdesk"));
    cmd.arg("--data-dir").arg(data_dir).args(["config", "check"]).env_remove("WATERDESK_DATABASE_URL");
    cmd.env("RUST_LOG", "error");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let o = cmd.output().expect("run waterdesk");
    (o.status.success(), format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)))
}

/// `[attachments]` from the file and from `WATERDESK_ATTACHMENTS__…`, checked at start.
#[test]
fn attachment_settings_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = [
        ("WATERDESK_ATTACHMENTS__STORE", "s3"),
        ("WATERDESK_ATTACHMENTS__S3_ENDPOINT", "http://127.0.0.1:9000"),
        ("WATERDESK_ATTACHMENTS__S3_BUCKET", "waterdesk"),
        ("WATERDESK_ATTACHMENTS__S3_ACCESS_KEY", "AKIDEXAMPLE"),
        ("WATERDESK_ATTACHMENTS__S3_SECRET_KEY", "topsecret-s3-key"),
    ];
    let (ok, out) = waterdesk(dir.path(), &s3);
    assert!(ok, "{out}");
    assert!(!out.contains("topsecret"), "{out}");

    let mut bad = s3.to_vec();
    bad[2] = ("WATERDESK_ATTACHMENTS__S3_BUCKET", "Not_A_Bucket");
    let (ok, out) = waterdesk(dir.path(), &bad);
    assert!(!ok && out.contains("attachments.s3_bucket") && !out.contains("topsecret"), "{out}");

    std::fs::write(
        dir.path().join("waterdesk.toml"),
        "[attachments]\nstore = \"s3\"\ns3_endpoint = \"https://oss.example.com\"\ns3_bucket = \"wd\"\n",
    )
    .unwrap();
    let (ok, out) = waterdesk(dir.path(), &[]);
    assert!(!ok && out.contains("HTTPS is not supported"), "{out}");

    std::fs::write(dir.path().join("waterdesk.toml"), "[attachments]\nstore = \"ftp\"\n").unwrap();
    let (ok, out) = waterdesk(dir.path(), &[]);
    assert!(!ok && out.contains("attachments.store"), "{out}");

    std::fs::write(dir.path().join("waterdesk.toml"), "[attachments]\ns3_bukket = \"wd\"\n").unwrap();
    let (ok, out) = waterdesk(dir.path(), &[]);
    assert!(!ok && out.contains("s3_bukket"), "unknown keys are named: {out}");

    std::fs::write(dir.path().join("waterdesk.toml"), "[attachments]\nstore = \"local\"\n").unwrap();
    let (ok, out) = waterdesk(dir.path(), &[]);
    assert!(ok, "{out}");
}
