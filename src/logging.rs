//! Logs on stderr only (stdout is the protocol), every line through the sanitizer; panics
//! included.

use std::any::Any;
use std::io::Write;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::config::LogFormat;
use crate::sanitize::{ErrorId, sanitize};

/// Installs the global subscriber: `RUST_LOG` filters (default `info` for this crate, `warn` elsewhere).
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new("warn,newrelic_mcp=info,newrelic_mcp_actors=info,newrelic_mcp_sandbox=info")
    });
    let builder =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(SanitizedStderr).with_ansi(false);
    // A second init (tests, embedding) keeps the first subscriber.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// Replaces the default panic output (several lines with a source location and, under
/// `RUST_BACKTRACE`, a backtrace full of build paths) with one sanitized line that carries an
/// error id. Only the printing changes: a panicking actor is still caught and restarted by its
/// supervisor.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let error_id = ErrorId::new();
        let line = panic_line(&error_id, panic_message(info.payload()));
        if tracing::dispatcher::has_been_set() {
            tracing::error!(error_id = %error_id, "{line}");
        } else {
            let _ = writeln!(std::io::stderr(), "newrelic-mcp: {}", sanitize(&line));
        }
    }));
}

/// The text a panic was raised with, when it is text.
fn panic_message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("no message")
}

/// One line about a panic: the error id to find it by, and its message on a single line.
fn panic_line(error_id: &ErrorId, message: &str) -> String {
    let message: String =
        message.chars().map(|character| if character.is_control() { ' ' } else { character }).collect();
    format!("internal error {error_id}: a component panicked: {}", message.trim())
}

/// Hands out one buffer per log event and sanitizes it whole before it reaches stderr.
#[derive(Clone, Copy)]
struct SanitizedStderr;

struct LineBuffer(Vec<u8>);

impl<'a> MakeWriter<'a> for SanitizedStderr {
    type Writer = LineBuffer;

    fn make_writer(&'a self) -> Self::Writer {
        LineBuffer(Vec::with_capacity(256))
    }
}

impl Write for LineBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LineBuffer {
    fn drop(&mut self) {
        if self.0.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(&self.0);
        let clean = sanitize(&text);
        let _ = std::io::stderr().lock().write_all(clean.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_panic_becomes_one_line_with_its_error_id_and_message() {
        let id = ErrorId::new();
        let cases: [(Box<dyn Any + Send>, &str); 3] = [
            (Box::new("boom"), "boom"),
            (Box::new(String::from("two\nlines\tand a tab")), "two lines and a tab"),
            (Box::new(42u8), "no message"),
        ];
        for (payload, expected) in cases {
            let line = panic_line(&id, panic_message(payload.as_ref()));
            assert_eq!(line, format!("internal error {id}: a component panicked: {expected}"));
            assert!(!line.contains('\n'));
        }
    }
}
