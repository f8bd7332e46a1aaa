//! Logs on stderr only (stdout is the protocol), every line through the sanitizer.

use std::io::Write;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::config::LogFormat;
use crate::sanitize::sanitize;

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
