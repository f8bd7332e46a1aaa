//! The MCP front: the only module that sees rmcp types.
//!
//! It holds a [`RuntimeHandle`] and nothing else of the runtime: `tools/list` comes from the
//! front door's current tool table, `tools/call` becomes a [`ToolCall`] whose cancellation
//! token is rmcp's own (so `notifications/cancelled` cancels the upstream HTTP call).
//! Failures are split the way MCP intends: a failed tool is a result with `isError: true`
//! that the model reads; an unknown tool or arguments that do not fit the schema are
//! JSON-RPC errors (invalid params). Every text that leaves passes the sanitizer.
//!
//! Tools are declared as data (documented argument structs whose doc comments become the
//! input schema) rather than with rmcp's `#[tool]` macro, because the tool list is a
//! snapshot the plugin registry can change at run time.
//!
//! Resources (an NRQL reference, event types, attributes, entities) and prompts (guided
//! investigations) live in `resources` and `prompts`; resource reads run through the
//! runtime like tool calls. An NRQL answer that finds nothing because a name is wrong gains
//! a hint from `name_hints`.

use std::sync::Arc;
use std::time::Duration;

use newrelic_mcp_actors::call::{CallError, CallResult, ToolCall};
use newrelic_mcp_actors::runtime::RuntimeHandle;
use newrelic_mcp_actors::tool::{ToolDescriptor, ToolError, ToolErrorKind, ToolOutput};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ErrorData, GetPromptRequestParams,
    GetPromptResponse, Implementation, InitializeResult, ListPromptsResult, ListResourceTemplatesResult,
    ListResourcesResult, ListToolsResult, PaginatedRequestParams, ProgressNotificationParam, ProgressToken,
    ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult, ServerCapabilities, ServerConfig,
    Tool, ToolAnnotations,
};
use rmcp::service::{RequestContext, ServerInitializeError};
use rmcp::{Peer, RoleServer, ServerHandler, ServiceExt};
use serde_json::{Map, Value, json};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::sync::CancellationToken;

use crate::sanitize::{new_error_id, sanitize, sanitize_output};

mod lookups;
mod name_hints;
mod prompts;
mod resources;
mod transport;

pub use transport::LineTransport;

/// When a call without an answer yet starts sending progress, and how often.
const PROGRESS_INTERVAL: Duration = Duration::from_secs(1);

const INSTRUCTIONS: &str = "Query and inspect New Relic: run NRQL with execute_nrql_query, find entities with \
get_entity or search_entity_with_tag, list accounts, alert policies and recent issues. Pass account_id to \
choose an account; convert_time_period_to_epoch_ms turns phrases like 'last 30 minutes' into epoch ms. You write \
the NRQL: newrelic://reference/nrql explains it, newrelic://accounts/{id}/event-types and \
newrelic://accounts/{id}/event-types/{type}/attributes list the names an account holds, and the prompts \
incident_triage, service_health_check and deployment_review walk through common investigations.";

/// The rmcp handler: one per connected client, all sharing one runtime.
#[derive(Clone)]
pub struct McpFront {
    runtime: RuntimeHandle,
}

impl McpFront {
    pub fn new(runtime: RuntimeHandle) -> Self {
        Self { runtime }
    }

    /// Serves one client over `reader`/`writer` until it disconnects (its input ends or its end
    /// of our output closes; calls still running are then cancelled); tells it when the tool
    /// list changes.
    pub async fn serve<R, W>(self, reader: R, writer: W) -> Result<(), ServeError>
    where
        R: AsyncRead + Send + Unpin + 'static,
        W: AsyncWrite + Send + Unpin + 'static,
    {
        let changes = self.runtime.subscribe_tool_changes();
        // The transport cancels this when the client goes; rmcp cancels every call in flight with it.
        let client_gone = CancellationToken::new();
        let transport = LineTransport::new(reader, writer, client_gone.clone());
        let service = self.serve_with_ct(transport, client_gone.clone()).await;
        let service = match service {
            Ok(service) => service,
            // A client that leaves before starting a session (after `server/discover`, say) is no failure.
            Err(ServerInitializeError::ConnectionClosed(_)) => return Ok(()),
            Err(ServerInitializeError::Cancelled) if client_gone.is_cancelled() => return Ok(()),
            Err(error) => return Err(ServeError::Handshake(sanitize(&error.to_string()).into_owned())),
        };
        let notifier = tokio::spawn(forward_tool_changes(changes, service.peer().clone()));
        let outcome = service.waiting().await;
        notifier.abort();
        outcome.map(|_| ()).map_err(|error| ServeError::Transport(error.to_string()))
    }
}

/// This process's standard input and output, as non-blocking pipes where they are pipes
/// (about twice the throughput of plain stdio).
pub fn stdio_transport() -> (impl AsyncRead + Send + Unpin + 'static, impl AsyncWrite + Send + Unpin + 'static)
{
    rmcp::transport::io::stdio_pipes()
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("the MCP handshake failed: {0}")]
    Handshake(String),
    #[error("the MCP session ended abnormally: {0}")]
    Transport(String),
}

async fn forward_tool_changes(mut changes: tokio::sync::broadcast::Receiver<u64>, peer: Peer<RoleServer>) {
    loop {
        match changes.recv().await {
            Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                if peer.notify_tool_list_changed().await.is_err() {
                    return;
                }
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// The rmcp view of a tool descriptor.
pub fn to_mcp_tool(descriptor: &ToolDescriptor) -> Tool {
    let hints = descriptor.hints;
    let annotations = ToolAnnotations::from_raw(
        Some(descriptor.title.clone()),
        Some(hints.read_only),
        Some(hints.destructive),
        Some(hints.idempotent),
        Some(hints.open_world),
    );
    let mut tool =
        Tool::new(descriptor.name.clone(), descriptor.description.clone(), descriptor.input_schema.clone())
            .with_title(descriptor.title.clone())
            .with_annotations(annotations);
    if let Some(schema) = &descriptor.output_schema {
        tool = tool.with_raw_output_schema(schema.clone());
    }
    tool
}

fn success(output: Arc<ToolOutput>) -> CallToolResult {
    let clean = sanitize_output(&output);
    drop(output);
    // An answer nobody else holds (not cached) is moved into the result rather than copied.
    let ToolOutput { structured, text } = Arc::unwrap_or_clone(clean);
    let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
    result.structured_content = Some(structured);
    result
}

/// A failed tool as the model sees it: the message first, details as structured content.
pub fn tool_failure(error: &ToolError) -> CallToolResult {
    let message = sanitize(&error.message).into_owned();
    let mut text = message.clone();
    // Most messages already say when to retry; the hint is for those that do not.
    if let Some(retry_after) = error.retry_after
        && !message.contains("retry")
    {
        text.push_str(&format!(" (retry in {} s)", retry_after.as_secs().max(1)));
    }
    if let Some(id) = &error.error_id {
        text.push_str(&format!(" [error id {id}]"));
    }
    let mut result = CallToolResult::error(vec![ContentBlock::text(text)]);
    result.structured_content = Some(json!({
        "error": {
            "kind": format!("{:?}", error.kind),
            "message": message,
            "retriable": error.kind.is_retriable(),
            "retry_after_seconds": error.retry_after.map(|d| d.as_secs_f64()),
            "error_id": error.error_id,
        }
    }));
    result
}

/// Protocol errors for calls that never reached a tool.
fn protocol_error(error: CallError) -> Result<CallToolResponse, ErrorData> {
    match error {
        CallError::UnknownTool { name, known } => Err(ErrorData::invalid_params(
            format!("unknown tool '{}'; tools/list shows the available ones", sanitize(&name)),
            Some(json!({ "available_tools": known })),
        )),
        CallError::InvalidArguments { tool, reason } => Err(ErrorData::invalid_params(
            format!("invalid arguments for '{tool}': {}", sanitize(&reason)),
            None,
        )),
        CallError::Tool(error) => Ok(tool_failure(&with_error_id(error)).into()),
    }
}

/// Internal failures get an error id that also stands in a log line, so a user's report
/// can be matched with the server's log.
fn with_error_id(mut error: ToolError) -> ToolError {
    if matches!(error.kind, ToolErrorKind::Internal | ToolErrorKind::Restarted) && error.error_id.is_none() {
        let id = new_error_id();
        tracing::error!(error_id = %id, kind = ?error.kind, "{}", error.message);
        error.error_id = Some(id);
    }
    error
}

/// Sends `notifications/progress` every second until `done` is cancelled.
async fn report_progress(
    peer: Peer<RoleServer>,
    token: ProgressToken,
    tool: String,
    done: CancellationToken,
) {
    let mut ticks =
        tokio::time::interval_at(tokio::time::Instant::now() + PROGRESS_INTERVAL, PROGRESS_INTERVAL);
    let mut elapsed = 0u64;
    loop {
        tokio::select! {
            _ = done.cancelled() => return,
            _ = ticks.tick() => {
                elapsed += PROGRESS_INTERVAL.as_secs();
                let note = ProgressNotificationParam::new(token.clone(), elapsed as f64)
                    .with_message(format!("{tool}: waiting for New Relic ({elapsed} s)"));
                if peer.notify_progress(note).await.is_err() {
                    return;
                }
            }
        }
    }
}

impl McpFront {
    /// An NRQL answer that looks like a misspelt name (nothing found, or an error about an
    /// unknown name) gains a hint naming the unknown names and the valid ones.
    /// The query is parsed for names only when the answer calls for a hint, so answers that
    /// found something (the common case, and every cache hit) cost nothing here.
    async fn with_name_hint(
        &self,
        outcome: CallResult,
        tool: &str,
        arguments: &Map<String, Value>,
        cancel: &CancellationToken,
    ) -> CallResult {
        match outcome {
            Ok(output) if name_hints::looks_empty(&output.structured) => {
                let Some(names) = name_hints::names_to_check(tool, arguments) else { return Ok(output) };
                let Some(hint) = name_hints::hint(&self.runtime, &names, cancel).await else {
                    return Ok(output);
                };
                let mut hinted = ToolOutput::clone(&output);
                hinted.text.push_str(&format!("{hint}\n"));
                if let Value::Object(fields) = &mut hinted.structured {
                    fields.insert("name_hint".into(), Value::String(hint));
                }
                Ok(Arc::new(hinted))
            }
            Err(CallError::Tool(mut error))
                if error.kind == ToolErrorKind::BadRequest && name_hints::blames_a_name(&error.message) =>
            {
                if let Some(names) = name_hints::names_to_check(tool, arguments)
                    && let Some(hint) = name_hints::hint(&self.runtime, &names, cancel).await
                {
                    error.message.push_str(&format!(". {hint}"));
                }
                Err(CallError::Tool(error))
            }
            other => other,
        }
    }
}

impl ServerHandler for McpFront {
    fn get_info(&self) -> ServerConfig {
        let capabilities = ServerCapabilities::builder()
            .enable_prompts()
            .enable_resources()
            .enable_tools()
            .enable_tool_list_changed()
            .build();
        let mut info = InitializeResult::new(capabilities);
        let mut implementation = Implementation::from_build_env();
        implementation.name = "newrelic-mcp".to_string();
        implementation.version = env!("CARGO_PKG_VERSION").to_string();
        implementation.title = Some("New Relic MCP server".to_string());
        info.server_info = implementation;
        info.instructions = Some(INSTRUCTIONS.to_string());
        info
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let table = self.runtime.tools().await;
        Ok(ListToolsResult::with_all_items(table.iter().map(|tool| to_mcp_tool(tool.descriptor())).collect()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let mut call = ToolCall::new(request.name.to_string(), request.arguments.unwrap_or_default());
        call.cancel = context.ct.clone();
        let hint_source =
            name_hints::may_hint(&call.tool).then(|| (call.tool.clone(), call.arguments.clone()));
        // Progress reports stop when this call ends, however it ends (the guard cancels on drop).
        let _progress = context.meta.get_progress_token().map(|token| {
            let done = CancellationToken::new();
            tokio::spawn(report_progress(context.peer.clone(), token, call.tool.clone(), done.clone()));
            done.drop_guard()
        });
        let mut outcome = self.runtime.call(call).await;
        if let Some((tool, arguments)) = hint_source {
            outcome = self.with_name_hint(outcome, &tool, &arguments, &context.ct).await;
        }
        match outcome {
            Ok(output) => Ok(success(output).into()),
            Err(error) => protocol_error(error),
        }
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        Ok(ListResourcesResult::with_all_items(resources::list(&self.runtime, &context.ct).await))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        Ok(ListResourceTemplatesResult::with_all_items(resources::templates()))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let contents = resources::read(&self.runtime, &request.uri, &context.ct).await?;
        Ok(ReadResourceResult::new(contents).into())
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        Ok(ListPromptsResult::with_all_items(prompts::list()))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        prompts::get(&request.name, request.arguments.as_ref(), now_epoch_ms())
            .map(Into::into)
            .map_err(|error| ErrorData::invalid_params(sanitize(&error.to_string()).into_owned(), None))
    }
}

fn now_epoch_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_tool_failure_says_what_to_do_and_hides_secrets() {
        let mut error = ToolError::new(
            ToolErrorKind::Unavailable,
            "New Relic is unreachable; retrying in 10 s (key NRAK-ABCDEFGHIJKLMNOPQRSTUVWXYZ1)",
        );
        error.retry_after = Some(Duration::from_secs(10));
        let result = tool_failure(&error);
        assert_eq!(result.is_error, Some(true));
        let text = serde_json::to_string(&result).unwrap();
        assert!(!text.contains("NRAK-ABCDEFGHIJKLMNOPQRSTUVWXYZ1"), "{text}");
        assert!(text.contains("retrying in 10 s"));
        let structured = result.structured_content.unwrap();
        assert_eq!(structured["error"]["retriable"], true);
        assert_eq!(structured["error"]["kind"], "Unavailable");
    }

    #[test]
    fn internal_failures_carry_an_error_id() {
        let restarted = with_error_id(ToolError::new(ToolErrorKind::Restarted, "a component restarted"));
        let id = restarted.error_id.clone().unwrap();
        assert!(tool_failure(&restarted).content[0].as_text().unwrap().text.contains(&id));
        assert!(with_error_id(ToolError::new(ToolErrorKind::BadRequest, "bad NRQL")).error_id.is_none());
    }

    #[test]
    fn unknown_tools_and_bad_arguments_are_invalid_params() {
        for error in [
            CallError::UnknownTool { name: "nope".into(), known: vec!["get_entity".into()] },
            CallError::InvalidArguments { tool: "get_entity".into(), reason: "missing field".into() },
        ] {
            let Err(rpc) = protocol_error(error) else { unreachable!("a protocol error was expected") };
            assert_eq!(rpc.code, rmcp::model::ErrorCode::INVALID_PARAMS);
        }
    }
}
