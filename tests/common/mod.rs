//! Helpers for end-to-end tests: the real `lazysqs` binary in a pseudo-terminal,
//! its screen read back through a VT100 parser.
//!
//! ```ignore
//! mod common;
//! use common::{Launch, Pty};
//!
//! let mut pty = Launch::new(["--demo", "--speed", "4"]).spawn();
//! pty.wait_for_text("orders-dlq", common::WAIT);
//! pty.send("q");
//! assert_eq!(pty.wait_exit(common::WAIT).exit_code(), 0);
//! ```
//!
//! Everything waits by polling the parsed screen against a deadline; nothing
//! sleeps and then asserts, so the tests hold on a slow or loaded machine.

#![allow(dead_code)]

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use portable_pty::{Child, CommandBuilder, ExitStatus, MasterPty, PtySize, native_pty_system};

/// A generous deadline for anything the binary should do "soon", on a loaded machine.
pub const WAIT: Duration = Duration::from_secs(30);
/// How often the screen is looked at while waiting.
const POLL: Duration = Duration::from_millis(50);

/// How to start the binary: arguments, extra environment, terminal size.
///
/// The environment is cleared: the child sees only `PATH`, `TERM`, a `HOME` in a
/// fresh temporary directory (so no AWS or lazysqs config is found) and what
/// [`Launch::env`] adds. No `AWS_*` variable leaks in from the test's environment.
pub struct Launch {
    program: PathBuf,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    rows: u16,
    cols: u16,
}

impl Launch {
    pub fn new<I, S>(args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        Launch {
            program: PathBuf::from(env!("CARGO_BIN_EXE_lazysqs")),
            args: args.into_iter().map(Into::into).collect(),
            env: Vec::new(),
            rows: 48,
            cols: 160,
        }
    }

    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    pub fn size(mut self, rows: u16, cols: u16) -> Self {
        self.rows = rows;
        self.cols = cols;
        self
    }

    pub fn spawn(self) -> Pty {
        let home = tempfile::tempdir().expect("a temporary HOME");
        let pair = native_pty_system()
            .openpty(PtySize {
                rows: self.rows,
                cols: self.cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("open a pty");
        // The line discipline's modes before the program touches them, to check
        // that it gives the terminal back as it found it.
        let modes_before = term_modes(pair.master.as_ref()).expect("read the pty's termios");

        let mut cmd = CommandBuilder::new(&self.program);
        cmd.args(&self.args);
        cmd.env_clear();
        cmd.env("PATH", std::env::var_os("PATH").unwrap_or_default());
        cmd.env("TERM", "xterm-256color");
        cmd.env("HOME", home.path());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd.cwd(home.path());
        let child = pair
            .slave
            .spawn_command(cmd)
            .expect("spawn lazysqs in the pty");
        // Only the child may hold the slave, so reads see EOF once it exits.
        drop(pair.slave);

        let parser = Arc::new(Mutex::new(vt100::Parser::new(self.rows, self.cols, 0)));
        let raw = Arc::new(Mutex::new(Vec::new()));
        let eof = Arc::new(AtomicBool::new(false));
        let mut reader = pair.master.try_clone_reader().expect("pty reader");
        let reader = {
            let (parser, raw, eof) = (parser.clone(), raw.clone(), eof.clone());
            std::thread::spawn(move || {
                let mut buf = [0u8; 16 * 1024];
                loop {
                    match reader.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            lock(&raw).extend_from_slice(&buf[..n]);
                            lock(&parser).process(&buf[..n]);
                        }
                    }
                }
                eof.store(true, Ordering::SeqCst);
            })
        };
        let writer = pair.master.take_writer().expect("pty writer");
        Pty {
            parser,
            raw,
            eof,
            reader: Some(reader),
            writer,
            child,
            master: pair.master,
            modes_before,
            exit: None,
            home,
        }
    }
}

/// The binary running in a pseudo-terminal. Killed on drop if still running.
pub struct Pty {
    parser: Arc<Mutex<vt100::Parser>>,
    raw: Arc<Mutex<Vec<u8>>>,
    eof: Arc<AtomicBool>,
    reader: Option<JoinHandle<()>>,
    writer: Box<dyn Write + Send>,
    child: Box<dyn Child + Send + Sync>,
    master: Box<dyn MasterPty + Send>,
    modes_before: String,
    exit: Option<ExitStatus>,
    home: tempfile::TempDir,
}

impl Pty {
    /// The child's process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.process_id()
    }

    /// The child's `HOME`, an empty temporary directory at start.
    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// The screen as text, one line per row, trailing blanks trimmed.
    pub fn text(&self) -> String {
        self.with_screen(|s| s.contents())
    }

    /// Looks at the parsed screen.
    pub fn with_screen<T>(&self, f: impl FnOnce(&vt100::Screen) -> T) -> T {
        f(lock(&self.parser).screen())
    }

    /// Every byte the program wrote so far.
    pub fn output(&self) -> Vec<u8> {
        lock(&self.raw).clone()
    }

    /// Types bytes as a person at the keyboard would (`"q"`, `"\r"`, `"\x1b"`).
    pub fn send(&mut self, keys: impl AsRef<[u8]>) {
        self.writer
            .write_all(keys.as_ref())
            .and_then(|()| self.writer.flush())
            .expect("write to the pty");
    }

    /// Polls the screen until `probe` gives `Some`, and returns it. Panics at the
    /// deadline, or when the program exits first, showing the screen and the log.
    pub fn wait_for<T>(
        &mut self,
        what: &str,
        timeout: Duration,
        mut probe: impl FnMut(&vt100::Screen) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(v) = self.with_screen(&mut probe) {
                return v;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                // Output may still be in flight: one last look once it is all in.
                self.exit = Some(status.clone());
                self.drain_output(Duration::from_secs(5));
                if let Some(v) = self.with_screen(&mut probe) {
                    return v;
                }
                panic!(
                    "lazysqs exited ({status}) while waiting for {what}\n{}",
                    self.report()
                );
            }
            if Instant::now() >= deadline {
                panic!(
                    "timed out after {timeout:?} waiting for {what}\n{}",
                    self.report()
                );
            }
            std::thread::sleep(POLL);
        }
    }

    /// Waits until `needle` appears anywhere on the screen.
    pub fn wait_for_text(&mut self, needle: &str, timeout: Duration) {
        self.wait_for(&format!("{needle:?} on screen"), timeout, |s| {
            s.contents().contains(needle).then_some(())
        });
    }

    /// Whether the program has exited (without waiting).
    pub fn has_exited(&mut self) -> bool {
        self.exit.is_some() || matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Waits for the program to exit and for all its output to be parsed.
    /// Kills it and panics at the deadline.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        if let Some(status) = &self.exit {
            return status.clone();
        }
        let deadline = Instant::now() + timeout;
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() < deadline => std::thread::sleep(POLL),
                Ok(None) => {
                    let _ = self.child.kill();
                    panic!("lazysqs did not exit within {timeout:?}\n{}", self.report());
                }
                Err(e) => panic!("waiting for lazysqs: {e}"),
            }
        };
        self.exit = Some(status.clone());
        self.drain_output(Duration::from_secs(10));
        status
    }

    /// Whether the terminal's input and output modes (canonical input, echo,
    /// signals, output processing) are what they were before the program ran,
    /// i.e. raw mode is off. `Err` says what differs.
    pub fn modes_restored(&self) -> Result<(), String> {
        let now = term_modes(self.master.as_ref()).ok_or("cannot read the pty's termios")?;
        if now == self.modes_before {
            Ok(())
        } else {
            Err(format!("before: {}\nafter:  {now}", self.modes_before))
        }
    }

    /// The terminal is as a shell expects it: main screen, cursor shown, not raw.
    pub fn assert_terminal_restored(&self) {
        let (alternate, hidden) = self.with_screen(|s| (s.alternate_screen(), s.hide_cursor()));
        assert!(
            !alternate,
            "still on the alternate screen\n{}",
            self.report()
        );
        assert!(!hidden, "the cursor is still hidden\n{}", self.report());
        let mouse = self.with_screen(|s| s.mouse_protocol_mode());
        assert_eq!(
            mouse,
            vt100::MouseProtocolMode::None,
            "mouse reporting is still on\n{}",
            self.report()
        );
        if let Err(e) = self.modes_restored() {
            panic!("the terminal is still in raw mode:\n{e}");
        }
    }

    /// The lazysqs log in the child's `HOME`, if it wrote one.
    pub fn log(&self) -> Option<String> {
        let path = self.home.path().join(".local/share/lazysqs/lazysqs.log");
        std::fs::read_to_string(path).ok()
    }

    /// The screen and the end of the log, for failure messages.
    pub fn report(&self) -> String {
        let log = self.log().unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(20).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        format!(
            "--- screen ---\n{}\n--- log (last lines) ---\n{}",
            self.text(),
            tail.join("\n")
        )
    }

    /// Waits (boundedly) for the reader to see EOF, so the screen holds everything.
    fn drain_output(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self.eof.load(Ordering::SeqCst) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        if self.eof.load(Ordering::SeqCst)
            && let Some(reader) = self.reader.take()
        {
            let _ = reader.join();
        }
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        if self.exit.is_none() && matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// One row of a table on screen, split into cells on runs of blanks, for the row
/// whose first cell is `name` (a leading "⚠ " stale marker is ignored). Box
/// borders are dropped.
pub fn table_row(screen: &vt100::Screen, name: &str) -> Option<Vec<String>> {
    screen.contents().lines().find_map(|line| {
        let line = line.trim_start_matches(['│', '┃', ' ']);
        let line = line.strip_prefix("⚠ ").unwrap_or(line);
        let cells: Vec<String> = line
            .split(['│', '┃'])
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_string)
            .collect();
        (cells.first().map(String::as_str) == Some(name)).then_some(cells)
    })
}

/// A `u64` cell, `None` for "—" (no data yet) or anything else.
pub fn number(cell: Option<&String>) -> Option<u64> {
    cell.and_then(|c| c.parse().ok())
}

/// The line discipline's flags, as text (portable-pty hands out nix's type).
fn term_modes(master: &(dyn MasterPty + Send)) -> Option<String> {
    let t = master.get_termios()?;
    Some(format!(
        "input {:?}, output {:?}, local {:?}",
        t.input_flags, t.output_flags, t.local_flags
    ))
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
