//! Logging set-up: readable lines in development, JSON in production, to stderr
//! so command output on stdout stays clean.

use crate::config::{Config, LogFormat};

/// Installs the global subscriber. Safe to call once per process.
pub fn init(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log_level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match config.log_format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
