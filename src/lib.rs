//! lazysqs: a terminal dashboard for Amazon SQS queue health and dead-letter-queue
//! recovery. The binary is a thin front end over this library, so tests and
//! benchmarks can drive every part without a terminal.

pub mod app;
pub mod breaker;
pub mod broker;
pub mod check;
pub mod cli;
pub mod commands;
pub mod config;
pub mod connect;
pub mod exit;
pub mod files;
pub mod format;
pub mod health;
pub mod json_text;
pub mod keymap;
pub mod layout;
pub mod poll;
pub mod recovery;
pub mod redact;
pub mod redrive;
pub mod runtime;
pub mod sim;
pub mod snapshot;
mod sync;
pub mod triage;
pub mod ui;
