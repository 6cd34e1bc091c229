//! What `--watch` watches, and what a changed file means: the template (reload
//! it), a function's sources (rebuild that function, or only restart it when it
//! is not built by cargo), or nothing of interest.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use notify::RecursiveMode;

use super::cargo::{Crate, Metadata};
use crate::binary;
use crate::launch;
use crate::template::Template;

/// Where one function's code is.
#[derive(Debug, Clone)]
pub(super) struct Watched {
    pub(super) logical_id: String,
    /// The crate cargo builds it from; `None` for a `bootstrap` or Python
    /// function, whose folder is its code as it stands.
    pub(super) build: Option<(PathBuf, Crate)>,
    /// Folders whose every file is its code.
    trees: Vec<PathBuf>,
    /// Folders where only the manifests (`Cargo.toml`, `Cargo.lock`,
    /// `build.rs`) are its code.
    manifests: Vec<PathBuf>,
}

/// Everything watched.
#[derive(Debug, Default)]
pub(super) struct Plan {
    pub(super) template: PathBuf,
    pub(super) functions: Vec<Watched>,
}

/// What a batch of changed files asks for.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Changes {
    pub(super) template: bool,
    /// Functions whose code changed, by logical id.
    pub(super) functions: BTreeSet<String>,
}

const MANIFESTS: &[&str] = &["Cargo.toml", "Cargo.lock", "build.rs"];

impl Plan {
    /// What to watch for `template` (read from `path`); a workspace cargo cannot
    /// describe leaves its functions watched by their `CodeUri` alone.
    pub(super) async fn of(path: &Path, template: &Template, build_dir: Option<&Path>) -> Plan {
        let mut workspaces: BTreeMap<PathBuf, Option<Metadata>> = BTreeMap::new();
        let mut functions = Vec::new();
        for spec in &template.functions {
            let folder = canonical(&launch::code_folder(spec, build_dir));
            if !launch::is_cargo(spec, build_dir) {
                functions.push(Watched {
                    logical_id: spec.logical_id.clone(),
                    build: None,
                    trees: vec![folder],
                    manifests: Vec::new(),
                });
                continue;
            }
            let root = canonical(&binary::workspace_root(&spec.code_uri));
            if !workspaces.contains_key(&root) {
                let metadata = Metadata::read(&root).await;
                if let Err(why) = &metadata {
                    tracing::warn!(workspace = %root.display(), %why, "watch: cannot read the workspace; watching CodeUri only");
                }
                workspaces.insert(root.clone(), metadata.ok());
            }
            let krate = workspaces[&root]
                .as_ref()
                .and_then(|m| m.crate_of(&binary::bin_name(spec)));
            let (trees, mut manifests) = match &krate {
                Some(krate) => (
                    krate.folders.iter().map(|f| f.join("src")).collect(),
                    krate.folders.clone(),
                ),
                None => (vec![folder], Vec::new()),
            };
            manifests.push(root.clone());
            functions.push(Watched {
                logical_id: spec.logical_id.clone(),
                build: krate.map(|k| (root, k)),
                trees,
                manifests,
            });
        }
        Plan {
            template: canonical(path),
            functions,
        }
    }

    /// The folders to watch, each once, recursively where any function needs it.
    pub(super) fn folders(&self) -> BTreeMap<PathBuf, RecursiveMode> {
        let mut folders = BTreeMap::new();
        for watched in &self.functions {
            for dir in &watched.manifests {
                folders
                    .entry(dir.clone())
                    .or_insert(RecursiveMode::NonRecursive);
            }
            for dir in &watched.trees {
                folders.insert(dir.clone(), RecursiveMode::Recursive);
            }
        }
        if let Some(dir) = self.template.parent() {
            folders
                .entry(dir.to_owned())
                .or_insert(RecursiveMode::NonRecursive);
        }
        folders
    }

    /// What the changed `paths` ask for.
    pub(super) fn changes<'a>(&self, paths: impl IntoIterator<Item = &'a PathBuf>) -> Changes {
        let mut changes = Changes::default();
        for path in paths {
            if *path == self.template {
                changes.template = true;
                continue;
            }
            for watched in &self.functions {
                if watched.owns(path) {
                    changes.functions.insert(watched.logical_id.clone());
                }
            }
        }
        changes
    }
}

impl Watched {
    /// Whether `path` is this function's code: below one of its trees (and not
    /// a by-product there), or one of its manifests.
    fn owns(&self, path: &Path) -> bool {
        self.trees
            .iter()
            .any(|dir| path.strip_prefix(dir).is_ok_and(|below| !is_noise(below)))
            || self.manifests.iter().any(|dir| {
                path.parent() == Some(dir.as_path())
                    && path
                        .file_name()
                        .is_some_and(|name| MANIFESTS.iter().any(|m| name == *m))
            })
    }
}

/// Editors' and tools' by-products, judged by the path below the watched
/// folder (so that a project under a folder called `target` is still seen):
/// hidden files and folders (`.git`, `.venv`), backup and swap files, vim's
/// probe, Python's caches, build output.
fn is_noise(below: &Path) -> bool {
    let name = below
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    name.ends_with('~')
        || name.ends_with(".swp")
        || name.ends_with(".swx")
        || name == "4913"
        || below.components().any(|c| {
            let c = c.as_os_str().to_string_lossy();
            c.starts_with('.') || c == "__pycache__" || c == "target"
        })
}

fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path)
        .unwrap_or_else(|_| std::path::absolute(path).unwrap_or_else(|_| path.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        let krate = Crate {
            package: "app".into(),
            bin: "app".into(),
            folders: vec!["/ws/app".into(), "/ws/lib".into()],
        };
        Plan {
            template: "/ws/template.yaml".into(),
            functions: vec![
                Watched {
                    logical_id: "App".into(),
                    build: Some(("/ws".into(), krate)),
                    trees: vec!["/ws/app/src".into(), "/ws/lib/src".into()],
                    manifests: vec!["/ws/app".into(), "/ws/lib".into(), "/ws".into()],
                },
                Watched {
                    logical_id: "Py".into(),
                    build: None,
                    trees: vec!["/ws/py".into()],
                    manifests: Vec::new(),
                },
            ],
        }
    }

    fn changes(paths: &[&str]) -> Changes {
        let paths: Vec<PathBuf> = paths.iter().map(PathBuf::from).collect();
        plan().changes(&paths)
    }

    #[test]
    fn a_source_file_belongs_to_the_functions_built_from_it() {
        let app = Changes {
            template: false,
            functions: ["App".to_owned()].into(),
        };
        assert_eq!(changes(&["/ws/lib/src/deep/mod.rs"]), app);
        assert_eq!(changes(&["/ws/app/Cargo.toml"]), app);
        assert_eq!(changes(&["/ws/Cargo.lock"]), app);
        assert_eq!(
            changes(&["/ws/py/app.py"]).functions,
            ["Py".to_owned()].into()
        );
        assert!(changes(&["/ws/template.yaml"]).template);
    }

    #[test]
    fn other_files_and_editor_by_products_change_nothing() {
        for path in [
            "/ws/README.md",
            "/ws/app/README.md",
            "/ws/app/tests/t.rs",
            "/ws/app/src/.main.rs.swp",
            "/ws/app/src/main.rs~",
            "/ws/app/src/4913",
            "/ws/py/__pycache__/app.cpython-311.pyc",
            "/ws/py/.venv/lib/site.py",
            "/ws/py/target/x",
            "/ws/template.yaml.bak",
        ] {
            assert_eq!(changes(&[path]), Changes::default(), "{path}");
        }
    }

    #[test]
    fn only_the_path_below_the_watched_folder_is_judged() {
        let mut plan = plan();
        plan.functions[1].trees = vec!["/srv/target/.hidden/py".into()];
        let paths = [PathBuf::from("/srv/target/.hidden/py/app.py")];
        assert_eq!(plan.changes(&paths).functions, ["Py".to_owned()].into());
    }

    #[test]
    fn folders_are_watched_once_recursively_where_any_function_needs_it() {
        let folders = plan().folders();
        assert_eq!(folders[Path::new("/ws/app/src")], RecursiveMode::Recursive);
        assert_eq!(folders[Path::new("/ws/py")], RecursiveMode::Recursive);
        assert_eq!(folders[Path::new("/ws")], RecursiveMode::NonRecursive);
        assert_eq!(folders.len(), 6);
    }
}
