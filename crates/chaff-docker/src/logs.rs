//! Container logs as lines with Docker's timestamps.
//!
//! With `timestamps=true` Docker sends each log entry as one frame, `<RFC 3339 nanos> <text>`,
//! the text ending in `\n` when the entry ends a line. The json-file driver splits lines over
//! 16 KiB into several entries; every entry but the last has no `\n`. [`LineAssembler`] joins
//! them again into one [`LogLine`] timed by its first entry, so a line always has the same
//! timestamp whatever point a reader started from.

use crate::LogLine;

/// The longest line assembled from split entries; past this, what was gathered is one line
/// (a sensor line is far shorter: this only bounds memory against a runaway writer).
pub const MAX_LINE_BYTES: usize = 1024 * 1024;

/// Joins Docker's log frames into lines.
#[derive(Debug, Default)]
pub struct LineAssembler {
    /// A line begun by entries without their final `\n`: its timestamp and text so far.
    pending: Option<(i64, Vec<u8>)>,
}

/// Why a frame was not a log entry.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a log frame without Docker's timestamp: {preview:?}")]
pub struct FrameError {
    pub preview: String,
}

impl LineAssembler {
    /// Takes one frame; returns the line it completes, if any.
    pub fn push(&mut self, frame: &[u8]) -> Result<Option<LogLine>, FrameError> {
        let (docker_ts_ns, text) = split_timestamp(frame).ok_or_else(|| FrameError {
            preview: String::from_utf8_lossy(&frame[..frame.len().min(80)]).into_owned(),
        })?;
        let (body, ends_line) = match text.strip_suffix(b"\n") {
            Some(body) => (body, true),
            None => (text, false),
        };
        let (first_ts, mut gathered) = self.pending.take().unwrap_or((docker_ts_ns, Vec::new()));
        gathered.extend_from_slice(body);
        if ends_line || gathered.len() >= MAX_LINE_BYTES {
            return Ok(Some(line(first_ts, &gathered)));
        }
        self.pending = Some((first_ts, gathered));
        Ok(None)
    }

    /// At the end of the stream: the unfinished line, if any (its writer stopped mid-line).
    pub fn finish(&mut self) -> Option<LogLine> {
        self.pending.take().map(|(ts, text)| line(ts, &text))
    }
}

fn line(docker_ts_ns: i64, text: &[u8]) -> LogLine {
    let text = String::from_utf8_lossy(text);
    LogLine { docker_ts_ns, text: text.strip_suffix('\r').unwrap_or(&text).to_owned() }
}

/// `<timestamp> <text>` → (nanoseconds, text).
fn split_timestamp(frame: &[u8]) -> Option<(i64, &[u8])> {
    let space = frame.iter().position(|b| *b == b' ')?;
    let stamp = std::str::from_utf8(&frame[..space]).ok()?;
    Some((chaff_time::parse_nanos(stamp)?, &frame[space + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TS: &str = "2024-05-01T12:34:56.123456789Z";
    const NS: i64 = 1_714_566_896_123_456_789;

    fn frame(ts: &str, text: &str) -> Vec<u8> {
        format!("{ts} {text}").into_bytes()
    }

    #[test]
    fn one_frame_per_line() {
        let mut lines = LineAssembler::default();
        let line = lines.push(&frame(TS, "{\"v\":1}\n")).unwrap().unwrap();
        assert_eq!(line, LogLine { docker_ts_ns: NS, text: "{\"v\":1}".into() });
        assert_eq!(lines.push(&frame(TS, "\n")).unwrap().unwrap().text, "", "an empty line is a line");
        assert_eq!(lines.finish(), None);
    }

    #[test]
    fn split_entries_are_joined_under_the_first_timestamp() {
        let mut lines = LineAssembler::default();
        assert_eq!(lines.push(&frame(TS, "first half, ")).unwrap(), None);
        assert_eq!(lines.push(&frame("2024-05-01T12:34:57Z", "middle, ")).unwrap(), None);
        let line = lines.push(&frame("2024-05-01T12:34:58Z", "end\r\n")).unwrap().unwrap();
        assert_eq!(line, LogLine { docker_ts_ns: NS, text: "first half, middle, end".into() });
    }

    #[test]
    fn an_unfinished_line_is_given_at_the_end_and_runaway_lines_are_cut() {
        let mut lines = LineAssembler::default();
        lines.push(&frame(TS, "no newline")).unwrap();
        assert_eq!(lines.finish().unwrap().text, "no newline");
        let big = "x".repeat(MAX_LINE_BYTES);
        assert_eq!(lines.push(&frame(TS, &big)).unwrap().unwrap().text.len(), MAX_LINE_BYTES);
    }

    #[test]
    fn bytes_that_are_not_utf8_are_replaced_not_refused() {
        let mut raw = format!("{TS} ").into_bytes();
        raw.extend_from_slice(b"caf\xe9\n");
        assert_eq!(LineAssembler::default().push(&raw).unwrap().unwrap().text, "caf\u{fffd}");
    }

    #[test]
    fn a_frame_without_a_timestamp_is_an_error() {
        let error = LineAssembler::default().push(b"hello world\n").unwrap_err();
        assert_eq!(error.preview, "hello world\n");
        assert!(LineAssembler::default().push(b"nospace").is_err());
    }
}
