//! Line-delimited JSON-RPC over any reader and writer: every bad line answered, every
//! connection bounded.
//!
//! Framing. rmcp's own stdio transport silently drops a line that is not JSON (to avoid
//! error storms with peers that echo garbage). A user who pipes a typo deserves to hear about
//! it, so this transport answers such a line with a JSON-RPC parse error (-32700), a request
//! of the wrong shape with an invalid-request error (-32600) carrying its id when it has one,
//! a known method whose params do not fit (a `tools/call` without `name`, or with `arguments`
//! that are not an object) with invalid params (-32602), and a line over [`MAX_LINE_BYTES`]
//! with an invalid-request error carrying the id found by scanning the line as it streams
//! past (`id_scan`; the line itself is not kept). A malformed notification is dropped,
//! since JSON-RPC never answers notifications. Nothing is lost: the next line is read as
//! usual. Two requests may not share an id while the first is unanswered, and `initialize`
//! is accepted once per connection: later ones are refused and the version agreed stays.
//!
//! Bounds. Every request read holds one of [`MAX_CALLS_IN_FLIGHT`] slots until its answer
//! has been written to the client (not merely queued); before reading a line the transport
//! takes a slot, so at the cap it stops reading input altogether (pings and cancellations
//! included: a client at the cap that does not read our output gets nothing read from it,
//! and one that does read frees slots as answers reach it). A slot is given back early when
//! the client cancels a call, since rmcp then drops that call's answer. Queued output is
//! bounded in bytes ([`MAX_QUEUED_BYTES`]) as well as in messages, and is drained by one
//! writer task independent of reading, so answers still flow while reading is paused. Memory
//! per connection is therefore bounded by the slots, the queue and the line limit, however
//! many requests a client pipes without reading.
//!
//! A client that goes. When a write fails (the client closed its end of our output) or the
//! input ends (MCP stdio clients close it to shut down), the connection's cancellation
//! token fires: rmcp cancels every call still running (so their upstream requests stop) and
//! the session ends. Answers already computed are still flushed for a client that reads
//! them, for at most [`CLOSE_FLUSH_LIMIT`].
//!
//! Writes go through one writer task fed by a channel, which batches whatever is queued
//! into a single write, so concurrent responses never interleave and need no lock.

mod id_scan;

use std::collections::HashMap;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use rmcp::RoleServer;
use rmcp::model::{
    CallToolRequest, CallToolRequestMethod, ClientNotification, ClientRequest, CompleteRequest,
    CompleteRequestMethod, ConstString, CustomRequest, ErrorCode, ErrorData, GetPromptRequest,
    GetPromptRequestMethod, InitializeRequest, InitializeResultMethod, JsonRpcMessage, ListPromptsRequest,
    ListPromptsRequestMethod, ListResourceTemplatesRequest, ListResourceTemplatesRequestMethod,
    ListResourcesRequest, ListResourcesRequestMethod, ListToolsRequest, ListToolsRequestMethod,
    ReadResourceRequest, ReadResourceRequestMethod, RequestId, ServerResult,
};
use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use self::id_scan::IdScanner;

/// Longest accepted line; longer ones are refused whole and skipped.
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;
/// Requests read and not yet answered on the wire, per connection; at this many, reading
/// pauses until an answer has been written.
pub const MAX_CALLS_IN_FLIGHT: usize = 128;
/// Bytes of encoded output waiting for the writer; a sender waits for room beyond this
/// (a single larger message takes the whole room and goes alone).
pub const MAX_QUEUED_BYTES: usize = 8 * 1024 * 1024;
/// Encoded messages waiting for the writer before `send` waits.
const OUTGOING_CAPACITY: usize = 1024;
/// Most bytes the writer joins into one write.
const MAX_BATCH_BYTES: usize = 1024 * 1024;
/// How long closing waits for queued output to reach a client that has stopped reading.
pub const CLOSE_FLUSH_LIMIT: Duration = Duration::from_secs(2);
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// One encoded message on its way to the client, with what it holds until it is written.
struct Outgoing {
    line: Vec<u8>,
    held: Held,
}

/// Released once the message is written: its room in the queue, and the slot of the call
/// it answers.
struct Held {
    _room: OwnedSemaphorePermit,
    _slot: Option<OwnedSemaphorePermit>,
}

/// An answer of the transport's own waiting for room in the output queue.
struct Reply {
    line: Vec<u8>,
    slot: Option<OwnedSemaphorePermit>,
}

/// Where the connection stands with `initialize`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Handshake {
    NotYet,
    Requested,
    Agreed(String),
}

pub struct LineTransport<R> {
    reader: BufReader<R>,
    line: Vec<u8>,
    /// Set while skipping the rest of an over-long line, looking for its id.
    oversized: Option<IdScanner>,
    outgoing: Option<mpsc::Sender<Outgoing>>,
    writer: Option<JoinHandle<()>>,
    /// Room in the output queue, in bytes.
    room: Arc<Semaphore>,
    /// One permit per call in flight.
    slots: Arc<Semaphore>,
    /// The slot for the next line, taken before reading it.
    next_slot: Option<OwnedSemaphorePermit>,
    /// Requests handed to rmcp and not yet answered, each with its slot.
    unanswered: HashMap<RequestId, OwnedSemaphorePermit>,
    pending_reply: Option<Reply>,
    handshake: Handshake,
    /// Fires when the client is gone: its input ended or its end of our output closed.
    client_gone: CancellationToken,
}

impl<R: AsyncRead + Send + Unpin> LineTransport<R> {
    /// `client_gone` is cancelled when the client leaves; pass the same token to rmcp so
    /// that its calls in flight are cancelled with it.
    pub fn new<W: AsyncWrite + Send + Unpin + 'static>(
        reader: R,
        writer: W,
        client_gone: CancellationToken,
    ) -> Self {
        let (outgoing, queued) = mpsc::channel(OUTGOING_CAPACITY);
        let room = Arc::new(Semaphore::new(MAX_QUEUED_BYTES));
        Self {
            reader: BufReader::with_capacity(64 * 1024, reader),
            line: Vec::with_capacity(4096),
            oversized: None,
            outgoing: Some(outgoing),
            writer: Some(tokio::spawn(write_lines(writer, queued, room.clone(), client_gone.clone()))),
            room,
            slots: Arc::new(Semaphore::new(MAX_CALLS_IN_FLIGHT)),
            next_slot: None,
            unanswered: HashMap::new(),
            pending_reply: None,
            handshake: Handshake::NotYet,
            client_gone,
        }
    }

    /// Reads up to the next newline into `self.line`. Cancel-safe: partial reads stay in `self`.
    /// Returns false at end of input with nothing pending.
    async fn read_line(&mut self) -> io::Result<bool> {
        loop {
            let available = self.reader.fill_buf().await?;
            if available.is_empty() {
                return Ok(!self.line.is_empty() || self.oversized.is_some());
            }
            let (chunk, found_newline) = match available.iter().position(|byte| *byte == b'\n') {
                Some(at) => (&available[..at], true),
                None => (available, false),
            };
            let consumed = chunk.len() + usize::from(found_newline);
            match &mut self.oversized {
                Some(scanner) => {
                    if !scanner.is_done() {
                        scanner.feed(chunk);
                    }
                }
                None => {
                    self.line.extend_from_slice(chunk);
                    if self.line.len() > MAX_LINE_BYTES {
                        let mut scanner = IdScanner::new();
                        scanner.feed(self.line.strip_prefix(UTF8_BOM).unwrap_or(&self.line));
                        self.oversized = Some(scanner);
                        self.line = Vec::with_capacity(4096);
                    }
                }
            }
            self.reader.consume(consumed);
            if found_newline {
                return Ok(true);
            }
        }
    }

    /// Queues the transport's own answer once there is room. Cancel-safe: the answer stays
    /// in `self` until it is queued. False when the client is gone.
    async fn flush_reply(&mut self) -> bool {
        let Some(length) = self.pending_reply.as_ref().map(|reply| reply.line.len()) else { return true };
        let Some(outgoing) = self.outgoing.clone() else { return false };
        let Ok(room) = self.room.clone().acquire_many_owned(room_for(length)).await else { return false };
        let Ok(place) = outgoing.reserve_owned().await else { return false };
        if let Some(Reply { line, slot }) = self.pending_reply.take() {
            place.send(Outgoing { line, held: Held { _room: room, _slot: slot } });
        }
        true
    }

    /// Sets an answer of the transport's own to go out; it takes the slot of the line read.
    fn answer(&mut self, message: &TxJsonRpcMessage<RoleServer>) {
        match encode(message) {
            Ok(line) => self.pending_reply = Some(Reply { line, slot: self.next_slot.take() }),
            Err(error) => tracing::warn!("an error answer could not be encoded: {error}"),
        }
    }

    /// The next message for rmcp, answering or skipping what it should not see.
    async fn next_message(&mut self) -> Option<RxJsonRpcMessage<RoleServer>> {
        loop {
            if !self.flush_reply().await {
                return None;
            }
            if self.next_slot.is_none() {
                self.next_slot = Some(self.slots.clone().acquire_owned().await.ok()?);
            }
            match self.read_line().await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::debug!("the client's input ended; cancelling its calls in flight");
                    self.client_gone.cancel();
                    return None;
                }
                Err(error) => {
                    tracing::warn!("reading the client's messages failed: {error}");
                    self.client_gone.cancel();
                    return None;
                }
            }
            if let Some(scanner) = self.oversized.take() {
                let error = ErrorData::new(
                    ErrorCode::INVALID_REQUEST,
                    format!("message larger than {} MiB refused", MAX_LINE_BYTES / (1024 * 1024)),
                    None,
                );
                self.answer(&TxJsonRpcMessage::<RoleServer>::error(error, scanner.into_id()));
                continue;
            }
            let decoded = decode(&self.line);
            self.line.clear();
            match decoded {
                Decoded::Message(message) => {
                    if let Some(message) = self.admit(*message) {
                        return Some(message);
                    }
                }
                Decoded::Skip => {}
                Decoded::Reply(error) => self.answer(&error),
            }
        }
    }

    /// Hands a well-formed message on, keeping count of the requests it owes answers to;
    /// refuses a request that reuses an unanswered id or initializes a second time.
    fn admit(&mut self, message: RxJsonRpcMessage<RoleServer>) -> Option<RxJsonRpcMessage<RoleServer>> {
        match &message {
            JsonRpcMessage::Request(request) => {
                let refusal = if self.unanswered.contains_key(&request.id) {
                    Some(format!(
                        "invalid request: id {} is still in use by an unanswered request; use a new id",
                        request.id
                    ))
                } else if matches!(request.request, ClientRequest::InitializeRequest(_)) {
                    second_initialize(&self.handshake)
                } else {
                    None
                };
                if let Some(reason) = refusal {
                    let error = ErrorData::new(ErrorCode::INVALID_REQUEST, reason, None);
                    self.answer(&TxJsonRpcMessage::<RoleServer>::error(error, Some(request.id.clone())));
                    return None;
                }
                if matches!(request.request, ClientRequest::InitializeRequest(_)) {
                    self.handshake = Handshake::Requested;
                }
                if let Some(slot) = self.next_slot.take() {
                    self.unanswered.insert(request.id.clone(), slot);
                }
            }
            JsonRpcMessage::Notification(notification) => {
                // rmcp drops the answer of a call the client cancelled, so its slot is free now.
                if let ClientNotification::CancelledNotification(cancelled) = &notification.notification
                    && let Some(id) = &cancelled.params.request_id
                {
                    self.unanswered.remove(id);
                }
            }
            JsonRpcMessage::Response(_) | JsonRpcMessage::Error(_) => {}
        }
        Some(message)
    }
}

/// Why an `initialize` is refused, given where the handshake stands; `None` for the first.
fn second_initialize(handshake: &Handshake) -> Option<String> {
    match handshake {
        Handshake::NotYet => None,
        Handshake::Requested => Some(
            "invalid request: this connection is already being initialized; initialize is sent once per connection"
                .to_string(),
        ),
        Handshake::Agreed(version) => Some(format!(
            "invalid request: this connection is already initialized at protocol version {version}; \
             initialize is sent once per connection, and the version stays"
        )),
    }
}

/// Semaphore permits for a message of `length` bytes: at most the whole room, so one
/// larger message still goes (alone).
fn room_for(length: usize) -> u32 {
    u32::try_from(length.clamp(1, MAX_QUEUED_BYTES)).unwrap_or(u32::MAX)
}

/// What one input line amounts to.
#[derive(Debug)]
enum Decoded {
    Message(Box<RxJsonRpcMessage<RoleServer>>),
    Reply(Box<TxJsonRpcMessage<RoleServer>>),
    Skip,
}

fn decode(line: &[u8]) -> Decoded {
    let line = line.strip_prefix(UTF8_BOM).unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.iter().all(u8::is_ascii_whitespace) {
        return Decoded::Skip;
    }
    let error = match serde_json::from_slice::<RxJsonRpcMessage<RoleServer>>(line) {
        Ok(JsonRpcMessage::Request(request)) => {
            if let ClientRequest::CustomRequest(custom) = &request.request
                && let Some(reason) = params_rejection(custom)
            {
                return Decoded::Reply(Box::new(TxJsonRpcMessage::<RoleServer>::error(
                    ErrorData::invalid_params(reason, None),
                    Some(request.id),
                )));
            }
            return Decoded::Message(Box::new(JsonRpcMessage::Request(request)));
        }
        Ok(message) => return Decoded::Message(Box::new(message)),
        Err(error) => error,
    };
    if matches!(error.classify(), serde_json::error::Category::Syntax | serde_json::error::Category::Eof) {
        let message = format!("parse error: the line is not JSON ({error})");
        return Decoded::Reply(Box::new(TxJsonRpcMessage::<RoleServer>::error(
            ErrorData::new(ErrorCode::PARSE_ERROR, message, None),
            None,
        )));
    }
    let value: Value = serde_json::from_slice(line).unwrap_or(Value::Null);
    let id = value.get("id").cloned().and_then(|id| serde_json::from_value::<RequestId>(id).ok());
    let is_notification = value.get("method").is_some() && value.get("id").is_none();
    if is_notification {
        tracing::debug!("dropping a malformed notification: {error}");
        return Decoded::Skip;
    }
    let reason = if value.is_array() {
        "batches are not supported; send one message per line".to_string()
    } else {
        format!("invalid request: not a JSON-RPC 2.0 message MCP understands ({error})")
    };
    Decoded::Reply(Box::new(TxJsonRpcMessage::<RoleServer>::error(
        ErrorData::new(ErrorCode::INVALID_REQUEST, reason, None),
        id,
    )))
}

/// Reads a request as one MCP type, returning why it does not fit.
type ParamsCheck = fn(Value) -> Option<serde_json::Error>;

fn misfit<T: DeserializeOwned>(request: Value) -> Option<serde_json::Error> {
    serde_json::from_value::<T>(request).err()
}

/// The MCP methods this server serves, each with the type its request must fit. rmcp reads
/// a request of a known method whose params do not fit as a custom request, which would be
/// answered "method not found".
const KNOWN_METHODS: &[(&str, ParamsCheck)] = &[
    (InitializeResultMethod::VALUE, misfit::<InitializeRequest>),
    (CallToolRequestMethod::VALUE, misfit::<CallToolRequest>),
    (ListToolsRequestMethod::VALUE, misfit::<ListToolsRequest>),
    (ReadResourceRequestMethod::VALUE, misfit::<ReadResourceRequest>),
    (ListResourcesRequestMethod::VALUE, misfit::<ListResourcesRequest>),
    (ListResourceTemplatesRequestMethod::VALUE, misfit::<ListResourceTemplatesRequest>),
    (GetPromptRequestMethod::VALUE, misfit::<GetPromptRequest>),
    (ListPromptsRequestMethod::VALUE, misfit::<ListPromptsRequest>),
    (CompleteRequestMethod::VALUE, misfit::<CompleteRequest>),
];

/// Why the params of a request of a known method do not fit; `None` for an unknown method
/// (which rmcp answers "method not found").
fn params_rejection(request: &CustomRequest) -> Option<String> {
    let method = request.method.as_str();
    let (_, check) = KNOWN_METHODS.iter().find(|(known, _)| *known == method)?;
    if method == CallToolRequestMethod::VALUE
        && let Some(reason) = tool_call_rejection(request.params.as_ref())
    {
        return Some(reason);
    }
    let error = check(json!({"method": method, "params": request.params}))?;
    Some(format!("invalid params for {method}: {error}"))
}

/// The usual ways a `tools/call` goes wrong, said plainly.
fn tool_call_rejection(params: Option<&Value>) -> Option<String> {
    let Some(Value::Object(params)) = params else {
        return Some(
            "invalid params for tools/call: params must be an object with `name` and `arguments`".into(),
        );
    };
    match params.get("name") {
        None => {
            return Some(
                "invalid params for tools/call: `name` is missing; give the tool to call (tools/list shows them)"
                    .into(),
            );
        }
        Some(Value::String(_)) => {}
        Some(other) => {
            return Some(format!(
                "invalid params for tools/call: `name` must be a string, not {}",
                json_kind(other)
            ));
        }
    }
    match params.get("arguments") {
        None | Some(Value::Object(_) | Value::Null) => None,
        Some(other) => Some(format!(
            "invalid params for tools/call: `arguments` must be an object of the tool's parameters by name, not {}",
            json_kind(other)
        )),
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Room for a typical response line up front, so serializing one rarely reallocates.
const TYPICAL_LINE_BYTES: usize = 1024;

fn encode(message: &TxJsonRpcMessage<RoleServer>) -> io::Result<Vec<u8>> {
    let mut line = Vec::with_capacity(TYPICAL_LINE_BYTES);
    serde_json::to_writer(&mut line, message).map_err(io::Error::other)?;
    line.push(b'\n');
    Ok(line)
}

/// Writes queued messages in batches, releasing what each holds once it is written. A
/// failed write means the client is gone: the room is closed (so senders fail at once
/// instead of waiting) and `client_gone` fires.
async fn write_lines<W: AsyncWrite + Unpin>(
    mut writer: W,
    mut queued: mpsc::Receiver<Outgoing>,
    room: Arc<Semaphore>,
    client_gone: CancellationToken,
) {
    let mut batch = Vec::with_capacity(64 * 1024);
    let mut held = Vec::new();
    while let Some(first) = queued.recv().await {
        batch.clear();
        batch.extend_from_slice(&first.line);
        held.push(first.held);
        while batch.len() < MAX_BATCH_BYTES {
            match queued.try_recv() {
                Ok(next) => {
                    batch.extend_from_slice(&next.line);
                    held.push(next.held);
                }
                Err(_) => break,
            }
        }
        if writer.write_all(&batch).await.is_err() || writer.flush().await.is_err() {
            tracing::debug!("the client closed its end of our output; ending the session");
            room.close();
            client_gone.cancel();
            return;
        }
        held.clear();
    }
    let _ = writer.shutdown().await;
}

impl<R: AsyncRead + Send + Unpin> Transport<RoleServer> for LineTransport<R> {
    type Error = io::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleServer>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let slot = match &item {
            JsonRpcMessage::Response(response) => {
                if let ServerResult::InitializeResult(result) = &response.result {
                    self.handshake = Handshake::Agreed(result.protocol_version.to_string());
                }
                self.unanswered.remove(&response.id)
            }
            JsonRpcMessage::Error(error) => error.id.as_ref().and_then(|id| self.unanswered.remove(id)),
            JsonRpcMessage::Request(_) | JsonRpcMessage::Notification(_) => None,
        };
        let outgoing = self.outgoing.clone();
        let room = self.room.clone();
        let encoded = encode(&item);
        async move {
            let line = encoded?;
            let closed = || io::Error::new(io::ErrorKind::BrokenPipe, "the client's input is closed");
            let outgoing = outgoing
                .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "the transport is closed"))?;
            let room = room.acquire_many_owned(room_for(line.len())).await.map_err(|_| closed())?;
            outgoing
                .send(Outgoing { line, held: Held { _room: room, _slot: slot } })
                .await
                .map_err(|_| closed())
        }
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleServer>> {
        let client_gone = self.client_gone.clone();
        tokio::select! {
            biased;
            _ = client_gone.cancelled() => None,
            message = self.next_message() => message,
        }
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        self.outgoing = None;
        self.pending_reply = None;
        if let Some(mut writer) = self.writer.take()
            && tokio::time::timeout(CLOSE_FLUSH_LIMIT, &mut writer).await.is_err()
        {
            tracing::debug!("the client did not take its last answers in time; dropping them");
            writer.abort();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use rmcp::model::{EmptyResult, InitializeResult, ServerCapabilities};
    use serde_json::json;
    use tokio::io::{AsyncBufReadExt, DuplexStream};

    use super::*;

    fn reply_of(line: &str) -> Value {
        match decode(line.as_bytes()) {
            Decoded::Reply(reply) => serde_json::to_value(&*reply).unwrap(),
            other => panic!("expected a reply to {line:?}, got {other:?}"),
        }
    }

    #[test]
    fn answers_bad_lines_specifically() {
        let cases = [
            ("{this is not json", -32700, Value::Null, "not JSON"),
            ("{\"jsonrpc\": \"2.0\", \"id\": 7, \"method\": ", -32700, Value::Null, "not JSON"),
            ("{\"jsonrpc\": \"2.0\", \"id\": 7}", -32600, json!(7), "invalid request"),
            (
                "{\"jsonrpc\": \"2.0\", \"id\": \"a\", \"method\": \"tools/call\", \"params\": 5}",
                -32600,
                json!("a"),
                "invalid request",
            ),
            ("[{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\": \"ping\"}]", -32600, Value::Null, "batches"),
            ("42", -32600, Value::Null, "invalid request"),
            (
                r#"{"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "x", "arguments": [1]}}"#,
                -32602,
                json!(3),
                "`arguments` must be an object of the tool's parameters by name, not an array",
            ),
            (
                r#"{"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"arguments": {}}}"#,
                -32602,
                json!(4),
                "`name` is missing",
            ),
            (
                r#"{"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": ["x"]}}"#,
                -32602,
                json!(5),
                "`name` must be a string, not an array",
            ),
            (
                r#"{"jsonrpc": "2.0", "id": 6, "method": "tools/call", "params": {"name": "x", "arguments": "{}"}}"#,
                -32602,
                json!(6),
                "not a string",
            ),
            (
                r#"{"jsonrpc": "2.0", "id": 7, "method": "resources/read", "params": {"url": "newrelic://x"}}"#,
                -32602,
                json!(7),
                "invalid params for resources/read",
            ),
            (
                r#"{"jsonrpc": "2.0", "id": 8, "method": "prompts/get", "params": {"name": 1}}"#,
                -32602,
                json!(8),
                "invalid params for prompts/get",
            ),
            (
                r#"{"jsonrpc": "2.0", "id": 9, "method": "initialize", "params": {"protocolVersion": 2025}}"#,
                -32602,
                json!(9),
                "invalid params for initialize",
            ),
        ];
        for (line, code, id, says) in cases {
            let reply = reply_of(line);
            assert_eq!(reply["error"]["code"], code, "{line}: {reply}");
            assert_eq!(reply.get("id").cloned().unwrap_or(Value::Null), id, "{line}: {reply}");
            let message = reply["error"]["message"].as_str().unwrap();
            assert!(message.contains(says), "{line}: {message}");
        }
    }

    #[test]
    fn skips_blank_lines_and_malformed_notifications_and_accepts_good_ones() {
        for line in
            ["", "   ", "\r", "{\"jsonrpc\": \"2.0\", \"method\": \"notifications/progress\", \"params\": 5}"]
        {
            assert!(matches!(decode(line.as_bytes()), Decoded::Skip), "{line:?}");
        }
        for good in [
            "\u{feff}{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\": \"ping\"}\r",
            r#"{"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "x", "arguments": {"a": 1}}}"#,
            r#"{"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "x"}}"#,
            // An unknown method is rmcp's to answer: "method not found".
            r#"{"jsonrpc": "2.0", "id": 4, "method": "no/such/method", "params": {"name": 1}}"#,
        ] {
            assert!(matches!(decode(good.as_bytes()), Decoded::Message(_)), "{good}");
        }
    }

    /// A transport over in-memory pipes: the client's writer, the client's reader, the transport.
    fn connected(
        output_buffer: usize,
    ) -> (
        DuplexStream,
        tokio::io::Lines<BufReader<DuplexStream>>,
        LineTransport<DuplexStream>,
        CancellationToken,
    ) {
        let (client_input, server_input) = tokio::io::duplex(1 << 20);
        let (server_output, client_output) = tokio::io::duplex(output_buffer);
        let gone = CancellationToken::new();
        let transport = LineTransport::new(server_input, server_output, gone.clone());
        (client_input, BufReader::new(client_output).lines(), transport, gone)
    }

    async fn write_line(input: &mut DuplexStream, message: &Value) {
        input.write_all(format!("{message}\n").as_bytes()).await.unwrap();
    }

    fn ping(id: i64) -> Value {
        json!({"jsonrpc": "2.0", "id": id, "method": "ping"})
    }

    fn request_id(message: &RxJsonRpcMessage<RoleServer>) -> RequestId {
        match message {
            JsonRpcMessage::Request(request) => request.id.clone(),
            other => panic!("expected a request, got {other:?}"),
        }
    }

    fn empty_answer(id: RequestId) -> TxJsonRpcMessage<RoleServer> {
        TxJsonRpcMessage::<RoleServer>::response(ServerResult::EmptyResult(EmptyResult {}), id)
    }

    /// The next message `receive` hands over; fails the test if none comes.
    async fn receives(transport: &mut LineTransport<DuplexStream>) -> RxJsonRpcMessage<RoleServer> {
        tokio::time::timeout(Duration::from_secs(10), transport.receive()).await.unwrap().unwrap()
    }

    /// Whether `receive` stays waiting: what is not read cannot be polled for, so it gets a
    /// short while to show it would read.
    async fn holds_back(transport: &mut LineTransport<DuplexStream>) -> bool {
        tokio::time::timeout(Duration::from_millis(200), transport.receive()).await.is_err()
    }

    #[tokio::test]
    async fn reading_pauses_at_the_cap_until_an_answer_is_written() {
        // An output pipe of one byte: nothing queued reaches the client until it reads.
        let (mut input, mut output, mut transport, _) = connected(1);
        for id in 0..MAX_CALLS_IN_FLIGHT as i64 + 10 {
            write_line(&mut input, &ping(id)).await;
        }
        let mut ids = Vec::new();
        for _ in 0..MAX_CALLS_IN_FLIGHT {
            ids.push(request_id(&receives(&mut transport).await));
        }
        assert!(holds_back(&mut transport).await, "read past the cap");

        // Answering queues the answer, but the slot stays taken until it is written.
        transport.send(empty_answer(ids[0].clone())).await.unwrap();
        assert!(holds_back(&mut transport).await, "an unwritten answer freed its slot");
        let written = output.next_line().await.unwrap().unwrap();
        assert!(written.contains("\"id\":0"), "{written}");
        let next = receives(&mut transport).await;
        assert_eq!(request_id(&next), RequestId::Number(MAX_CALLS_IN_FLIGHT as i64));
    }

    #[tokio::test]
    async fn a_cancelled_call_gives_its_slot_back_and_notifications_need_none_of_their_own() {
        let (mut input, _output, mut transport, _) = connected(1 << 16);
        for id in 0..MAX_CALLS_IN_FLIGHT as i64 {
            write_line(&mut input, &ping(id)).await;
        }
        for _ in 0..MAX_CALLS_IN_FLIGHT {
            receives(&mut transport).await;
        }
        let cancel =
            json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 5}});
        write_line(&mut input, &cancel).await;
        write_line(&mut input, &ping(1000)).await;
        // At the cap nothing is read, not even the cancellation.
        assert!(holds_back(&mut transport).await);
        transport.send(empty_answer(RequestId::Number(0))).await.unwrap();
        assert!(matches!(receives(&mut transport).await, JsonRpcMessage::Notification(_)));
        let after = receives(&mut transport).await;
        assert_eq!(request_id(&after), RequestId::Number(1000));
    }

    #[tokio::test]
    async fn an_id_still_unanswered_and_a_second_initialize_are_refused() {
        let (mut input, mut output, mut transport, _) = connected(1 << 16);
        let initialize = |id: i64, version: &str| {
            json!({"jsonrpc": "2.0", "id": id, "method": "initialize", "params": {
                "protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}})
        };
        write_line(&mut input, &initialize(1, "2025-06-18")).await;
        let first = transport.receive().await.unwrap();
        let mut result = InitializeResult::new(ServerCapabilities::default());
        result.protocol_version = rmcp::model::ProtocolVersion::V_2025_06_18;
        transport
            .send(TxJsonRpcMessage::<RoleServer>::response(
                ServerResult::InitializeResult(result),
                request_id(&first),
            ))
            .await
            .unwrap();
        write_line(&mut input, &ping(2)).await;
        write_line(&mut input, &ping(2)).await;
        write_line(&mut input, &initialize(3, "2025-03-26")).await;
        write_line(&mut input, &ping(4)).await;
        assert_eq!(request_id(&transport.receive().await.unwrap()), RequestId::Number(2));
        assert_eq!(request_id(&transport.receive().await.unwrap()), RequestId::Number(4));

        let mut answers = Vec::new();
        while answers.len() < 3 {
            answers.push(serde_json::from_str::<Value>(&output.next_line().await.unwrap().unwrap()).unwrap());
        }
        assert_eq!(answers[0]["result"]["protocolVersion"], "2025-06-18");
        assert_eq!(
            (answers[1]["id"].clone(), answers[1]["error"]["code"].clone()),
            (json!(2), json!(-32600))
        );
        assert!(answers[1]["error"]["message"].as_str().unwrap().contains("still in use"), "{}", answers[1]);
        assert_eq!(
            (answers[2]["id"].clone(), answers[2]["error"]["code"].clone()),
            (json!(3), json!(-32600))
        );
        let refusal = answers[2]["error"]["message"].as_str().unwrap();
        assert!(refusal.contains("already initialized at protocol version 2025-06-18"), "{refusal}");
    }

    #[tokio::test]
    async fn an_oversized_line_is_refused_with_its_id_and_the_next_line_still_read() {
        let filler = "x".repeat(MAX_LINE_BYTES + 10);
        let mut input = Vec::new();
        input.extend_from_slice(
            format!("{{\"jsonrpc\": \"2.0\", \"id\": \"early\", \"params\": \"{filler}\"}}\n").as_bytes(),
        );
        input.extend_from_slice(
            format!("{{\"jsonrpc\": \"2.0\", \"params\": [\"{filler}\"], \"id\": 99}}\n").as_bytes(),
        );
        input.extend_from_slice(format!("{filler}\n").as_bytes());
        input.extend_from_slice(b"{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\": \"ping\"}\n");
        let (client, server) = tokio::io::duplex(1 << 16);
        let (output, _) = tokio::io::split(client);
        let (_, server_writer) = tokio::io::split(server);
        let mut transport = LineTransport::new(&input[..], server_writer, CancellationToken::new());
        let next = transport.receive().await.unwrap();
        assert!(matches!(next, RxJsonRpcMessage::<RoleServer>::Request(_)));
        transport.close().await.unwrap();
        let mut lines = BufReader::new(output).lines();
        for id in [json!("early"), json!(99), Value::Null] {
            let line = lines.next_line().await.unwrap().unwrap();
            let answer: Value = serde_json::from_str(&line).unwrap();
            assert_eq!(answer.get("id").cloned().unwrap_or(Value::Null), id, "{line}");
            assert!(answer["error"]["message"].as_str().unwrap().contains("larger than 16 MiB"), "{line}");
        }
    }

    #[tokio::test]
    async fn the_end_of_input_and_a_closed_output_both_mean_the_client_is_gone() {
        let (input, _output, mut transport, gone) = connected(1 << 16);
        drop(input);
        assert!(transport.receive().await.is_none());
        assert!(gone.is_cancelled());

        let (_input, output, mut transport, gone) = connected(1 << 16);
        drop(output);
        let _ = transport.send(empty_answer(RequestId::Number(1))).await;
        gone.cancelled().await;
        assert!(transport.receive().await.is_none());
        assert!(transport.send(empty_answer(RequestId::Number(2))).await.is_err());
    }
}
