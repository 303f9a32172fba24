//! Records the git commit the binary is built from, for `--version` and the
//! run manifest (`CVM_ETL_VERSION`, e.g. `0.1.0 (commit 1a2b3c4d5e6f)`): `CVM_ETL_COMMIT` when the build sets it (a container build
//! without `.git`), else `git rev-parse HEAD`.
//!
//! The script reruns only when HEAD moves (a commit, a checkout), never for
//! an edit of the sources, so an everyday build pays nothing for it.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=CVM_ETL_COMMIT");
    let given = std::env::var("CVM_ETL_COMMIT")
        .ok()
        .filter(|c| !c.is_empty());
    let commit = given
        .or_else(git_commit)
        .unwrap_or_else(|| "unknown".to_owned());
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    println!("cargo:rustc-env=CVM_ETL_VERSION={version} (commit {commit})");
}

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    (out.status.success() && !text.trim().is_empty()).then(|| text.trim().to_owned())
}

fn git_commit() -> Option<String> {
    // The files HEAD is read from; a missing one is not watched, because
    // cargo reruns a script whose watched file is missing on every build.
    let mut watched = vec!["HEAD".to_owned(), "packed-refs".to_owned()];
    watched.extend(git(&["symbolic-ref", "-q", "HEAD"]));
    for name in watched {
        let path = git(&["rev-parse", "--git-path", &name]);
        if let Some(path) = path.filter(|p| std::path::Path::new(p).exists()) {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    git(&["rev-parse", "--short=12", "HEAD"])
}
