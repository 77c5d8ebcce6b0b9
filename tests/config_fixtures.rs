//! Config files as a user writes them, through the real binary: every file in
//! `tests/fixtures/config/valid` is taken; every file in `invalid` is refused with
//! exit 2 and the error its first line expects (`# expect: FILE:LINE:COL: TEXT`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixtures(kind: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/config")
        .join(kind);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no fixtures in {}", dir.display());
    files
}

/// `lazysqs --config FILE --demo snapshot --no-metrics`: reads the config, runs
/// nothing that needs AWS.
fn snapshot_with(config: &Path) -> Output {
    let home = tempfile::tempdir().expect("home");
    Command::new(env!("CARGO_BIN_EXE_lazysqs"))
        .arg("--config")
        .arg(config)
        .args(["--demo", "snapshot", "--no-metrics"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .output()
        .expect("run lazysqs")
}

#[test]
fn every_valid_config_is_taken() {
    for file in fixtures("valid") {
        let out = snapshot_with(&file);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn every_invalid_config_is_refused_naming_file_line_and_option() {
    for file in fixtures("invalid") {
        let text = std::fs::read_to_string(&file).expect("read");
        let expected = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{}: no `# expect:` first line", file.display()));
        let out = snapshot_with(&file);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}: {stderr}", file.display());
        assert!(
            stderr.contains(expected),
            "{}: expected {expected:?} in: {stderr}",
            file.display()
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn an_out_of_range_speed_on_the_command_line_is_refused() {
    for speed in ["0", "-1", "nan", "inf", "1e20"] {
        let out = Command::new(env!("CARGO_BIN_EXE_lazysqs"))
            .args([
                "--demo",
                &format!("--speed={speed}"),
                "snapshot",
                "--no-metrics",
            ])
            .output()
            .expect("run");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "--speed {speed}: {stderr}");
        assert!(stderr.contains("--speed"), "--speed {speed}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}
