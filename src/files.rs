//! Files lazysqs writes that may hold customer data or a record of what was done
//! (the audit log, the log file, exports): created readable by the user alone
//! (mode 0600), appended to one whole line at a time, and never overwritten.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

fn private(options: &mut OpenOptions) -> &mut OpenOptions {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

/// Opens `path` for appending (O_APPEND), creating it and its folder if needed.
pub fn open_append(path: &Path) -> io::Result<File> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    private(OpenOptions::new().create(true).append(true)).open(path)
}

/// Appends `line` and a newline in one write: with O_APPEND, two processes
/// writing the same file never interleave within a line.
pub(crate) fn append_line(path: &Path, line: &str) -> io::Result<()> {
    let mut f = open_append(path)?;
    let mut buf = String::with_capacity(line.len() + 1);
    buf.push_str(line);
    buf.push('\n');
    f.write_all(buf.as_bytes())?;
    f.sync_data()
}

/// Writes a new file at `path`, or at `path` with `-2`, `-3`… before its
/// extension when that exists: an export never overwrites another. Returns where
/// it went.
pub(crate) fn write_new(path: &Path, contents: &[u8]) -> io::Result<PathBuf> {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = path
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    for n in 1..10_000 {
        let candidate = if n == 1 {
            path.to_path_buf()
        } else {
            path.with_file_name(format!("{stem}-{n}{ext}"))
        };
        match private(OpenOptions::new().write(true).create_new(true)).open(&candidate) {
            Ok(mut f) => {
                f.write_all(contents)?;
                f.sync_all()?;
                return Ok(candidate);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!("{} and 9,999 numbered copies exist", path.display()),
    ))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777
    }

    #[test]
    fn exports_never_overwrite_and_are_private() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("export.jsonl");
        let a = write_new(&path, b"first\n").expect("write");
        let b = write_new(&path, b"second\n").expect("write");
        assert_eq!(a, path);
        assert_eq!(b, dir.path().join("export-2.jsonl"));
        assert_eq!(std::fs::read_to_string(&a).expect("read"), "first\n");
        assert_eq!(std::fs::read_to_string(&b).expect("read"), "second\n");
        assert_eq!(mode(&a), 0o600);
        assert_eq!(mode(&b), 0o600);
    }

    #[test]
    fn appended_lines_are_whole_and_private() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub").join("audit.jsonl");
        append_line(&path, "one").expect("append");
        append_line(&path, "two").expect("append");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "one\ntwo\n");
        assert_eq!(mode(&path), 0o600);
    }
}
