//! TODO(in progress this session): synthetic demo sample generator.
