//! The `newrelic-mcp` binary: see the `cli` module.

fn main() -> std::process::ExitCode {
    newrelic_mcp::cli::main()
}
