//! File-system steps with the durability the store promises, and the modes it keeps: every
//! file the store writes is readable by its owner only (0600) and every folder it makes is
//! the owner's only (0700), as Dovecot and Postfix keep mail. The modes are given when the file
//! or folder is created, so a permissive umask (even 0) never widens them.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// Flushes a directory's entries (a rename or create in it) to stable storage.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Replaces `path` with `contents` atomically and durably: temporary file, fsync, rename,
/// directory fsync.
pub(crate) fn replace_file(path: &Path, contents: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| io::Error::other("path without parent"))?;
    let name = path
        .file_name()
        .and_then(|name| name.to_str())
        .ok_or_else(|| io::Error::other("path without file name"))?;
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let unique = COUNTER.fetch_add(1, Ordering::Relaxed);
    let temporary = dir.join(format!(".{name}.{}.{unique}.tmp", std::process::id()));
    {
        let mut file = private_file()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&temporary)?;
        file.write_all(contents)?;
        file.sync_all()?;
    }
    fs::rename(&temporary, path)?;
    sync_dir(dir)
}

/// Appends `contents` to `path` (created if missing) and fsyncs it.
pub(crate) fn append_durably(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut file = private_file().create(true).append(true).open(path)?;
    file.write_all(contents)?;
    file.sync_data()
}

/// The mode of every file the store creates: the owner reads and writes it, nobody else.
pub(crate) const FILE_MODE: u32 = 0o600;
/// The mode of every folder the store creates: the owner's only.
pub(crate) const DIR_MODE: u32 = 0o700;

/// Options that create a file with [`FILE_MODE`] (add `write`, `create` and the like).
pub(crate) fn private_file() -> OpenOptions {
    #[allow(unused_mut)]
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(FILE_MODE);
    }
    options
}

/// A folder builder that creates with [`DIR_MODE`].
pub(crate) fn private_dir() -> DirBuilder {
    #[allow(unused_mut)]
    let mut builder = DirBuilder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(DIR_MODE);
    }
    builder
}

/// Creates a folder and its missing parents, each with [`DIR_MODE`].
pub(crate) fn ensure_dir_all(path: &Path) -> io::Result<()> {
    private_dir().recursive(true).create(path)
}

/// Creates a directory (with [`DIR_MODE`]) if it is missing; reports whether it made it.
pub(crate) fn ensure_dir(path: &Path) -> io::Result<bool> {
    match private_dir().create(path) {
        Ok(()) => Ok(true),
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(error) => Err(error),
    }
}
