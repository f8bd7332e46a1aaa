//! A TCP listener whose connections a handler can sever, to inject "connection dropped
//! without a response" faults through axum's ordinary serving loop.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

/// Accepts TCP connections wrapped in [`SeverableStream`].
#[derive(Debug)]
pub struct SeverableListener {
    inner: TcpListener,
}

impl SeverableListener {
    /// Wraps a bound listener.
    pub fn new(inner: TcpListener) -> SeverableListener {
        SeverableListener { inner }
    }
}

/// Back-off after an accept error such as running out of file descriptors.
const ACCEPT_RETRY: Duration = Duration::from_millis(50);

impl Listener for SeverableListener {
    type Io = SeverableStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, address)) => {
                    let _ = stream.set_nodelay(true);
                    return (SeverableStream::new(stream), address);
                }
                Err(error) => {
                    tracing::warn!(%error, "sandbox accept failed; retrying");
                    tokio::time::sleep(ACCEPT_RETRY).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// A TCP stream that fails all further I/O once its [`ConnectionControl`] severs it, so
/// the server closes the socket without writing a response.
pub struct SeverableStream {
    inner: TcpStream,
    severed: CancellationToken,
    wait: Pin<Box<WaitForCancellationFutureOwned>>,
}

impl SeverableStream {
    fn new(inner: TcpStream) -> SeverableStream {
        let severed = CancellationToken::new();
        let wait = Box::pin(severed.clone().cancelled_owned());
        SeverableStream { inner, severed, wait }
    }

    fn check(&mut self, cx: &mut Context<'_>) -> Result<(), io::Error> {
        if self.wait.as_mut().poll(cx).is_ready() {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "connection severed by fault injection",
            ));
        }
        Ok(())
    }
}

impl AsyncRead for SeverableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if let Err(error) = self.check(cx) {
            return Poll::Ready(Err(error));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for SeverableStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if let Err(error) = self.check(cx) {
            return Poll::Ready(Err(error));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Err(error) = self.check(cx) {
            return Poll::Ready(Err(error));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Per-connection handle given to handlers (as axum connect info).
#[derive(Debug, Clone)]
pub struct ConnectionControl {
    severed: CancellationToken,
}

impl ConnectionControl {
    /// Closes the connection without a response.
    pub fn sever(&self) {
        self.severed.cancel();
    }
}

impl Connected<IncomingStream<'_, SeverableListener>> for ConnectionControl {
    fn connect_info(stream: IncomingStream<'_, SeverableListener>) -> Self {
        ConnectionControl { severed: stream.io().severed.clone() }
    }
}
