//! Finds the executable of each function among the outputs of `cargo build` and
//! `cargo lambda build`.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::template::FunctionSpec;

/// A function whose binary is not built.
#[derive(Debug, thiserror::Error)]
#[error("function {function}: no binary found (looked for {looked}); build it with `{command}`")]
pub struct MissingBinary {
    pub function: String,
    pub looked: String,
    pub command: String,
}

/// Which build outputs may supply a function's binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BuildKind {
    /// Whichever of the others was built last.
    Newest,
    /// `target/lambda/<bin>/bootstrap` (`cargo lambda build`).
    Lambda,
    /// `target/release/<bin>`.
    Release,
    /// `target/debug/<bin>`.
    Debug,
}

/// Where the binary of `spec` is: by default the newest of
/// `target/lambda/<bin>/bootstrap`, `target/release/<bin>` and `target/debug/<bin>`,
/// so the last build wins.
pub fn locate(
    spec: &FunctionSpec,
    target_dir: Option<&Path>,
    kind: BuildKind,
) -> Result<PathBuf, MissingBinary> {
    let crate_name = crate_name(&spec.code_uri);
    let bin = bin_name(spec);
    let target = match target_dir {
        Some(dir) => dir.to_owned(),
        None => match std::env::var_os("CARGO_TARGET_DIR") {
            Some(dir) => PathBuf::from(dir),
            None => workspace_root(&spec.code_uri).join("target"),
        },
    };
    let candidates = [
        (
            BuildKind::Lambda,
            target.join("lambda").join(&bin).join("bootstrap"),
        ),
        (
            BuildKind::Lambda,
            target
                .join("lambda")
                .join(&spec.logical_id)
                .join("bootstrap"),
        ),
        (BuildKind::Release, target.join("release").join(&bin)),
        (BuildKind::Debug, target.join("debug").join(&bin)),
    ];
    let candidates: Vec<PathBuf> = candidates
        .into_iter()
        .filter(|(k, _)| kind == BuildKind::Newest || *k == kind)
        .map(|(_, path)| path)
        .collect();
    let newest = candidates
        .iter()
        .filter_map(|p| {
            let meta = std::fs::metadata(p).ok().filter(|m| m.is_file())?;
            Some((meta.modified().unwrap_or(SystemTime::UNIX_EPOCH), p))
        })
        .max_by_key(|(time, _)| *time);
    match newest {
        Some((_, path)) => Ok(path.clone()),
        None => Err(MissingBinary {
            function: spec.logical_id.clone(),
            looked: candidates
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            command: {
                let package = crate_name.map(|k| format!(" -p {k}")).unwrap_or_default();
                match kind {
                    BuildKind::Debug => format!("cargo build{package} --bin {bin}"),
                    BuildKind::Lambda => {
                        format!("cargo lambda build --release{package} --bin {bin}")
                    }
                    BuildKind::Newest | BuildKind::Release => {
                        format!("cargo build --release{package} --bin {bin}")
                    }
                }
            },
        }),
    }
}

/// The name of `spec`'s cargo binary: `Metadata.BuildProperties.Binary`, else
/// the `[package] name` of the crate at `CodeUri`, else the logical id.
pub fn bin_name(spec: &FunctionSpec) -> String {
    spec.binary
        .clone()
        .or_else(|| crate_name(&spec.code_uri))
        .unwrap_or_else(|| spec.logical_id.clone())
}

/// The `[package] name` of the crate at `dir`, if there is one.
fn crate_name(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join("Cargo.toml")).ok()?;
    let mut in_package = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package
            && let Some(value) = line.strip_prefix("name").map(str::trim_start)
            && let Some(value) = value.strip_prefix('=')
        {
            return Some(value.trim().trim_matches('"').to_owned());
        }
    }
    None
}

/// The nearest folder at or above `dir` whose Cargo.toml declares a workspace; else `dir`.
pub fn workspace_root(dir: &Path) -> PathBuf {
    let absolute = std::fs::canonicalize(dir)
        .or_else(|_| std::path::absolute(dir))
        .unwrap_or_else(|_| dir.to_owned());
    for ancestor in absolute.ancestors() {
        if let Ok(text) = std::fs::read_to_string(ancestor.join("Cargo.toml"))
            && text.lines().any(|l| l.trim() == "[workspace]")
        {
            return ancestor.to_owned();
        }
    }
    absolute
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crate_name_is_read_from_the_package_section() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("test-functions");
        assert_eq!(crate_name(&dir).as_deref(), Some("runner-test-functions"));
    }

    #[test]
    fn workspace_root_is_the_nearest_folder_declaring_a_workspace() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("test-functions");
        let root = workspace_root(&dir);
        assert!(root.join("Cargo.toml").exists());
        let manifest = std::fs::canonicalize(env!("CARGO_MANIFEST_DIR")).unwrap();
        assert_eq!(root, manifest.parent().unwrap());
    }
}
