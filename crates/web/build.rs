//! Copies the front-end files the binary embeds from `node_modules` (installed from the
//! committed package-lock.json) into OUT_DIR. If `node_modules` is missing, runs
//! `npm ci` once, so that `cargo run` alone builds a complete server.

use std::path::{Path, PathBuf};
use std::process::Command;

const FILES: &[(&str, &str)] = &[
    ("swagger-ui-dist/swagger-ui.css", "swagger-ui.css"),
    ("swagger-ui-dist/swagger-ui-bundle.js", "swagger-ui-bundle.js"),
    ("leaflet/dist/leaflet.js", "leaflet.js"),
    ("leaflet/dist/leaflet.css", "leaflet.css"),
    ("echarts/dist/echarts.min.js", "echarts.min.js"),
];

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let root = manifest.join("../..");
    let modules = root.join("node_modules");
    println!("cargo:rerun-if-changed=../../package-lock.json");
    println!("cargo:rerun-if-changed=build.rs");
    for (src, _) in FILES {
        println!("cargo:rerun-if-changed=../../node_modules/{src}");
    }
    if !FILES.iter().all(|(src, _)| modules.join(src).exists()) {
        install(&root);
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("vendor");
    std::fs::create_dir_all(&out).expect("create OUT_DIR/vendor");
    for (src, dst) in FILES {
        let from = modules.join(src);
        std::fs::copy(&from, out.join(dst)).unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
    }
}

fn install(root: &Path) {
    let npm = if cfg!(windows) { "npm.cmd" } else { "npm" };
    let status =
        Command::new(npm).args(["ci", "--ignore-scripts", "--no-audit", "--no-fund"]).current_dir(root).status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => panic!("`npm ci` failed ({s}); run it in {} and build again", root.display()),
        Err(e) => panic!("waterdesk needs Node.js/npm to install its front-end packages: {e}"),
    }
}
