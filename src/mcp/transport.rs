//! Line-delimited JSON-RPC over any reader and writer, answering every bad line.
//!
//! rmcp's own stdio transport silently drops a line that is not JSON (to avoid error
//! storms with peers that echo garbage). A user who pipes a typo deserves to hear about it,
//! so this transport answers such a line with a JSON-RPC parse error (-32700), a request of
//! the wrong shape with an invalid-request error (-32600) carrying its id when it has one,
//! and a line over the size limit likewise; a malformed notification is dropped, since
//! JSON-RPC never answers notifications. Nothing is lost: the next line is read as usual.
//!
//! Writes go through one writer task fed by a channel, which batches whatever is queued
//! into a single write, so concurrent responses never interleave and need no lock.

use std::io;

use rmcp::RoleServer;
use rmcp::model::{ErrorCode, ErrorData, RequestId};
use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Longest accepted line; longer ones are refused whole and skipped.
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;
/// Encoded messages waiting for the writer before `send` waits.
const OUTGOING_CAPACITY: usize = 1024;
/// Most bytes the writer joins into one write.
const MAX_BATCH_BYTES: usize = 1024 * 1024;
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

pub struct LineTransport<R> {
    reader: BufReader<R>,
    line: Vec<u8>,
    /// Set while skipping the rest of an over-long line.
    oversized: bool,
    outgoing: Option<mpsc::Sender<Vec<u8>>>,
    writer: Option<JoinHandle<()>>,
}

impl<R: AsyncRead + Send + Unpin> LineTransport<R> {
    pub fn new<W: AsyncWrite + Send + Unpin + 'static>(reader: R, writer: W) -> Self {
        let (outgoing, queued) = mpsc::channel(OUTGOING_CAPACITY);
        Self {
            reader: BufReader::with_capacity(64 * 1024, reader),
            line: Vec::with_capacity(4096),
            oversized: false,
            outgoing: Some(outgoing),
            writer: Some(tokio::spawn(write_lines(writer, queued))),
        }
    }

    /// Reads up to the next newline into `self.line`. Cancel-safe: partial reads stay in `self`.
    /// Returns false at end of input with nothing pending.
    async fn read_line(&mut self) -> io::Result<bool> {
        loop {
            let available = self.reader.fill_buf().await?;
            if available.is_empty() {
                return Ok(!self.line.is_empty() || self.oversized);
            }
            let (chunk, found_newline) = match available.iter().position(|byte| *byte == b'\n') {
                Some(at) => (&available[..at], true),
                None => (available, false),
            };
            let consumed = chunk.len() + usize::from(found_newline);
            if !self.oversized {
                self.line.extend_from_slice(chunk);
                if self.line.len() > MAX_LINE_BYTES {
                    self.oversized = true;
                    self.line = Vec::with_capacity(4096);
                }
            }
            self.reader.consume(consumed);
            if found_newline {
                return Ok(true);
            }
        }
    }

    async fn reply(&mut self, error: TxJsonRpcMessage<RoleServer>) -> bool {
        match &self.outgoing {
            Some(outgoing) => match encode(&error) {
                Ok(line) => outgoing.send(line).await.is_ok(),
                Err(_) => false,
            },
            None => false,
        }
    }
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

/// Room for a typical response line up front, so serializing one rarely reallocates.
const TYPICAL_LINE_BYTES: usize = 1024;

fn encode(message: &TxJsonRpcMessage<RoleServer>) -> io::Result<Vec<u8>> {
    let mut line = Vec::with_capacity(TYPICAL_LINE_BYTES);
    serde_json::to_writer(&mut line, message).map_err(io::Error::other)?;
    line.push(b'\n');
    Ok(line)
}

async fn write_lines<W: AsyncWrite + Unpin>(mut writer: W, mut queued: mpsc::Receiver<Vec<u8>>) {
    let mut batch = Vec::with_capacity(64 * 1024);
    while let Some(first) = queued.recv().await {
        batch.clear();
        batch.extend_from_slice(&first);
        while batch.len() < MAX_BATCH_BYTES {
            match queued.try_recv() {
                Ok(next) => batch.extend_from_slice(&next),
                Err(_) => break,
            }
        }
        if writer.write_all(&batch).await.is_err() || writer.flush().await.is_err() {
            tracing::debug!("the client's input closed; dropping further output");
            return;
        }
    }
    let _ = writer.shutdown().await;
}

impl<R: AsyncRead + Send + Unpin> Transport<RoleServer> for LineTransport<R> {
    type Error = io::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleServer>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let outgoing = self.outgoing.clone();
        let encoded = encode(&item);
        async move {
            let line = encoded?;
            let outgoing = outgoing
                .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "the transport is closed"))?;
            outgoing
                .send(line)
                .await
                .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client's input is closed"))
        }
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleServer>> {
        loop {
            match self.read_line().await {
                Ok(true) => {}
                Ok(false) => return None,
                Err(error) => {
                    tracing::warn!("reading the client's messages failed: {error}");
                    return None;
                }
            }
            if self.oversized {
                self.oversized = false;
                let error = ErrorData::new(
                    ErrorCode::INVALID_REQUEST,
                    format!("message larger than {} MiB refused", MAX_LINE_BYTES / (1024 * 1024)),
                    None,
                );
                if !self.reply(TxJsonRpcMessage::<RoleServer>::error(error, None)).await {
                    return None;
                }
                continue;
            }
            let decoded = decode(&self.line);
            self.line.clear();
            match decoded {
                Decoded::Message(message) => return Some(*message),
                Decoded::Skip => {}
                Decoded::Reply(error) => {
                    if !self.reply(*error).await {
                        return None;
                    }
                }
            }
        }
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        self.outgoing = None;
        if let Some(writer) = self.writer.take() {
            let _ = writer.await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use serde_json::json;

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
            ("{this is not json", -32700, Value::Null),
            ("{\"jsonrpc\": \"2.0\", \"id\": 7, \"method\": ", -32700, Value::Null),
            ("{\"jsonrpc\": \"2.0\", \"id\": 7}", -32600, json!(7)),
            (
                "{\"jsonrpc\": \"2.0\", \"id\": \"a\", \"method\": \"tools/call\", \"params\": 5}",
                -32600,
                json!("a"),
            ),
            ("[{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\": \"ping\"}]", -32600, Value::Null),
            ("42", -32600, Value::Null),
        ];
        for (line, code, id) in cases {
            let reply = reply_of(line);
            assert_eq!(reply["error"]["code"], code, "{line}: {reply}");
            assert_eq!(reply.get("id").cloned().unwrap_or(Value::Null), id, "{line}: {reply}");
            assert!(reply["error"]["message"].as_str().unwrap().len() > 15);
        }
    }

    #[test]
    fn skips_blank_lines_and_malformed_notifications_and_accepts_good_ones() {
        for line in
            ["", "   ", "\r", "{\"jsonrpc\": \"2.0\", \"method\": \"notifications/progress\", \"params\": 5}"]
        {
            assert!(matches!(decode(line.as_bytes()), Decoded::Skip), "{line:?}");
        }
        let good = "\u{feff}{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\": \"ping\"}\r";
        assert!(matches!(decode(good.as_bytes()), Decoded::Message(_)));
    }

    #[tokio::test]
    async fn an_oversized_line_is_refused_and_the_next_line_still_read() {
        let mut input = vec![b'x'; MAX_LINE_BYTES + 10];
        input.extend_from_slice(b"\n{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\": \"ping\"}\n");
        let (client, server) = tokio::io::duplex(1 << 16);
        let (mut output, _) = tokio::io::split(client);
        let (_, server_writer) = tokio::io::split(server);
        let mut transport = LineTransport::new(&input[..], server_writer);
        let next = transport.receive().await.unwrap();
        assert!(matches!(next, RxJsonRpcMessage::<RoleServer>::Request(_)));
        transport.close().await.unwrap();
        let mut written = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut output, &mut written).await.unwrap();
        assert!(written.contains("larger than 16 MiB"), "{written}");
    }
}
