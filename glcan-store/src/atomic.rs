//! The one durable atomic file writer of the workspace. The bytes go to a uniquely named
//! temporary file in the target's folder (so two writers never share one), which is synced,
//! renamed over the target and the folder synced: a reader sees the old file or the new one,
//! never half of either, and after a crash or power loss the new file is really there. On
//! any error (a full disk, a missing folder) the temporary file is removed and the target
//! keeps its old content.

use std::fs::{File, Permissions};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::Error;

/// Writes `bytes` to `path` atomically and durably; the folder must exist. Errors name `path`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let error = |cause| Error::write(path, cause);
    let name = path.file_name().ok_or_else(|| error(std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file path")))?;
    let folder = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    // Hidden and ending in .tmp, so listings and git ignore it; tempfile removes it on drop.
    let mut temporary = tempfile::Builder::new()
        .prefix(&format!(".{}.", name.to_string_lossy()))
        .suffix(".tmp")
        // As `File::create` would (0o666 less the umask), not tempfile's private 0o600.
        .permissions(Permissions::from_mode(0o666))
        .tempfile_in(folder)
        .map_err(error)?;
    // Through the File: tempfile's own Write would add the temporary's (soon gone) path.
    temporary.as_file_mut().write_all(bytes).map_err(error)?;
    temporary.as_file().sync_all().map_err(error)?;
    temporary.persist(path).map_err(|e| error(e.error))?;
    // The rename is durable only once the folder's entry is on disk.
    File::open(folder).and_then(|f| f.sync_all()).map_err(error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{child_dir, run_under_file_size_limit};

    #[test]
    fn replaces_the_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("README.md");
        write_atomic(&path, b"old").unwrap();
        write_atomic(&path, b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_ne!(mode & 0o777, 0o600, "the file gets the umask's permissions, not tempfile's private ones");
    }

    #[test]
    fn a_missing_folder_names_the_target() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("missing/x.md");
        let message = write_atomic(&target, b"").unwrap_err().to_string();
        assert!(message.starts_with(&format!("cannot write {}: ", target.display())), "{message}");
    }

    #[test]
    fn concurrent_writers_never_share_a_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shared.txt");
        std::thread::scope(|scope| {
            for writer in 0..8u8 {
                let path = &path;
                scope.spawn(move || {
                    for _ in 0..20 {
                        write_atomic(path, &[b'a' + writer; 4096]).unwrap();
                    }
                });
            }
        });
        let bytes = std::fs::read(&path).unwrap();
        assert!(bytes.len() == 4096 && bytes.iter().all(|&b| b == bytes[0]), "one writer's bytes, whole");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    /// A full disk: the write fails naming the target, which keeps its old bytes, and no
    /// temporary file is left. The disk fills at a file-size limit (EFBIG, the errno of a
    /// file that may not grow; ENOSPC takes the same path).
    #[test]
    fn a_full_disk_keeps_the_old_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("target.bin");
        std::fs::write(&path, b"old").unwrap();
        let output = run_under_file_size_limit("atomic::tests::write_under_a_file_size_limit", dir.path());
        assert!(output.contains(&format!("cannot write {}: File too large (os error 27)\n", path.display())), "{output}");
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file left");
    }

    #[test]
    #[ignore = "runs in a child process of a_full_disk_keeps_the_old_file_and_leaves_no_temporary"]
    fn write_under_a_file_size_limit() {
        let Some(dir) = child_dir() else { return };
        let error = write_atomic(&dir.join("target.bin"), &vec![7u8; 256 << 10]).unwrap_err();
        println!("{error}");
    }
}
