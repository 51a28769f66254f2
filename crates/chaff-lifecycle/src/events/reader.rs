//! One read of one container's log, from its cursor: lines to events, numbered.
//!
//! Invariant: the events a reader yields are named exactly as any other read of the same log
//! names them. Docker's `since` has whole seconds, so a read starts at the cursor's second
//! and sees every line of the cursor's timestamp again; `seq` counts lines sharing one
//! timestamp from the first of them, which therefore always gets 0. Lines older than the
//! cursor were stored already and are skipped (lines *at* the cursor are yielded again and
//! ignored by the store as duplicates: a batch may have stopped between two of them).

use chaff_docker::LogLine;
use chaff_state::{EventOrigin, NewEvent};

const NANOS_PER_SECOND: i64 = 1_000_000_000;

pub(crate) struct LogReader {
    origin: EventOrigin,
    /// Docker timestamp of the last line stored from this container, if any.
    cursor: Option<i64>,
    /// The timestamp of the previous line and how many lines had it.
    previous: Option<(i64, u32)>,
}

impl LogReader {
    pub(crate) fn new(origin: EventOrigin, cursor: Option<i64>) -> LogReader {
        LogReader { origin, cursor, previous: None }
    }

    pub(crate) fn origin(&self) -> &EventOrigin {
        &self.origin
    }

    /// Docker's `since` for this read: the start of the cursor's second (0: the whole log).
    pub(crate) fn since_seconds(&self) -> i64 {
        self.cursor.map_or(0, |ns| ns.div_euclid(NANOS_PER_SECOND))
    }

    /// The event of `line`, or `None` when it is older than the cursor.
    pub(crate) fn accept(&mut self, line: LogLine) -> Option<NewEvent> {
        let seq = match self.previous {
            Some((ts, count)) if ts == line.docker_ts_ns => count,
            _ => 0,
        };
        self.previous = Some((line.docker_ts_ns, seq + 1));
        if self.cursor.is_some_and(|cursor| line.docker_ts_ns < cursor) {
            return None;
        }
        Some(NewEvent::from_line(&self.origin, line.docker_ts_ns, seq, line.text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: i64 = 1_714_566_896 * NANOS_PER_SECOND;

    fn origin() -> EventOrigin {
        EventOrigin {
            container: "c1".into(),
            fleet: "lab".into(),
            decky: "web".into(),
            service: "redis".into(),
        }
    }

    fn line(ts: i64, text: &str) -> LogLine {
        LogLine { docker_ts_ns: ts, text: text.into() }
    }

    /// (docker_ts, seq, text) of what a reader from `cursor` yields for `log`.
    fn read(cursor: Option<i64>, log: &[LogLine]) -> Vec<(i64, u32, String)> {
        let mut reader = LogReader::new(origin(), cursor);
        log.iter().filter_map(|l| reader.accept(l.clone())).map(|e| (e.docker_ts_ns, e.seq, e.raw)).collect()
    }

    #[test]
    fn lines_sharing_a_timestamp_are_numbered_from_the_first() {
        let log =
            [line(SECOND + 5, "a"), line(SECOND + 5, "b"), line(SECOND + 7, "c"), line(SECOND + 7, "d")];
        assert_eq!(
            read(None, &log),
            [
                (SECOND + 5, 0, "a".into()),
                (SECOND + 5, 1, "b".into()),
                (SECOND + 7, 0, "c".into()),
                (SECOND + 7, 1, "d".into())
            ]
        );
    }

    #[test]
    fn a_resume_skips_older_lines_and_names_the_rest_as_a_full_read_does() {
        // What Docker returns from the cursor's second: the whole second again.
        let log =
            [line(SECOND + 1, "x"), line(SECOND + 5, "a"), line(SECOND + 5, "b"), line(SECOND + 9, "c")];
        let full = read(None, &log);
        let resumed = read(Some(SECOND + 5), &log);
        assert_eq!(resumed, full[1..], "the cursor's own lines again (the store ignores them), then newer");
        assert_eq!(read(Some(SECOND + 9), &log), full[3..]);
        assert!(read(Some(SECOND + 10), &log).is_empty());
    }

    #[test]
    fn since_is_the_cursors_whole_second() {
        assert_eq!(LogReader::new(origin(), None).since_seconds(), 0);
        assert_eq!(LogReader::new(origin(), Some(SECOND + 999_999_999)).since_seconds(), 1_714_566_896);
    }
}
