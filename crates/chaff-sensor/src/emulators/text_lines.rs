//! Bounded reading of text command lines, for line-oriented protocols (FTP, SMTP): a hostile
//! client sending one endless line costs at most the bound, never more memory.

use std::io;

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// How one bounded line read ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineRead {
    /// A whole line, without its terminator.
    Line,
    /// A line longer than the bound: the buffer holds its first `max` bytes, the rest up to
    /// its terminator was read and dropped.
    Truncated,
    /// The stream ended; an unterminated last fragment is dropped, as servers do.
    Eof,
}

/// Reads one line ending in LF (a CR before it is removed too) into `line`, keeping at most
/// `max` bytes of it.
pub async fn read_line<R>(reader: &mut R, max: usize, line: &mut Vec<u8>) -> io::Result<LineRead>
where
    R: AsyncBufRead + Unpin,
{
    line.clear();
    let mut truncated = false;
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            line.clear();
            return Ok(LineRead::Eof);
        }
        let newline = available.iter().position(|&b| b == b'\n');
        let content = &available[..newline.unwrap_or(available.len())];
        let room = max.saturating_sub(line.len());
        line.extend_from_slice(&content[..content.len().min(room)]);
        truncated |= content.len() > room;
        let consumed = newline.map_or(available.len(), |i| i + 1);
        reader.consume(consumed);
        if newline.is_some() {
            break;
        }
    }
    if truncated {
        return Ok(LineRead::Truncated);
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(LineRead::Line)
}

#[cfg(test)]
mod tests {
    use tokio::io::BufReader;

    use super::*;

    async fn lines(input: &[u8], max: usize, buffer: usize) -> Vec<(LineRead, Vec<u8>)> {
        let mut reader = BufReader::with_capacity(buffer, input);
        let mut out = Vec::new();
        let mut line = Vec::new();
        loop {
            let read = read_line(&mut reader, max, &mut line).await.unwrap();
            out.push((read, line.clone()));
            if read == LineRead::Eof {
                return out;
            }
        }
    }

    #[tokio::test]
    async fn splits_crlf_and_lf_lines_and_drops_an_unterminated_tail() {
        for buffer in [1, 3, 64] {
            let got = lines(b"USER bob\r\nPASS x\n\r\nQUIT", 100, buffer).await;
            assert_eq!(
                got,
                [
                    (LineRead::Line, b"USER bob".to_vec()),
                    (LineRead::Line, b"PASS x".to_vec()),
                    (LineRead::Line, b"".to_vec()),
                    (LineRead::Eof, b"".to_vec()),
                ],
                "buffer {buffer}"
            );
        }
    }

    #[tokio::test]
    async fn long_lines_are_cut_at_the_bound_and_the_next_line_is_intact() {
        let mut input = vec![b'A'; 1000];
        input.extend_from_slice(b"\r\nNOOP\r\n");
        for buffer in [7, 4096] {
            let got = lines(&input, 10, buffer).await;
            assert_eq!(got[0], (LineRead::Truncated, vec![b'A'; 10]), "buffer {buffer}");
            assert_eq!(got[1], (LineRead::Line, b"NOOP".to_vec()), "buffer {buffer}");
            assert_eq!(got[2].0, LineRead::Eof);
        }
    }
}
