//! `cargo package` for every publishable crate (the CI step), and the checks that keep
//! the packages complete: both license files in each crate identical to the root ones,
//! and the repository README's Rust examples the same as the `shockwave` crate README's
//! (which its doc tests compile).

use std::path::{Path, PathBuf};

/// Workspace members that are never published (`publish = false`): excluded from the
/// `cargo package` step.
const UNPUBLISHED: &[&str] = &["shockwave-benches", "xtask"];

/// The license files every published crate carries (copies of the root ones: `cargo
/// package` takes files from the package directory only).
const LICENSES: &[&str] = &["LICENSE-MIT", "LICENSE-APACHE"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace root")
        .to_path_buf()
}

/// The directories under `crates/` (every publishable crate lives there).
fn crate_dirs(root: &Path) -> Result<Vec<PathBuf>, String> {
    let mut dirs = Vec::new();
    let entries = std::fs::read_dir(root.join("crates")).map_err(|e| format!("crates/: {e}"))?;
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.join("Cargo.toml").is_file() {
            dirs.push(path);
        }
    }
    dirs.sort();
    Ok(dirs)
}

/// Each crate's license files match the root ones.
pub fn check_licenses(root: &Path) -> Result<(), String> {
    let mut problems = Vec::new();
    for name in LICENSES {
        let want = std::fs::read(root.join(name)).map_err(|e| format!("{name}: {e}"))?;
        for dir in crate_dirs(root)? {
            match std::fs::read(dir.join(name)) {
                Ok(got) if got == want => {}
                Ok(_) => problems.push(format!(
                    "{} differs from the root one",
                    dir.join(name).display()
                )),
                Err(_) => problems.push(format!("{} is missing", dir.join(name).display())),
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "license files (copy the root ones into each crate): {}",
            problems.join("; ")
        ))
    }
}

/// The fenced ```rust blocks of a Markdown text.
fn rust_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match &mut current {
            None if line.starts_with("```rust") => current = Some(String::new()),
            None => {}
            Some(_) if line.starts_with("```") => blocks.extend(current.take()),
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
        }
    }
    blocks
}

/// Every Rust example of the repository README is in the `shockwave` crate README too
/// (whose examples are doc tests), so the repository's examples compile.
pub fn check_readme_examples(root: &Path) -> Result<(), String> {
    let read = |p: &Path| std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()));
    let repo = read(&root.join("README.md"))?;
    let krate = rust_blocks(&read(&root.join("crates/shockwave/README.md"))?);
    let missing = rust_blocks(&repo)
        .into_iter()
        .filter(|b| !krate.contains(b))
        .count();
    if missing == 0 {
        Ok(())
    } else {
        Err(format!(
            "{missing} Rust example(s) of README.md are not in crates/shockwave/README.md \
             (whose examples are compiled as doc tests): keep them the same"
        ))
    }
}

/// `cargo package` every publishable crate (verified: each package builds on its own
/// from the packaged files), after the checks above.
pub fn package(cargo: impl Fn() -> std::process::Command) -> Result<(), String> {
    let root = root();
    check_licenses(&root)?;
    check_readme_examples(&root)?;
    forget_stale_packages();
    let mut cmd = cargo();
    cmd.args(["package", "--workspace", "--allow-dirty"]);
    for name in UNPUBLISHED {
        cmd.args(["--exclude", name]);
    }
    crate::run(&mut cmd)
}

/// Removes the sources cargo extracted from earlier runs' packages of our own crates.
/// `cargo package --workspace` verifies each crate against the others' new tarballs
/// through a temporary local registry (`$CARGO_HOME/registry/src/-HASH/`), but it does
/// not extract a crate again when a directory of the same name and version is already
/// there: a machine that packaged an older commit would verify against that old code.
fn forget_stale_packages() {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    let Some(home) = home else { return };
    let Ok(registries) = std::fs::read_dir(home.join("registry").join("src")) else {
        return;
    };
    for registry in registries.flatten() {
        // Only the temporary local registries (named `-HASH`), never crates.io's.
        if !registry.file_name().to_string_lossy().starts_with('-') {
            continue;
        }
        let Ok(crates) = std::fs::read_dir(registry.path()) else {
            continue;
        };
        for krate in crates.flatten() {
            if krate.file_name().to_string_lossy().starts_with("shockwave") {
                let _ = std::fs::remove_dir_all(krate.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_crates_carry_the_licenses_and_the_readme_examples_compile() {
        let root = root();
        check_licenses(&root).unwrap();
        check_readme_examples(&root).unwrap();
    }

    #[test]
    fn rust_blocks_are_found() {
        let md =
            "text\n```rust,no_run\nfn a() {}\n```\n```toml\nx = 1\n```\n```rust\nfn b() {}\n```\n";
        assert_eq!(rust_blocks(md), vec!["fn a() {}\n", "fn b() {}\n"]);
    }
}
