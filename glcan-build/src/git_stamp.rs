//! The commit a binary is built from, captured when it is built: a binary run later, from
//! another folder or after the checkout moved on, still names the code it holds.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Sets `GLCAN_GIT_COMMIT` for the package being built: the workspace's HEAD (12 hex
/// digits), `-dirty` when tracked files differ from it, `unknown` outside a git checkout.
/// Cargo is told to re-run the build script when HEAD, the index or any tracked file
/// changes, so the stamp cannot go stale.
pub fn stamp_git_commit() {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR for build scripts");
    let workspace = Path::new(&manifest_dir).join("..");
    println!("cargo:rustc-env=GLCAN_GIT_COMMIT={}", describe(&workspace));
    for path in watched_paths(&workspace) {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}

/// `<commit>` or `<commit>-dirty`, or `unknown`.
fn describe(workspace: &Path) -> String {
    let Some(commit) = git(workspace, &["rev-parse", "--short=12", "HEAD"]) else {
        return "unknown".to_owned();
    };
    // --no-optional-locks: `status` must not rewrite the index it is watched through.
    match git(workspace, &["--no-optional-locks", "status", "--porcelain", "--untracked-files=no"]) {
        Some(changes) if !changes.is_empty() => format!("{commit}-dirty"),
        _ => commit,
    }
}

/// HEAD, the branch it points to, the index, and every tracked file; only those that exist
/// (cargo re-runs the script on every build for a path that does not).
fn watched_paths(workspace: &Path) -> Vec<PathBuf> {
    let mut git_paths = vec!["HEAD".to_owned(), "index".to_owned(), "packed-refs".to_owned()];
    if let Some(branch) = git(workspace, &["rev-parse", "--symbolic-full-name", "HEAD"]).filter(|b| b.starts_with("refs/")) {
        git_paths.push(branch);
    }
    let mut paths: Vec<PathBuf> =
        git_paths.iter().filter_map(|name| git(workspace, &["rev-parse", "--git-path", name])).map(|p| workspace.join(p)).collect();
    if let Some(files) = git(workspace, &["ls-files"]) {
        paths.extend(files.lines().map(|f| workspace.join(f)));
    }
    paths.retain(|p| p.exists());
    paths
}

/// The trimmed standard output of `git -C <workspace> <args>`, or None when git fails.
fn git(workspace: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new("git").arg("-C").arg(workspace).args(args).output().ok()?;
    output.status.success().then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stamp_names_heads_commit_and_watches_tracked_files() {
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let head = git(&workspace, &["rev-parse", "--short=12", "HEAD"]).expect("the workspace is a git checkout");
        let stamp = describe(&workspace);
        assert!(stamp == head || stamp == format!("{head}-dirty"), "{stamp} vs {head}");
        let watched = watched_paths(&workspace);
        assert!(watched.iter().any(|p| p.ends_with("glcan-build/src/lib.rs")), "tracked files are watched");
        assert!(watched.iter().any(|p| p.ends_with("HEAD")), "HEAD is watched");
    }

    #[test]
    fn outside_a_checkout_the_stamp_says_unknown() {
        let outside = std::env::temp_dir().join(format!("glcan-stamp-{}", std::process::id()));
        std::fs::create_dir_all(&outside).unwrap();
        // Only meaningful where the temp folder is not itself inside a checkout.
        let found = Command::new("git").arg("-C").arg(&outside).args(["rev-parse", "HEAD"]).output().is_ok_and(|o| o.status.success());
        if !found {
            assert_eq!(describe(&outside), "unknown");
            assert!(watched_paths(&outside).is_empty());
        }
        std::fs::remove_dir_all(&outside).unwrap();
    }
}
