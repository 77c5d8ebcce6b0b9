//! The process's exit statuses, in one place: scripts, cron jobs and CI steps depend
//! on them, so every command takes its status from here.

use std::process::ExitCode;

/// How a run of `lazysqs` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Done. For `check`: every queue and breaker is healthy.
    Ok,
    /// `check` found a threshold breached.
    Breached,
    /// The command could not do its job: a bad config or command line, no
    /// credentials, the endpoint down, or (for `check`) part of the poll failed so
    /// health could not be confirmed.
    CouldNotRun,
}

impl Exit {
    /// The numeric status: 0, 1 or 2.
    pub const fn code(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::Breached => 1,
            Exit::CouldNotRun => 2,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable() {
        assert_eq!(Exit::Ok.code(), 0);
        assert_eq!(Exit::Breached.code(), 1);
        assert_eq!(Exit::CouldNotRun.code(), 2);
    }
}
