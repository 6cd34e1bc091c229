//! Builds the pages into the crate: every file a page needs is read here, given
//! a strong ETag (a digest of its bytes) and a gzipped twin, and written to
//! `OUT_DIR`, with a table the crate includes. Swagger UI comes from the npm
//! registry (`web/package.json`, pinned by its lock file): when
//! `web/node_modules` lacks it, this runs `npm ci` there. Nothing is fetched
//! at run time.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::{env, fs};

use flate2::Compression;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

/// One file served at one path.
struct Page {
    path: &'static str,
    content_type: &'static str,
    bytes: Vec<u8>,
}

fn read(file: &Path) -> Vec<u8> {
    fs::read(file).unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()))
}

/// The version of swagger-ui-dist that `file` (a package.json, or the lock
/// file's entry for it) names.
fn version_in(file: &Path, entry: &[&str]) -> Option<String> {
    let text = fs::read_to_string(file).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    let found = entry.iter().fold(&json, |at, key| &at[*key]);
    found["version"].as_str().map(str::to_owned)
}

/// Swagger UI's files, installed from the npm registry when they are missing
/// or are not the version the lock file pins.
fn swagger_ui(web: &Path) -> PathBuf {
    let dist = web.join("node_modules").join("swagger-ui-dist");
    let installed = version_in(&dist.join("package.json"), &[]);
    let pinned = version_in(
        &web.join("package-lock.json"),
        &["packages", "node_modules/swagger-ui-dist"],
    );
    assert!(
        pinned.is_some(),
        "web/package-lock.json pins no swagger-ui-dist"
    );
    if installed != pinned || !dist.join("swagger-ui-bundle.js").exists() {
        let status = Command::new("npm")
            // No install scripts: swagger-ui-dist's analytics dependency
            // (@scarf/scarf) would report the install otherwise.
            .args(["ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(web)
            .status()
            .unwrap_or_else(|e| {
                panic!("the API reference needs Swagger UI from npm, and npm could not run ({e}): install Node.js and npm, or run `npm ci --ignore-scripts` in web/")
            });
        assert!(status.success(), "`npm ci` in web/ failed ({status})");
    }
    dist
}

fn pages(root: &Path) -> (Vec<Page>, Vec<Page>) {
    let web = root.join("web");
    let dist = swagger_ui(&web);
    let spec_yaml = read(&root.join("openapi.yaml"));
    let spec: serde_json::Value =
        serde_yaml_ng::from_slice(&spec_yaml).expect("openapi.yaml is valid YAML");
    let spec_json = serde_json::to_vec(&spec).expect("the spec as JSON");
    let page = |path, content_type, bytes| Page {
        path,
        content_type,
        bytes,
    };
    let html = "text/html; charset=utf-8";
    let js = "text/javascript; charset=utf-8";
    let css = "text/css; charset=utf-8";
    let docs = vec![
        page("/docs", html, read(&web.join("docs/index.html"))),
        page("/docs/init.js", js, read(&web.join("docs/init.js"))),
        page("/docs/docs.css", css, read(&web.join("docs/docs.css"))),
        page(
            "/docs/swagger-ui.css",
            css,
            read(&dist.join("swagger-ui.css")),
        ),
        page(
            "/docs/swagger-ui-bundle.js",
            js,
            read(&dist.join("swagger-ui-bundle.js")),
        ),
        page("/openapi.json", "application/json", spec_json),
        page(
            "/openapi.yaml",
            "application/yaml; charset=utf-8",
            spec_yaml,
        ),
    ];
    let storefront = vec![
        page("/", html, read(&web.join("storefront/index.html"))),
        page("/shop/app.js", js, read(&web.join("storefront/app.js"))),
        page(
            "/shop/style.css",
            css,
            read(&web.join("storefront/style.css")),
        ),
        page(
            "/shop/config.json",
            "application/json",
            read(&web.join("storefront/config.json")),
        ),
    ];
    (docs, storefront)
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(bytes).expect("gzip into memory");
    encoder.finish().expect("gzip into memory")
}

/// Writes the files of one table to `out` and returns the table's Rust source.
fn table(name: &str, pages: &[Page], out: &Path) -> String {
    let mut source = format!("pub(crate) static {name}: &[Asset] = &[\n");
    for (i, page) in pages.iter().enumerate() {
        let digest = Sha256::digest(&page.bytes);
        let etag: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
        let raw = out.join(format!("{name}-{i}"));
        let zipped = out.join(format!("{name}-{i}.gz"));
        fs::write(&raw, &page.bytes).expect("write to OUT_DIR");
        fs::write(&zipped, gzip(&page.bytes)).expect("write to OUT_DIR");
        writeln!(
            source,
            "    Asset {{ path: {:?}, content_type: {:?}, etag: \"\\\"{etag}\\\"\", gzip_etag: \"\\\"{etag}-gz\\\"\", body: include_bytes!({:?}), gzip: include_bytes!({:?}) }},",
            page.path,
            page.content_type,
            raw.display().to_string(),
            zipped.display().to_string(),
        )
        .expect("write to a String");
    }
    source.push_str("];\n");
    source
}

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest
        .ancestors()
        .nth(2)
        .expect("the crate lives in crates/shop-web");
    for watched in [
        "web/docs",
        "web/storefront",
        "web/package.json",
        "web/package-lock.json",
        "openapi.yaml",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    let out = PathBuf::from(env::var("OUT_DIR").expect("set by cargo"));
    let (docs, storefront) = pages(root);
    let source = table("DOCS", &docs, &out) + &table("STOREFRONT", &storefront, &out);
    fs::write(out.join("assets.rs"), source).expect("write to OUT_DIR");
}
