//! Sanitizer (being written).
