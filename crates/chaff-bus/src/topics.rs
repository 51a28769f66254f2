//! Topic names published by the orchestration core, and the builders that assemble them.
//!
//! Names and validation follow the original's `decnet/bus/topics.py` (reference §5.6). A topic
//! is dot-separated; the builders guarantee that a caller-supplied *segment* can never add
//! extra tokens or smuggle a wildcard into a concrete topic:
//!
//! * decky builders validate every caller segment strictly: non-empty, and no `.`, `*`, `>` or
//!   whitespace ([`TopicError::InvalidSegment`]);
//! * [`attacker`] and [`system`] take a dotted event path (`session.started`, `bus.health`), so,
//!   as in the original, they only require it to be non-empty.

use thiserror::Error;

/// Root of every decky topic: `decky.<name>.<event>`.
pub const DECKY: &str = "decky";
/// Root of attacker topics: `attacker.<event>`.
pub const ATTACKER: &str = "attacker";
/// Root of system topics: `system.<event>`.
pub const SYSTEM: &str = "system";

/// `decky.<name>.lifecycle`: a lifecycle row changed status.
pub const DECKY_LIFECYCLE: &str = "lifecycle";
/// `decky.<name>.mutation`: the decky's service set was re-rolled.
pub const DECKY_MUTATION: &str = "mutation";
/// `decky.<name>.service_added`: one service was added live.
pub const DECKY_SERVICE_ADDED: &str = "service_added";
/// `decky.<name>.service_removed`: one service was removed live.
pub const DECKY_SERVICE_REMOVED: &str = "service_removed";
/// `decky.<name>.service_config_changed`: one service's configuration was replaced.
pub const DECKY_SERVICE_CONFIG_CHANGED: &str = "service_config_changed";
/// `decky.<name>.state`: the fleet reconciler saw a state transition.
pub const DECKY_STATE: &str = "state";
/// `decky.<name>.mutate_request`: someone asks the mutator to re-roll the decky now.
pub const DECKY_MUTATE_REQUEST: &str = "mutate_request";

/// `attacker.observed`: a new attacker was seen.
pub const ATTACKER_OBSERVED: &str = "observed";

/// `system.health`: a worker heartbeat (per-worker form: `system.<worker>.health`).
pub const SYSTEM_HEALTH: &str = "health";

/// Which rule a segment broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentProblem {
    /// The segment is the empty string.
    Empty,
    /// The segment contains this reserved character (`.`, `*`, `>`) or whitespace.
    ForbiddenCharacter(char),
}

impl std::fmt::Display for SegmentProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SegmentProblem::Empty => f.write_str("must not be empty"),
            SegmentProblem::ForbiddenCharacter(c) => write!(f, "must not contain {c:?}"),
        }
    }
}

/// A topic could not be built from the given segments.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TopicError {
    /// `segment` (the value passed as `role`) breaks a segment rule.
    #[error("invalid topic segment {segment:?} for {role}: {problem}")]
    InvalidSegment { role: &'static str, segment: String, problem: SegmentProblem },
}

/// `decky.<name>.lifecycle`.
pub fn decky_lifecycle(decky_name: &str) -> Result<String, TopicError> {
    decky(decky_name, DECKY_LIFECYCLE)
}

/// `decky.<name>.mutation`.
pub fn decky_mutation(decky_name: &str) -> Result<String, TopicError> {
    decky(decky_name, DECKY_MUTATION)
}

/// `decky.<name>.<event>`; both segments are validated strictly.
pub fn decky(decky_name: &str, event: &str) -> Result<String, TopicError> {
    let decky_name = strict_segment("decky name", decky_name)?;
    let event = strict_segment("decky event", event)?;
    Ok(format!("{DECKY}.{decky_name}.{event}"))
}

/// `attacker.<event>`; the event may be dotted (`session.started`) and must be non-empty.
pub fn attacker(event: &str) -> Result<String, TopicError> {
    Ok(format!("{ATTACKER}.{}", non_empty_segment("attacker event", event)?))
}

/// `system.<event>`; the event may be dotted (`bus.health`) and must be non-empty.
pub fn system(event: &str) -> Result<String, TopicError> {
    Ok(format!("{SYSTEM}.{}", non_empty_segment("system event", event)?))
}

/// The original's `_reject_tokens`: one token exactly, never a wildcard.
fn strict_segment<'a>(role: &'static str, segment: &'a str) -> Result<&'a str, TopicError> {
    non_empty_segment(role, segment)?;
    match segment.chars().find(|&c| matches!(c, '.' | '*' | '>') || c.is_whitespace()) {
        Some(c) => Err(invalid(role, segment, SegmentProblem::ForbiddenCharacter(c))),
        None => Ok(segment),
    }
}

fn non_empty_segment<'a>(role: &'static str, segment: &'a str) -> Result<&'a str, TopicError> {
    if segment.is_empty() { Err(invalid(role, segment, SegmentProblem::Empty)) } else { Ok(segment) }
}

fn invalid(role: &'static str, segment: &str, problem: SegmentProblem) -> TopicError {
    TopicError::InvalidSegment { role, segment: segment.to_owned(), problem }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builders_assemble_the_reference_topics() {
        assert_eq!(decky_lifecycle("web-1").unwrap(), "decky.web-1.lifecycle");
        assert_eq!(decky_mutation("web-1").unwrap(), "decky.web-1.mutation");
        assert_eq!(decky("web-1", DECKY_SERVICE_ADDED).unwrap(), "decky.web-1.service_added");
        assert_eq!(decky("web-1", DECKY_MUTATE_REQUEST).unwrap(), "decky.web-1.mutate_request");
        assert_eq!(attacker(ATTACKER_OBSERVED).unwrap(), "attacker.observed");
        assert_eq!(attacker("session.started").unwrap(), "attacker.session.started");
        assert_eq!(system("bus.health").unwrap(), "system.bus.health");
        assert_eq!(system(SYSTEM_HEALTH).unwrap(), "system.health");
    }

    #[test]
    fn decky_builders_reject_bad_segments_and_name_them() {
        let cases = [
            ("", SegmentProblem::Empty),
            ("a.b", SegmentProblem::ForbiddenCharacter('.')),
            ("*", SegmentProblem::ForbiddenCharacter('*')),
            ("web>", SegmentProblem::ForbiddenCharacter('>')),
            ("web 1", SegmentProblem::ForbiddenCharacter(' ')),
            ("web\t1", SegmentProblem::ForbiddenCharacter('\t')),
            ("web\n", SegmentProblem::ForbiddenCharacter('\n')),
        ];
        for (bad, problem) in cases {
            let expected = TopicError::InvalidSegment { role: "decky name", segment: bad.into(), problem };
            assert_eq!(decky_lifecycle(bad), Err(expected.clone()), "{bad:?}");
            assert_eq!(decky_mutation(bad), Err(expected.clone()), "{bad:?}");
            assert_eq!(decky(bad, DECKY_STATE), Err(expected), "{bad:?}");
            let as_event = decky("web-1", bad).unwrap_err();
            assert!(
                matches!(as_event, TopicError::InvalidSegment { role: "decky event", ref segment, .. } if segment == bad)
            );
        }
    }

    #[test]
    fn error_message_names_the_segment() {
        let message = decky_lifecycle("a.b").unwrap_err().to_string();
        assert!(message.contains("\"a.b\""), "{message}");
        assert!(message.contains("'.'"), "{message}");
    }

    #[test]
    fn dotted_builders_only_require_non_empty() {
        assert!(matches!(
            attacker(""),
            Err(TopicError::InvalidSegment { problem: SegmentProblem::Empty, .. })
        ));
        assert!(matches!(system(""), Err(TopicError::InvalidSegment { problem: SegmentProblem::Empty, .. })));
    }
}
