//! See the module's doc in `tests/adversarial.rs`.
