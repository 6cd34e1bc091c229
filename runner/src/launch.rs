//! How each function's process is started, from its `Runtime`, `Handler` and
//! `CodeUri`, as Lambda would start it:
//!
//! - `provided.al2023`, `provided.al2` (or no `Runtime`): the executable
//!   `bootstrap` in the function's code folder (`--build-dir DIR/<LogicalId>/`
//!   when that exists, as `sam build` writes it, else `CodeUri`), checked to be
//!   built for this machine; without one, the function's cargo binary.
//! - `python3.x`: `python3 -m awslambdaric <Handler>` in the code folder, with
//!   the `python3` on `PATH` (a venv's, when one is active), once that Python can
//!   import AWS's runtime interface client.
//! - Anything else is refused at start, naming the function and what it needs.

use std::path::{Path, PathBuf};

use crate::binary::{self, BuildKind};
use crate::elf;
use crate::template::FunctionSpec;

/// What to run for a function: a program with its arguments, in its code
/// folder, and the variables Lambda sets for that runtime.
#[derive(Debug, Clone)]
pub struct Launch {
    pub program: PathBuf,
    pub args: Vec<String>,
    /// The code folder (`LAMBDA_TASK_ROOT`), which is also the working folder.
    pub task_root: PathBuf,
    pub environment: Vec<(String, String)>,
    /// How the start is described in the runner's log.
    pub kind: &'static str,
}

/// Where the runner looks for code.
#[derive(Debug, Clone, Copy)]
pub struct Sources<'a> {
    /// Where cargo's outputs are (`--target-dir`).
    pub target_dir: Option<&'a Path>,
    /// Which cargo build to run (`--binaries`).
    pub binaries: BuildKind,
    /// `--build-dir`: a `sam build` output, one folder per function.
    pub build_dir: Option<&'a Path>,
}

/// How `spec` is started, or why it cannot be (one message naming the function).
pub fn launch(spec: &FunctionSpec, sources: Sources<'_>) -> Result<Launch, String> {
    let task_root = absolute(&code_folder(spec, sources.build_dir));
    let runtime = spec.runtime.as_deref();
    if is_provided(runtime) {
        return provided(spec, sources, task_root);
    }
    match runtime.unwrap_or_default() {
        python if is_python(python) => self::python(spec, python, task_root),
        other => Err(format!(
            "function {}: runtime {other} cannot run here; the runner runs provided.al2023 \
             and provided.al2 (a bootstrap, or a cargo binary) and python3.x (with awslambdaric)",
            spec.logical_id
        )),
    }
}

fn is_python(runtime: &str) -> bool {
    runtime
        .strip_prefix("python3.")
        .is_some_and(|minor| !minor.is_empty() && minor.bytes().all(|b| b.is_ascii_digit()))
}

/// Whether `spec` runs as a cargo binary (no `bootstrap` of its own and a
/// `provided` runtime or none), which `--watch` rebuilds with cargo.
pub fn is_cargo(spec: &FunctionSpec, build_dir: Option<&Path>) -> bool {
    is_provided(spec.runtime.as_deref())
        && !code_folder(spec, build_dir).join("bootstrap").is_file()
}

/// A custom runtime, or none named: a `bootstrap` or a cargo binary.
fn is_provided(runtime: Option<&str>) -> bool {
    matches!(
        runtime,
        None | Some("provided.al2023" | "provided.al2" | "provided")
    )
}

/// `DIR/<LogicalId>` under `--build-dir` when it exists, else `CodeUri`.
pub fn code_folder(spec: &FunctionSpec, build_dir: Option<&Path>) -> PathBuf {
    match build_dir.map(|dir| dir.join(&spec.logical_id)) {
        Some(built) if built.is_dir() => built,
        _ => spec.code_uri.clone(),
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

fn provided(
    spec: &FunctionSpec,
    sources: Sources<'_>,
    task_root: PathBuf,
) -> Result<Launch, String> {
    let bootstrap = task_root.join("bootstrap");
    let environment = common(spec, &task_root);
    if bootstrap.is_file() {
        elf::check_runs_here(&bootstrap)
            .map_err(|why| format!("function {}: {why}", spec.logical_id))?;
        return Ok(Launch {
            program: bootstrap,
            args: Vec::new(),
            task_root,
            environment,
            kind: "bootstrap",
        });
    }
    let binary = binary::locate(spec, sources.target_dir, sources.binaries).map_err(|e| {
        let built = sources
            .build_dir
            .map(|dir| format!(" ({} has no bootstrap for it either)", dir.display()))
            .unwrap_or_default();
        format!("{e}{built}")
    })?;
    Ok(Launch {
        program: absolute(&binary),
        args: Vec::new(),
        task_root,
        environment,
        kind: "cargo binary",
    })
}

fn python(spec: &FunctionSpec, runtime: &str, task_root: PathBuf) -> Result<Launch, String> {
    let id = &spec.logical_id;
    let handler = spec
        .handler
        .as_deref()
        .filter(|h| {
            h.rsplit_once('.')
                .is_some_and(|(m, f)| !m.is_empty() && !f.is_empty())
        })
        .ok_or_else(|| format!("function {id}: {runtime} needs `Handler: module.function`"))?;
    let python = on_path("python3").ok_or_else(|| {
        format!("function {id}: {runtime} needs `python3` on PATH, and it is not there")
    })?;
    if !imports_awslambdaric(&python) {
        return Err(format!(
            "function {id}: {runtime} runs with AWS's runtime interface client, which {} cannot \
             import; install it with `{} -m pip install awslambdaric` (or activate a venv that has it)",
            python.display(),
            python.display()
        ));
    }
    if !task_root.is_dir() {
        return Err(format!(
            "function {id}: its code folder {} does not exist",
            task_root.display()
        ));
    }
    let mut environment = common(spec, &task_root);
    environment.push((
        "AWS_EXECUTION_ENV".to_owned(),
        format!("AWS_Lambda_{runtime}"),
    ));
    environment.push(("PYTHONUNBUFFERED".to_owned(), "1".to_owned()));
    Ok(Launch {
        program: python,
        args: vec!["-m".into(), "awslambdaric".into(), handler.to_owned()],
        task_root,
        environment,
        kind: "python (awslambdaric)",
    })
}

/// Whether `python` can import awslambdaric. A yes is remembered, so that a
/// `--watch` reload does not ask again; a no is asked again, so that installing
/// it and reloading works.
fn imports_awslambdaric(python: &Path) -> bool {
    static KNOWN: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
    if KNOWN.lock().expect("lock").iter().any(|p| p == python) {
        return true;
    }
    let importable = std::process::Command::new(python)
        .args(["-c", "import awslambdaric"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if importable {
        KNOWN.lock().expect("lock").push(python.to_owned());
    }
    importable
}

/// What Lambda sets for every runtime about the code itself.
fn common(spec: &FunctionSpec, task_root: &Path) -> Vec<(String, String)> {
    let root = task_root.display().to_string();
    let mut environment = vec![
        ("LAMBDA_TASK_ROOT".to_owned(), root.clone()),
        // There is no separate runtime folder on one machine.
        ("LAMBDA_RUNTIME_DIR".to_owned(), root),
    ];
    if let Some(handler) = &spec.handler {
        environment.push(("_HANDLER".to_owned(), handler.clone()));
    }
    environment
}

/// The first executable file called `name` in `PATH`.
fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| elf::is_executable(candidate))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_runtimes_are_python3_and_a_minor_version() {
        for yes in ["python3.9", "python3.12", "python3.13"] {
            assert!(is_python(yes), "{yes}");
        }
        for no in [
            "python3",
            "python3.",
            "python2.7",
            "python3.x",
            "nodejs20.x",
        ] {
            assert!(!is_python(no), "{no}");
        }
    }

    #[test]
    fn only_executable_files_on_path_are_found() {
        assert!(on_path("sh").is_some_and(|p| p.is_absolute()));
        assert!(on_path("surely-no-such-program-here").is_none());
    }
}
