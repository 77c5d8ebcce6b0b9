//! The progress line `lazysqs redrive` draws on stderr while it runs.

use std::io::IsTerminal;
use std::time::Duration;

use tokio::sync::watch;

use crate::redrive::{Progress, RunState};

/// Draws progress on stderr until the run finishes: a bar redrawn in place on a
/// terminal, else a line every few seconds.
pub(super) async fn draw(mut rx: watch::Receiver<Progress>) {
    let tty = std::io::stderr().is_terminal();
    let every = if tty {
        Duration::from_millis(200)
    } else {
        Duration::from_secs(5)
    };
    let mut last: Option<tokio::time::Instant> = None;
    loop {
        let p = rx.borrow_and_update().clone();
        let finished = p.state.is_finished();
        if finished || last.is_none_or(|t| t.elapsed() >= every) {
            last = Some(tokio::time::Instant::now());
            if tty {
                let cols = crossterm::terminal::size().map_or(80, |(c, _)| usize::from(c));
                let line = fit_progress_line(&p, cols);
                eprint!("\r\x1b[2K{line}");
                if finished {
                    eprintln!();
                }
            } else {
                eprintln!("{}", progress_line(&p, BAR));
            }
        }
        if finished {
            return;
        }
        tokio::select! {
            changed = rx.changed() => if changed.is_err() {
                if tty {
                    eprintln!();
                }
                return;
            },
            _ = tokio::time::sleep(every) => {}
        }
    }
}

fn clock(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// The progress bar's width when the line has room.
const BAR: usize = 24;

/// [`progress_line`] within `cols` columns, so that a terminal can rewrite it in
/// place: the bar gives way first, then the end of the line.
pub(crate) fn fit_progress_line(p: &Progress, cols: usize) -> String {
    let room = cols.saturating_sub(1);
    let line = progress_line(p, BAR);
    let over = line.chars().count().saturating_sub(room);
    if over == 0 {
        return line;
    }
    let line = progress_line(p, BAR.saturating_sub(over));
    if line.chars().count() <= room {
        return line;
    }
    let mut cut: String = line.chars().take(room.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// One line of progress: `running [██████░░░░░░] 1200/2000  failed 0  48.9/50 msg/s  ETA 0:16`,
/// with a bar `width` wide (none at 0).
pub(crate) fn progress_line(p: &Progress, width: usize) -> String {
    let bar = match p.fraction() {
        Some(f) if width > 0 => {
            let full = ((f * width as f64).round() as usize).min(width);
            format!("[{}{}] ", "█".repeat(full), "░".repeat(width - full))
        }
        _ => String::new(),
    };
    let done = match p.total {
        Some(t) => format!("{}/{t}", p.moved),
        None => p.moved.to_string(),
    };
    let mut line = format!("{:<10} {bar}{done} moved", p.state.label());
    if p.failed > 0 {
        line.push_str(&format!("  failed {}", p.failed));
    }
    if p.skipped > 0 {
        line.push_str(&format!("  skipped {}", p.skipped));
    }
    let target = p
        .target_rate
        .map(|t| format!("/{t:.0}"))
        .unwrap_or_default();
    line.push_str(&format!("  {:.1}{target} msg/s", p.rate));
    if let Some(c) = p.concurrency {
        line.push_str(&format!("  concurrency {c}"));
    }
    line.push_str(&format!("  {}", clock(p.elapsed)));
    if let Some(eta) = p.eta
        && !p.state.is_finished()
    {
        line.push_str(&format!("  ETA {}", clock(eta)));
    }
    if p.state == RunState::Failed
        && let Some(d) = &p.detail
    {
        line.push_str(&format!("  ({d})"));
    }
    if let Some(c) = &p.canary {
        line.push_str(&format!("  {}", c.line()));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redrive::Mode;

    #[test]
    fn progress_line_shows_bar_counts_rate_and_eta() {
        let mut p = Progress::new(Mode::ClientSide, Some(50.0));
        p.state = RunState::Running;
        p.moved = 500;
        p.total = Some(1000);
        p.rate = 48.94;
        p.elapsed = Duration::from_secs(10);
        p.eta = Some(Duration::from_secs(75));
        p.concurrency = Some(96);
        let line = progress_line(&p, BAR);
        assert!(line.contains("48.9/50 msg/s  concurrency 96"), "{line}");
        for cols in [40, 80, 120] {
            let fit = fit_progress_line(&p, cols);
            assert!(fit.chars().count() < cols, "{cols}: {fit}");
        }
        assert_eq!(fit_progress_line(&p, 200), line);
        assert!(fit_progress_line(&p, 80).contains("concurrency 96"));
        assert!(line.starts_with("running"), "{line}");
        assert!(line.contains(&format!("[{}{}]", "█".repeat(12), "░".repeat(12))));
        assert!(line.contains("500/1000 moved"), "{line}");
        assert!(line.contains("48.9/50 msg/s"), "{line}");
        assert!(line.contains("ETA 1:15"), "{line}");
        assert_eq!(clock(Duration::from_secs(3725)), "1:02:05");
    }
}
