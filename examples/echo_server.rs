//! A bare rmcp stdio server with one `echo` tool: the baseline newrelic-mcp's stdio
//! throughput is compared against.
//!
//! Built the ordinary rmcp way (`#[tool_router]`, `#[tool]`, `#[tool_handler]`) and served
//! over `stdio_pipes()`, as newrelic-mcp is. The router is built once and kept in a field,
//! so the baseline does not pay for rebuilding it on every call.
//!
//! ```sh
//! cargo build --release --example echo_server
//! target/release/examples/echo_server   # then speak MCP on its stdin/stdout
//! ```

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{ServerCapabilities, ServerConfig};
use rmcp::{ServerHandler, ServiceExt, tool, tool_handler, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;

#[derive(Debug, Deserialize, JsonSchema)]
struct EchoArgs {
    /// The text to send back.
    text: String,
}

#[derive(Clone)]
struct EchoServer {
    tool_router: ToolRouter<Self>,
}

impl EchoServer {
    fn new() -> Self {
        Self { tool_router: Self::tool_router() }
    }
}

#[tool_router]
impl EchoServer {
    #[tool(description = "Returns its text unchanged.")]
    fn echo(&self, Parameters(EchoArgs { text }): Parameters<EchoArgs>) -> String {
        text
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for EchoServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let service = EchoServer::new().serve(rmcp::transport::io::stdio_pipes()).await?;
    service.waiting().await?;
    Ok(())
}
