//! Subscription patterns: dot-separated tokens where `*` matches exactly one non-empty token and
//! a final `>` matches one or more trailing tokens (reference §5.6). `decky.>` therefore does
//! not match the bare topic `decky`.

use thiserror::Error;

/// A pattern string that cannot be used for subscribing.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PatternError {
    #[error("pattern {pattern:?} has an empty token")]
    EmptyToken { pattern: String },
    #[error("pattern {pattern:?} uses `>` before its last token")]
    TailWildcardNotLast { pattern: String },
    #[error("pattern {pattern:?} mixes a wildcard with other characters in token {token:?}")]
    PartialWildcard { pattern: String, token: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(String),
    /// `*`: exactly one non-empty token.
    AnyOne,
    /// `>`: one or more trailing tokens. Invariant: only ever the last token.
    Tail,
}

/// A parsed, valid subscription pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    source: String,
    tokens: Vec<Token>,
}

impl Pattern {
    /// Parses `pattern`. Every token must be non-empty; `*` and `>` must be whole tokens and `>`
    /// may only be the last one.
    pub fn new(pattern: &str) -> Result<Pattern, PatternError> {
        let raw: Vec<&str> = pattern.split('.').collect();
        let last = raw.len() - 1;
        let tokens = raw
            .iter()
            .enumerate()
            .map(|(index, token)| parse_token(pattern, token, index == last))
            .collect::<Result<_, _>>()?;
        Ok(Pattern { source: pattern.to_owned(), tokens })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether `topic` is one this pattern subscribes to.
    pub fn matches(&self, topic: &str) -> bool {
        let mut topic_tokens = topic.split('.');
        for token in &self.tokens {
            let token_matches = match token {
                // `>` needs at least one more non-empty token; the rest may be anything.
                Token::Tail => return next_is_non_empty(&mut topic_tokens),
                Token::AnyOne => next_is_non_empty(&mut topic_tokens),
                Token::Literal(literal) => topic_tokens.next() == Some(literal.as_str()),
            };
            if !token_matches {
                return false;
            }
        }
        topic_tokens.next().is_none()
    }
}

impl std::str::FromStr for Pattern {
    type Err = PatternError;

    fn from_str(pattern: &str) -> Result<Pattern, PatternError> {
        Pattern::new(pattern)
    }
}

impl std::fmt::Display for Pattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.source)
    }
}

/// Consumes one topic token; true when it exists and is non-empty (what a wildcard needs).
fn next_is_non_empty<'a>(topic_tokens: &mut impl Iterator<Item = &'a str>) -> bool {
    topic_tokens.next().is_some_and(|t| !t.is_empty())
}

fn parse_token(pattern: &str, token: &str, is_last: bool) -> Result<Token, PatternError> {
    match token {
        "" => Err(PatternError::EmptyToken { pattern: pattern.to_owned() }),
        "*" => Ok(Token::AnyOne),
        ">" if is_last => Ok(Token::Tail),
        ">" => Err(PatternError::TailWildcardNotLast { pattern: pattern.to_owned() }),
        _ if token.contains(['*', '>']) => {
            Err(PatternError::PartialWildcard { pattern: pattern.to_owned(), token: token.to_owned() })
        }
        _ => Ok(Token::Literal(token.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_matching_table() {
        let table = [
            // exact
            ("decky.web-1.lifecycle", "decky.web-1.lifecycle", true),
            ("decky.web-1.lifecycle", "decky.web-2.lifecycle", false),
            ("decky.web-1.lifecycle", "decky.web-1", false),
            ("decky.web-1.lifecycle", "decky.web-1.lifecycle.extra", false),
            // `*` is exactly one non-empty token
            ("decky.*.lifecycle", "decky.web-1.lifecycle", true),
            ("decky.*.lifecycle", "decky.web-1.mutation", false),
            ("decky.*.lifecycle", "decky.lifecycle", false),
            ("decky.*.lifecycle", "decky..lifecycle", false),
            ("decky.*.lifecycle", "decky.a.b.lifecycle", false),
            ("decky.*.mutate_request", "decky.web-1.mutate_request", true),
            ("topology.*.mutation.enqueued", "topology.t1.mutation.enqueued", true),
            ("*", "decky", true),
            ("*", "decky.web-1", false),
            ("*", "", false),
            // `>` is one or more trailing tokens
            ("decky.>", "decky.web-1", true),
            ("decky.>", "decky.web-1.lifecycle", true),
            ("decky.>", "decky", false),
            ("decky.>", "decky.", false),
            ("decky.>", "deckyx.web-1", false),
            ("topology.>", "topology", false),
            ("topology.t1.>", "topology.t1.mutation.applied", true),
            ("topology.t1.>", "topology.t2.mutation.applied", false),
            ("system.*.health", "system.mutator.health", true),
            ("system.*.health", "system.health", false),
            ("*.*.>", "decky.web-1.lifecycle", true),
            ("*.*.>", "decky.web-1", false),
            (">", "decky", true),
            (">", "decky.web-1.lifecycle", true),
        ];
        for (pattern, topic, expected) in table {
            let parsed = Pattern::new(pattern).unwrap();
            assert_eq!(parsed.matches(topic), expected, "pattern {pattern:?} vs topic {topic:?}");
        }
    }

    #[test]
    fn invalid_patterns_are_rejected() {
        assert!(matches!(Pattern::new(""), Err(PatternError::EmptyToken { .. })));
        assert!(matches!(Pattern::new("decky..lifecycle"), Err(PatternError::EmptyToken { .. })));
        assert!(matches!(Pattern::new("decky."), Err(PatternError::EmptyToken { .. })));
        assert!(matches!(Pattern::new("decky.>.lifecycle"), Err(PatternError::TailWildcardNotLast { .. })));
        assert!(matches!(Pattern::new("decky.web*"), Err(PatternError::PartialWildcard { .. })));
        assert!(matches!(Pattern::new("decky.a>"), Err(PatternError::PartialWildcard { .. })));
    }

    #[test]
    fn displays_as_written() {
        let pattern: Pattern = "decky.*.lifecycle".parse().unwrap();
        assert_eq!(pattern.to_string(), "decky.*.lifecycle");
        assert_eq!(pattern.as_str(), "decky.*.lifecycle");
    }
}
