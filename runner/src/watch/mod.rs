//! `--watch`: the edit–save–request loop. The runner watches each function's
//! sources (its crate and the workspace crates it builds on, from `cargo
//! metadata`; the code folder of a `bootstrap` or Python function) and the
//! template. After a change has settled it rebuilds with cargo (which
//! recompiles only what the change touched), and serves a new generation: the changed
//! functions get new pools (started once before the swap, so a build that
//! cannot start never serves), the others keep theirs, warm. Requests already
//! running finish on the instances they started on, which stop once the last
//! of them is done. A failed build or a template that does not load leaves the
//! last good generation serving, and says so.

mod cargo;
mod plan;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::Watcher;
use tokio::sync::mpsc;

use crate::binary::BuildKind;
use crate::gateway::App;
use crate::lambda::Supervisor;
use crate::setup::{self, Config};
use crate::template::Template;
use cargo::Crate;
use plan::{Changes, Plan};

/// How long the files must stay quiet before a batch of changes is acted on
/// (an editor's save, a `git checkout`, a formatter are several events).
const SETTLE: Duration = Duration::from_millis(300);

/// Where generation `n`'s snapshots of the functions' programs are: each
/// generation runs copies, which the next build cannot change under it.
pub fn snapshots(generation: u64) -> PathBuf {
    std::env::temp_dir()
        .join(format!("runner-watch-{}", std::process::id()))
        .join(generation.to_string())
}

/// Removes every generation's snapshots, at shutdown.
pub fn forget_snapshots() {
    if let Some(all) = snapshots(0).parent() {
        let _ = std::fs::remove_dir_all(all);
    }
}

/// Builds every cargo function of `template` before the first request, so that
/// `runner --watch` needs no build of its own. A failure is reported; the
/// runner then serves whatever binaries exist.
pub async fn build_all(config: &Config, template: &Template) -> bool {
    let plan = Plan::of(&config.template, template, config.build_dir.as_deref()).await;
    build(config, &plan).await
}

/// Watches and reloads until the runner stops.
pub async fn run(
    app: Arc<App>,
    config: Arc<Config>,
    supervisor: Arc<Supervisor>,
    template: Template,
) {
    let mut plan = Plan::of(&config.template, &template, config.build_dir.as_deref()).await;
    let (tx, mut rx) = mpsc::unbounded_channel::<PathBuf>();
    // Kept for as long as the loop runs: dropping it stops the watching.
    let mut _watcher = match start_watcher(&plan, tx.clone()) {
        Ok(watcher) => watcher,
        Err(why) => {
            tracing::error!(%why, "watch: cannot watch the sources; serving without --watch");
            return;
        }
    };
    let mut generation = 1u64;
    loop {
        let Some(first) = rx.recv().await else { return };
        let mut paths = vec![first];
        while let Ok(Some(path)) = tokio::time::timeout(SETTLE, rx.recv()).await {
            paths.push(path);
        }
        let changes = plan.changes(&paths);
        if !changes.template && changes.functions.is_empty() {
            continue;
        }
        let dir = snapshots(generation + 1);
        let Some(next) = reload(&app, &config, &supervisor, &plan, &changes, &dir).await else {
            let _ = std::fs::remove_dir_all(dir);
            continue;
        };
        generation += 1;
        // Two generations back is long drained: its files can go.
        if generation > 2 {
            let _ = std::fs::remove_dir_all(snapshots(generation - 2));
        }
        tracing::info!(generation, "watch: serving the new generation");
        if changes.template {
            plan = Plan::of(&config.template, &next, config.build_dir.as_deref()).await;
            match start_watcher(&plan, tx.clone()) {
                Ok(new) => _watcher = new,
                Err(why) => tracing::error!(%why, "watch: cannot watch the new template's sources"),
            }
        }
    }
}

/// Rebuilds what `changes` touched and swaps in the new generation; `None` (and
/// the last good generation still serving) when something failed.
async fn reload(
    app: &App,
    config: &Config,
    supervisor: &Arc<Supervisor>,
    plan: &Plan,
    changes: &Changes,
    snapshot_dir: &Path,
) -> Option<Template> {
    let touched: Vec<&str> = changes.functions.iter().map(String::as_str).collect();
    tracing::info!(template = changes.template, functions = ?touched, "watch: change seen");
    let template = match config.read_template() {
        Ok(template) => template,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "watch: the template does not load; still serving the last good one");
            return None;
        }
    };
    // A template edit may name functions or binaries not built yet.
    let built = if changes.template {
        let all = Plan::of(&config.template, &template, config.build_dir.as_deref()).await;
        build(config, &all).await
    } else {
        build(config, plan).await
    };
    if !built {
        tracing::error!("watch: the build failed; still serving the last good build");
        return None;
    }
    let old = app.served();
    let restart: Vec<String> = changes.functions.iter().cloned().collect();
    let snapshots = Some(snapshot_dir);
    let served = match setup::serve(
        &template, config, supervisor, &old.pools, &restart, snapshots,
    ) {
        Ok(served) => served,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "watch: cannot serve the change; still serving the last good generation");
            return None;
        }
    };
    // Every new pool starts once before it serves: a build or a template
    // edit whose function cannot start never replaces one that works.
    for pool in &served.pools {
        let kept = old.pools.iter().any(|p| Arc::ptr_eq(p, pool));
        if !kept && let Err(why) = pool.warm().await {
            tracing::error!(function = %pool.runtime.name, %why, "watch: the new build does not start; still serving the last good build");
            return None;
        }
    }
    app.replace(served);
    Some(template)
}

/// Builds the cargo functions of `plan`, one cargo run per workspace. Always
/// all of them, whatever changed: cargo recompiles only what the change
/// touched, and the same set of packages every time keeps cargo's feature
/// unification, and so the dependencies' builds, the same from one change to
/// the next.
async fn build(config: &Config, plan: &Plan) -> bool {
    let mut workspaces: BTreeMap<&PathBuf, Vec<Crate>> = BTreeMap::new();
    for watched in &plan.functions {
        if let Some((root, krate)) = &watched.build {
            let crates = workspaces.entry(root).or_default();
            if !crates.contains(krate) {
                crates.push(krate.clone());
            }
        }
    }
    let release = config.binaries == BuildKind::Release;
    let mut ok = true;
    for (root, crates) in workspaces {
        tracing::info!(workspace = %root.display(), binaries = crates.len(), release, "watch: building");
        ok &= cargo::build(root, &crates, release, config.target_dir.as_deref()).await;
    }
    ok
}

/// A file watcher over `plan`'s folders, sending every changed path to `tx`.
fn start_watcher(
    plan: &Plan,
    tx: mpsc::UnboundedSender<PathBuf>,
) -> notify::Result<notify::RecommendedWatcher> {
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        if matches!(event.kind, notify::EventKind::Access(_)) {
            return;
        }
        for path in event.paths {
            let _ = tx.send(path);
        }
    })?;
    for (folder, mode) in plan.folders() {
        // A folder that does not exist (a crate without `src/`) is not an error.
        if folder.exists() {
            watcher.watch(&folder, mode)?;
        }
    }
    Ok(watcher)
}
