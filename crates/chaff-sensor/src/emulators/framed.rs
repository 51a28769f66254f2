//! Reading the fixed-size parts of binary protocols (headers, then the lengths they
//! announce), where a client closing between two parts is an ordinary end, not an error.

use std::io;

use tokio::io::{AsyncRead, AsyncReadExt};

/// Fills `buf`; false if the client closed first.
pub async fn read_all<R: AsyncRead + Unpin>(stream: &mut R, buf: &mut [u8]) -> io::Result<bool> {
    match stream.read_exact(buf).await {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(e),
    }
}
