//! What cargo knows about the functions' crates, from `cargo metadata`: which
//! package builds each function's binary and the folders its sources are in
//! (its own and those of the path dependencies it builds on, transitively);
//! and building binaries, with the compiler's output on the runner's terminal.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde::Deserialize;

/// A workspace as `cargo metadata --no-deps` describes it.
#[derive(Debug, Deserialize)]
pub(super) struct Metadata {
    packages: Vec<Package>,
}

#[derive(Debug, Deserialize)]
struct Package {
    name: String,
    manifest_path: PathBuf,
    targets: Vec<Target>,
    dependencies: Vec<Dependency>,
}

#[derive(Debug, Deserialize)]
struct Target {
    name: String,
    kind: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Dependency {
    path: Option<PathBuf>,
}

/// The package that builds a binary, and every folder whose sources it is built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Crate {
    pub(super) package: String,
    pub(super) bin: String,
    pub(super) folders: Vec<PathBuf>,
}

impl Metadata {
    /// Reads the workspace at `root` (`cargo metadata --no-deps`).
    pub(super) async fn read(root: &Path) -> Result<Metadata, String> {
        let output = tokio::process::Command::new(cargo())
            .args([
                "metadata",
                "--no-deps",
                "--format-version",
                "1",
                "--manifest-path",
            ])
            .arg(root.join("Cargo.toml"))
            .stdin(Stdio::null())
            .output()
            .await
            .map_err(|e| format!("cannot run cargo metadata: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "cargo metadata failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        Metadata::parse(&output.stdout)
    }

    pub(super) fn parse(json: &[u8]) -> Result<Metadata, String> {
        serde_json::from_slice(json).map_err(|e| format!("unreadable cargo metadata: {e}"))
    }

    /// The package with a binary target called `bin`, and its source folders.
    pub(super) fn crate_of(&self, bin: &str) -> Option<Crate> {
        let package = self.packages.iter().find(|p| {
            p.targets
                .iter()
                .any(|t| t.name == bin && t.kind.iter().any(|k| k == "bin"))
        })?;
        let mut folders = BTreeSet::new();
        let mut next = vec![folder(&package.manifest_path)];
        while let Some(dir) = next.pop() {
            if !folders.insert(dir.clone()) {
                continue;
            }
            // A path dependency that is a workspace member has dependencies of
            // its own; one outside the workspace is watched, not followed.
            let Some(member) = self
                .packages
                .iter()
                .find(|p| folder(&p.manifest_path) == dir)
            else {
                continue;
            };
            next.extend(
                member
                    .dependencies
                    .iter()
                    .filter_map(|d| d.path.as_deref())
                    .map(canonical),
            );
        }
        Some(Crate {
            package: package.name.clone(),
            bin: bin.to_owned(),
            folders: folders.into_iter().collect(),
        })
    }
}

fn folder(manifest: &Path) -> PathBuf {
    canonical(manifest.parent().unwrap_or(manifest))
}

fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned())
}

/// The cargo that runs the runner, when it was run by cargo; else `cargo`.
fn cargo() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// `cargo build -p <package> --bin <bin> …` in the workspace at `root`, in the
/// release profile when `release`; the compiler's output goes to the runner's
/// terminal. Whether it succeeded.
pub(super) async fn build(
    root: &Path,
    crates: &[Crate],
    release: bool,
    target_dir: Option<&Path>,
) -> bool {
    if crates.is_empty() {
        return true;
    }
    let mut command = tokio::process::Command::new(cargo());
    command.arg("build").current_dir(root).stdin(Stdio::null());
    if release {
        command.arg("--release");
    }
    if let Some(dir) = target_dir {
        command.arg("--target-dir").arg(dir);
    }
    for krate in crates {
        command.args(["-p", &krate.package, "--bin", &krate.bin]);
    }
    // The compiler's output is the point of a watch loop: it goes straight to
    // the runner's own stdout and stderr.
    command.stdout(Stdio::inherit()).stderr(Stdio::inherit());
    match command.status().await {
        Ok(status) => status.success(),
        Err(e) => {
            tracing::error!(error = %e, "cannot run cargo build");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_binary_is_built_from_its_package_and_the_path_dependencies_below_it() {
        let dir = std::env::temp_dir().join(format!("metadata-{}", std::process::id()));
        for name in ["app", "domain", "store", "other"] {
            std::fs::create_dir_all(dir.join(name)).unwrap();
        }
        let at = |name: &str| dir.join(name).join("Cargo.toml");
        let json = serde_json::json!({
            "packages": [
                {"name": "app", "manifest_path": at("app"),
                 "targets": [{"name": "app-fn", "kind": ["bin"]}, {"name": "app", "kind": ["lib"]}],
                 "dependencies": [{"name": "store", "path": dir.join("store")}, {"name": "serde"}]},
                {"name": "store", "manifest_path": at("store"), "targets": [{"name": "store", "kind": ["lib"]}],
                 "dependencies": [{"name": "domain", "path": dir.join("domain")}]},
                {"name": "domain", "manifest_path": at("domain"), "targets": [{"name": "domain", "kind": ["lib"]}],
                 "dependencies": [{"name": "store", "path": dir.join("store")}]},
                {"name": "other", "manifest_path": at("other"), "targets": [{"name": "other", "kind": ["bin"]}],
                 "dependencies": []}
            ]
        });
        let metadata = Metadata::parse(json.to_string().as_bytes()).unwrap();
        let app = metadata.crate_of("app-fn").unwrap();
        assert_eq!(app.package, "app");
        let mut expected: Vec<PathBuf> = ["app", "domain", "store"]
            .iter()
            .map(|n| canonical(&dir.join(n)))
            .collect();
        expected.sort();
        assert_eq!(app.folders, expected);
        // A library target is not a binary.
        assert!(metadata.crate_of("store").is_none());
        assert!(metadata.crate_of("missing").is_none());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
