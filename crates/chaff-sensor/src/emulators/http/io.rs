//! The byte streams under the HTTP server: the client's stream, reading ahead to decide how
//! to answer before hyper takes over, and the status-line version real servers write.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

use crate::listener::Stream;

/// The client's stream, noting when the client closed its side: that tells a client that
/// went away from a server that ended the exchange (the HTTP and TLS libraries report both
/// as a finished connection).
/// Why a connection served over a [`ClientStream`] ended: a client that closed its side went
/// away, whatever the HTTP or TLS layer made of it; otherwise the server ended the exchange
/// (`Connection: close`, HTTP/1.0).
pub fn end_reason(served: io::Result<()>, client_closed: &AtomicBool) -> io::Result<crate::event::EndReason> {
    use crate::event::EndReason;
    match served {
        _ if client_closed.load(Ordering::Relaxed) => Ok(EndReason::Eof),
        Ok(()) => Ok(EndReason::Closed),
        Err(e) => Err(e),
    }
}

pub struct ClientStream {
    inner: Stream,
    client_closed: Arc<AtomicBool>,
}

impl ClientStream {
    /// The stream, and the flag that becomes true once the client has closed its side.
    pub fn new(inner: Stream) -> (ClientStream, Arc<AtomicBool>) {
        let client_closed = Arc::new(AtomicBool::new(false));
        (ClientStream { inner, client_closed: Arc::clone(&client_closed) }, client_closed)
    }
}

impl AsyncRead for ClientStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let wanted = buf.remaining() > 0;
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled
            && wanted
            && buf.filled().len() == before
        {
            this.client_closed.store(true, Ordering::Relaxed);
        }
        polled
    }
}

impl AsyncWrite for ClientStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// A stream that can read ahead: bytes looked at with [`Peekable::peek_until`] are read
/// again, in order, before anything else.
pub struct Peekable<I> {
    inner: I,
    /// Read ahead and not yet handed out: `ahead[handed..]`. Never longer than the largest
    /// `max` asked of `peek_until`.
    ahead: Vec<u8>,
    handed: usize,
    /// The client closed its side while reading ahead.
    ended: bool,
}

impl<I: AsyncRead + Unpin> Peekable<I> {
    pub fn new(inner: I) -> Peekable<I> {
        Peekable { inner, ahead: Vec::new(), handed: 0, ended: false }
    }

    /// Reads ahead until `enough` holds for the bytes read ahead, `max` bytes are read
    /// ahead, or the client closes its side; returns the bytes read ahead.
    pub async fn peek_until(&mut self, enough: impl Fn(&[u8]) -> bool, max: usize) -> io::Result<&[u8]> {
        let mut chunk = [0u8; 1024];
        while !self.ended && !enough(&self.ahead[self.handed..]) && self.ahead.len() - self.handed < max {
            let want = (max - (self.ahead.len() - self.handed)).min(chunk.len());
            let n = self.inner.read(&mut chunk[..want]).await?;
            self.ended = n == 0;
            self.ahead.extend_from_slice(&chunk[..n]);
        }
        Ok(&self.ahead[self.handed..])
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Peekable<I> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.handed < this.ahead.len() {
            let n = buf.remaining().min(this.ahead.len() - this.handed);
            buf.put_slice(&this.ahead[this.handed..this.handed + n]);
            this.handed += n;
            if this.handed == this.ahead.len() {
                this.ahead = Vec::new();
                this.handed = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Peekable<I> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// What hyper writes with: hyper answers an HTTP/1.0 request with an `HTTP/1.0` status
/// line, where Apache, nginx and Tomcat write `HTTP/1.1` (and fingerprinting tools look for
/// it). The connection's first response, which starts its first write, says `HTTP/1.1`;
/// nothing else changes (same length, same framing: hyper still closes after it).
pub struct Http11StatusLine<I> {
    inner: I,
    state: StatusLine,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StatusLine {
    /// Nothing written yet.
    Unseen,
    /// The first write starts with `HTTP/1.0 `; this many of its bytes went out replaced.
    Replacing { written: usize },
    /// Everything else goes out as is.
    AsIs,
}

const HTTP10_STATUS: &[u8] = b"HTTP/1.0 ";
const HTTP11_STATUS: &[u8] = b"HTTP/1.1 ";

impl<I> Http11StatusLine<I> {
    pub fn new(inner: I) -> Http11StatusLine<I> {
        Http11StatusLine { inner, state: StatusLine::Unseen }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Http11StatusLine<I> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Http11StatusLine<I> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.state == StatusLine::Unseen && !buf.is_empty() {
            this.state = if buf.starts_with(HTTP10_STATUS) {
                StatusLine::Replacing { written: 0 }
            } else {
                StatusLine::AsIs
            };
        }
        let StatusLine::Replacing { written } = this.state else {
            return Pin::new(&mut this.inner).poll_write(cx, buf);
        };
        // `buf` starts with the rest of `HTTP/1.0 ` (a short write may have sent part).
        let replacement = &HTTP11_STATUS[written..];
        let n = replacement.len().min(buf.len());
        let sent = ready!(Pin::new(&mut this.inner).poll_write(cx, &replacement[..n]))?;
        let written = written + sent;
        this.state =
            if written == HTTP11_STATUS.len() { StatusLine::AsIs } else { StatusLine::Replacing { written } };
        Poll::Ready(Ok(sent))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    fn run<F: Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(future)
    }

    #[test]
    fn read_ahead_bytes_are_read_again() {
        run(async {
            let mut stream = Peekable::new(&b"GET / HTTP/1.1\r\nHost: x\r\n\r\nbody"[..]);
            let line = stream.peek_until(|b| b.contains(&b'\n'), 8192).await.unwrap().to_vec();
            assert!(line.starts_with(b"GET / HTTP/1.1\r\n"));
            let head = stream.peek_until(|b| b.ends_with(b"\r\n\r\n"), 8192).await.unwrap().len();
            assert!(head >= line.len());
            let mut all = Vec::new();
            stream.read_to_end(&mut all).await.unwrap();
            assert_eq!(all, b"GET / HTTP/1.1\r\nHost: x\r\n\r\nbody");
        });
    }

    #[test]
    fn read_ahead_is_bounded() {
        run(async {
            let endless = vec![b'a'; 100_000];
            let mut stream = Peekable::new(&endless[..]);
            assert_eq!(stream.peek_until(|b| b.contains(&b'\n'), 4096).await.unwrap().len(), 4096);
            let mut empty = Peekable::new(&b""[..]);
            assert!(empty.peek_until(|b| !b.is_empty(), 1).await.unwrap().is_empty());
        });
    }

    /// A writer that accepts at most `chunk` bytes per write.
    struct Trickle {
        out: Vec<u8>,
        chunk: usize,
    }

    impl AsyncWrite for Trickle {
        fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
            let this = self.get_mut();
            let n = buf.len().min(this.chunk);
            this.out.extend_from_slice(&buf[..n]);
            Poll::Ready(Ok(n))
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    impl AsyncRead for Trickle {
        fn poll_read(self: Pin<&mut Self>, _: &mut Context<'_>, _: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    fn written(first: &[u8], then: &[u8], chunk: usize) -> Vec<u8> {
        run(async {
            let mut writer = Http11StatusLine::new(Trickle { out: Vec::new(), chunk });
            writer.write_all(first).await.unwrap();
            writer.write_all(then).await.unwrap();
            writer.inner.out
        })
    }

    #[test]
    fn the_first_status_line_says_http11() {
        let response = b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok";
        for chunk in [1, 4, 9, 10, 4096] {
            assert_eq!(
                written(response, b"HTTP/1.0 x", chunk),
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.0 x"
            );
        }
        assert_eq!(written(b"HTTP/1.1 200 OK\r\n", b"HTTP/1.0 ", 3), b"HTTP/1.1 200 OK\r\nHTTP/1.0 ");
        assert_eq!(written(b"\x00\x00\x12\x04", b"HTTP/1.0 ", 4096), b"\x00\x00\x12\x04HTTP/1.0 ");
    }
}
