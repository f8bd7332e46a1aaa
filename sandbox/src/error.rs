//! Errors of starting and running a sandbox.

/// Why the sandbox could not start or stopped serving.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The loopback listener could not be bound.
    #[error("cannot bind the sandbox listener on {address}: {source}")]
    Bind {
        /// The address that was requested.
        address: String,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The listener's local address could not be read.
    #[error("cannot read the sandbox listener's address: {0}")]
    LocalAddr(std::io::Error),
    /// The embedded NerdGraph schema subset failed to parse or validate.
    #[error("the sandbox's NerdGraph schema is invalid: {0}")]
    Schema(String),
    /// The HTTP server failed while serving.
    #[error("the sandbox HTTP server failed: {0}")]
    Serve(std::io::Error),
}
