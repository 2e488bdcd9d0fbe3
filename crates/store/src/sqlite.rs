//! TODO(in progress this session): SQLite implementation.
