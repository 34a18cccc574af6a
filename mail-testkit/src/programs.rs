//! Finding the programs a test needs, and what happens when one is missing: a note and a skip
//! on a developer's machine, a failure on CI (`CI=true`), where an interoperability proof must
//! never be skipped silently.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Directories searched after `$PATH`: daemons such as `dovecot` and `postfix` live there, and
/// they are often not in an unprivileged user's `$PATH`.
pub const SBIN_DIRS: [&str; 2] = ["/usr/sbin", "/usr/local/sbin"];

/// Whether `path` is a regular file with an execute bit.
pub fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

/// `name` in a directory of `$PATH`, else in [`SBIN_DIRS`]; the first executable file found.
pub fn find(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(SBIN_DIRS.iter().map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

/// Whether the environment says this is a CI run (`CI=true`).
pub fn on_ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

/// Whether this process runs as root (its effective uid owns `/proc/self`).
pub fn is_root() -> bool {
    fs::metadata("/proc/self").is_ok_and(|meta| meta.uid() == 0)
}

/// Reports that a test cannot run, with `note` saying what it lacks: panics when `CI=true`
/// (`"<note>; CI=true, so this is a failure"`), otherwise prints `SKIPPED: <note>` to stderr
/// and returns, so that the caller can return early.
///
/// # Panics
///
/// When `CI=true`.
pub fn skip_or_fail(note: &str) {
    if on_ci() {
        panic!("{note}; CI=true, so this is a failure");
    }
    eprintln!("SKIPPED: {note}");
}

/// The program `name` (see [`find`]), or `None` after [`skip_or_fail`] when it is missing.
///
/// # Panics
///
/// When the program is missing and `CI=true`.
pub fn require(name: &str) -> Option<PathBuf> {
    let found = find(name);
    if found.is_none() {
        skip_or_fail(&format!(
            "{name} is required for this test but was not found"
        ));
    }
    found
}

/// `dovecot` or `postfix` style daemons: the program `name` when it is found and this process
/// runs as root (their masters start as root), or `None` after [`skip_or_fail`] with a note
/// that starts with `what` and says what was found.
///
/// # Panics
///
/// When something is missing and `CI=true`.
pub fn require_as_root(what: &str, name: &str) -> Option<PathBuf> {
    let found = find(name);
    let root = is_root();
    match found {
        Some(path) if root => Some(path),
        found => {
            skip_or_fail(&format!(
                "{what} needs {name} (found: {found:?}) and root (root: {root})"
            ));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_shell_and_not_a_made_up_name() {
        assert!(find("sh").is_some());
        assert!(find("no-such-program-for-mail-testkit").is_none());
    }
}
