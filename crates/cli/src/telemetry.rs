//! Logging set-up: readable lines in development, JSON in production, to stderr
//! so command output on stdout stays clean. Colour only when stderr is a
//! terminal (and `NO_COLOR` is unset): a log file or a pipe gets plain text.

use std::io::IsTerminal;

use crate::config::{Config, LogFormat};

/// Whether log lines may carry ANSI colour codes.
pub fn colour() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Installs the global subscriber. Safe to call once per process.
pub fn init(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log_level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(colour());
    let _ = match config.log_format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
