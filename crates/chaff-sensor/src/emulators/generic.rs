//! The low-interaction baseline: accept, say nothing, read what the client sends (within
//! the session's limits) and let the framework record it. UDP datagrams get no answer.

use std::io;

use tokio::io::AsyncReadExt;

use crate::event::EndReason;
use crate::listener::Stream;

/// Reads until the client closes, goes quiet, or reaches the session's limits.
pub async fn serve(mut stream: Stream) -> io::Result<EndReason> {
    let mut buf = [0u8; 4096];
    while stream.read(&mut buf).await? > 0 {}
    Ok(EndReason::Eof)
}
