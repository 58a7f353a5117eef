//! Records the git commit being built, for the `crusoe_ial_build_info` metric: the
//! `CRUSOE_IAL_GIT_COMMIT` environment variable when set, else `git rev-parse`, else `unknown`.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=CRUSOE_IAL_GIT_COMMIT");
    if let Ok(given) = std::env::var("CRUSOE_IAL_GIT_COMMIT") {
        // A container build has no `.git`: the commit is passed in (Dockerfile's GIT_COMMIT).
        println!("cargo:rustc-env=CRUSOE_IAL_GIT_COMMIT={given}");
        return;
    }
    let commit = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=CRUSOE_IAL_GIT_COMMIT={commit}");
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs/heads");
}
