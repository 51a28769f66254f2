//! One read of one container's log, from its cursor: lines to events, numbered.
//!
//! Invariant: the events a reader yields are named exactly as any other read of the same log
//! names them. Docker's `since` has whole seconds, so a read starts at the cursor's second
//! and sees every line of the cursor's timestamp again; `seq` counts lines sharing one
//! timestamp from the first of them, which therefore always gets 0. Lines up to and including
//! the cursor (the last line stored) are skipped; the store ignores any line stored
//! meanwhile by someone else.

use chaff_docker::LogLine;
use chaff_state::{EventCursor, EventOrigin, NewEvent};

const NANOS_PER_SECOND: i64 = 1_000_000_000;

pub(crate) struct LogReader {
    origin: EventOrigin,
    /// The last line stored from this container, if any.
    cursor: Option<EventCursor>,
    /// The timestamp of the previous line and how many lines had it.
    previous: Option<(i64, u32)>,
}

impl LogReader {
    pub(crate) fn new(origin: EventOrigin, cursor: Option<EventCursor>) -> LogReader {
        LogReader { origin, cursor, previous: None }
    }

    pub(crate) fn origin(&self) -> &EventOrigin {
        &self.origin
    }

    /// Docker's `since` for this read: the start of the cursor's second (0: the whole log).
    pub(crate) fn since_seconds(&self) -> i64 {
        self.cursor.map_or(0, |cursor| cursor.docker_ts_ns.div_euclid(NANOS_PER_SECOND))
    }

    /// The event of `line`, or `None` when the cursor covers it (stored already).
    pub(crate) fn accept(&mut self, line: LogLine) -> Option<NewEvent> {
        let seq = match self.previous {
            Some((ts, count)) if ts == line.docker_ts_ns => count,
            _ => 0,
        };
        self.previous = Some((line.docker_ts_ns, seq + 1));
        if self.cursor.is_some_and(|cursor| cursor.covers(line.docker_ts_ns, seq)) {
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
    fn read(cursor: Option<(i64, u32)>, log: &[LogLine]) -> Vec<(i64, u32, String)> {
        let cursor = cursor.map(|(docker_ts_ns, seq)| EventCursor { docker_ts_ns, seq });
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
        assert_eq!(read(Some((SECOND + 1, 0)), &log), full[1..]);
        assert_eq!(
            read(Some((SECOND + 5, 0)), &log),
            full[2..],
            "a batch ended between two lines of one instant"
        );
        assert_eq!(read(Some((SECOND + 5, 1)), &log), full[3..]);
        assert!(read(Some((SECOND + 9, 0)), &log).is_empty());
        assert!(read(Some((SECOND + 10, 0)), &log).is_empty());
    }

    #[test]
    fn since_is_the_cursors_whole_second() {
        assert_eq!(LogReader::new(origin(), None).since_seconds(), 0);
        let cursor = EventCursor { docker_ts_ns: SECOND + 999_999_999, seq: 3 };
        assert_eq!(LogReader::new(origin(), Some(cursor)).since_seconds(), 1_714_566_896);
    }
}
