//! A small INI reader with Python `configparser` semantics, as the original read its
//! deployment files (`interpolation=None, allow_no_value=True, strict=False`), that also
//! records where every section and key was written.
//!
//! * `[name]` starts a section; names are case-sensitive and kept verbatim.
//! * `key = value` or `key: value` (the first `=` or `:` splits); keys are lower-cased;
//!   key and value are trimmed. A line with no delimiter is a key without a value.
//! * A line whose first non-blank character is `#` or `;` is a comment. Inline comments are
//!   NOT stripped: `services = ssh # main` has the value `ssh # main`.
//! * A line indented deeper than its key's line continues the value (joined with `\n`);
//!   blank lines inside a value are kept, trailing ones dropped.
//! * A repeated section is merged into the first; a repeated key overwrites.
//! * `[DEFAULT]` is not a section: its keys apply to every section that lacks them.
//! * No `%` interpolation.

use indexmap::IndexMap;

use super::IniError;

/// One key of a section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    /// `None` for a key written without a delimiter.
    pub value: Option<String>,
    /// 1-based line of the key (of its last definition).
    pub line: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Section {
    pub name: String,
    /// 1-based line of the section's first header.
    pub line: usize,
    /// Keys (lower-cased) in first-written order, then `[DEFAULT]` keys the section lacks.
    pub entries: IndexMap<String, Entry>,
}

impl Section {
    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.entries.get(key)
    }
}

/// What the parser is filling in: the `[DEFAULT]` pseudo-section or a real one.
#[derive(Clone, Copy)]
enum Target {
    Defaults,
    Section(usize),
}

/// The key whose value continuation lines extend.
struct OpenValue {
    target: Target,
    key: String,
    /// Indentation (in characters) of the key's line; a continuation is indented deeper.
    indent: usize,
}

#[derive(Default)]
struct Reader {
    sections: Vec<Section>,
    defaults: IndexMap<String, Entry>,
    /// Lines of each value under construction, joined at the end.
    lines: IndexMap<(usize, String), Vec<String>>,
}

const DEFAULTS_KEY: usize = usize::MAX;

impl Reader {
    fn entries(&mut self, target: Target) -> &mut IndexMap<String, Entry> {
        match target {
            Target::Defaults => &mut self.defaults,
            Target::Section(i) => &mut self.sections[i].entries,
        }
    }

    fn open_section(&mut self, name: &str, line: usize) -> Target {
        if name == "DEFAULT" {
            return Target::Defaults;
        }
        if let Some(i) = self.sections.iter().position(|s| s.name == name) {
            return Target::Section(i);
        }
        self.sections.push(Section { name: name.to_owned(), line, entries: IndexMap::new() });
        Target::Section(self.sections.len() - 1)
    }

    fn set(&mut self, target: Target, key: String, value: Option<String>, line: usize) {
        let slot = match target {
            Target::Defaults => DEFAULTS_KEY,
            Target::Section(i) => i,
        };
        match &value {
            Some(v) => {
                self.lines.insert((slot, key.clone()), vec![v.clone()]);
            }
            None => {
                self.lines.shift_remove(&(slot, key.clone()));
            }
        }
        self.entries(target).insert(key, Entry { value, line });
    }

    /// Appends a continuation line to `open`'s value; `false` when the key has no value to
    /// continue.
    fn continue_value(&mut self, open: &OpenValue, text: &str) -> bool {
        let slot = match open.target {
            Target::Defaults => DEFAULTS_KEY,
            Target::Section(i) => i,
        };
        match self.lines.get_mut(&(slot, open.key.clone())) {
            Some(lines) => {
                lines.push(text.to_owned());
                true
            }
            None => false,
        }
    }

    fn finish(mut self) -> Document {
        for ((slot, key), lines) in std::mem::take(&mut self.lines) {
            let joined = lines.join("\n").trim_end().to_owned();
            let target = if slot == DEFAULTS_KEY { Target::Defaults } else { Target::Section(slot) };
            if let Some(entry) = self.entries(target).get_mut(&key) {
                entry.value = Some(joined);
            }
        }
        for section in &mut self.sections {
            for (key, entry) in &self.defaults {
                section.entries.entry(key.clone()).or_insert_with(|| entry.clone());
            }
        }
        Document { sections: self.sections }
    }
}

/// A parsed INI file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Document {
    /// Real sections (never `[DEFAULT]`), in first-appearance order.
    pub sections: Vec<Section>,
}

fn is_comment(line: &str) -> bool {
    let trimmed = line.trim();
    trimmed.starts_with('#') || trimmed.starts_with(';')
}

/// The name of a section header: configparser's `\[(?P<header>.+)\]` matched at the start of
/// the trimmed line, greedy, so the name runs to the line's last `]`.
fn section_header(trimmed: &str) -> Option<&str> {
    let rest = trimmed.strip_prefix('[')?;
    let end = rest.rfind(']')?;
    (end > 0).then(|| &rest[..end])
}

/// Splits `key = value` / `key: value` at the first delimiter; `None` value when there is
/// none.
fn split_option(trimmed: &str) -> (&str, Option<&str>) {
    match trimmed.find(['=', ':']) {
        Some(at) => (trimmed[..at].trim_end(), Some(trimmed[at + 1..].trim())),
        None => (trimmed, None),
    }
}

fn indentation(line: &str) -> usize {
    line.chars().take_while(|c| c.is_whitespace()).count()
}

/// Parses `text` (line endings already normalised to `\n`).
pub(crate) fn parse(text: &str) -> Result<Document, IniError> {
    let mut reader = Reader::default();
    let mut current: Option<Target> = None;
    let mut open: Option<OpenValue> = None;

    for (index, line) in text.split('\n').enumerate() {
        let line_no = index + 1;
        if is_comment(line) {
            continue;
        }
        let trimmed = line.trim();
        if trimmed.is_empty() {
            // A blank line inside a value is part of it (trailing ones are trimmed later).
            if let Some(open) = &open {
                reader.continue_value(open, "");
            }
            continue;
        }
        let indent = indentation(line);
        if let Some(value) = open.as_ref().filter(|o| indent > o.indent) {
            if !reader.continue_value(value, trimmed) {
                return Err(IniError::at(
                    line_no,
                    format!(
                        "Invalid INI format: continuation line after '{}', which has no value",
                        value.key
                    ),
                ));
            }
            continue;
        }
        if let Some(name) = section_header(trimmed) {
            current = Some(reader.open_section(name, line_no));
            open = None;
            continue;
        }
        let Some(target) = current else {
            return Err(IniError::at(line_no, "Invalid INI format: no sections found"));
        };
        let (key, value) = split_option(trimmed);
        if key.is_empty() {
            return Err(IniError::at(
                line_no,
                format!("Invalid INI format: a key is needed before the delimiter in '{trimmed}'"),
            ));
        }
        let key = key.to_lowercase();
        reader.set(target, key.clone(), value.map(str::to_owned), line_no);
        open = Some(OpenValue { target, key, indent });
    }
    Ok(reader.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value<'a>(doc: &'a Document, section: &str, key: &str) -> Option<&'a str> {
        doc.sections.iter().find(|s| s.name == section)?.get(key)?.value.as_deref()
    }

    #[test]
    fn sections_keys_and_delimiters() {
        let doc =
            parse("[general]\nNet = 10.0.0.0/24\ngw: 10.0.0.1\n\n[Decky-01]\nservices=ssh,http\n").unwrap();
        assert_eq!(doc.sections.len(), 2);
        assert_eq!(doc.sections[1].name, "Decky-01", "section names keep their case");
        assert_eq!(value(&doc, "general", "net"), Some("10.0.0.0/24"), "keys are lower-cased");
        assert_eq!(value(&doc, "general", "gw"), Some("10.0.0.1"));
        assert_eq!(value(&doc, "Decky-01", "services"), Some("ssh,http"));
        assert_eq!(doc.sections[1].line, 5);
        assert_eq!(doc.sections[1].get("services").unwrap().line, 6);
    }

    #[test]
    fn first_delimiter_splits() {
        let doc = parse("[s]\nupstream = 8.8.8.8:53\nurl: http://x=y\n").unwrap();
        assert_eq!(value(&doc, "s", "upstream"), Some("8.8.8.8:53"));
        assert_eq!(value(&doc, "s", "url"), Some("http://x=y"));
    }

    #[test]
    fn comments_are_whole_lines_only() {
        let doc = parse("# top\n[s]\n  ; indented comment\nservices = ssh # main\n").unwrap();
        assert_eq!(value(&doc, "s", "services"), Some("ssh # main"));
        assert_eq!(doc.sections[0].entries.len(), 1);
    }

    #[test]
    fn keys_without_values() {
        let doc = parse("[s]\nflag\nempty =\n").unwrap();
        assert_eq!(doc.sections[0].get("flag").unwrap().value, None);
        assert_eq!(value(&doc, "s", "empty"), Some(""));
    }

    #[test]
    fn continuation_lines_join_with_newlines() {
        let doc = parse("[s]\nbody = first\n  second\n\n  third\n\n\nnext = 1\n").unwrap();
        assert_eq!(value(&doc, "s", "body"), Some("first\nsecond\n\nthird"));
        assert_eq!(value(&doc, "s", "next"), Some("1"));
    }

    #[test]
    fn comment_inside_a_value_does_not_end_it() {
        let doc = parse("[s]\nbody = a\n# note\n  b\n").unwrap();
        assert_eq!(value(&doc, "s", "body"), Some("a\nb"));
    }

    #[test]
    fn indented_key_lines_are_not_continuations_of_a_section_header() {
        let doc = parse("[s]\n  key = v\n  other = w\n").unwrap();
        assert_eq!(value(&doc, "s", "key"), Some("v"));
        assert_eq!(value(&doc, "s", "other"), Some("w"));
    }

    #[test]
    fn duplicate_sections_merge_and_keys_overwrite() {
        let doc = parse("[s]\na = 1\nb = 2\n[t]\n[s]\na = 3\n").unwrap();
        assert_eq!(doc.sections.len(), 2);
        assert_eq!(doc.sections[0].line, 1);
        assert_eq!(value(&doc, "s", "a"), Some("3"));
        assert_eq!(doc.sections[0].get("a").unwrap().line, 6);
        assert_eq!(value(&doc, "s", "b"), Some("2"));
    }

    #[test]
    fn default_section_fills_every_section() {
        let doc = parse("[DEFAULT]\nservices = ssh\n[a]\n[b]\nservices = http\n").unwrap();
        assert_eq!(doc.sections.len(), 2);
        assert_eq!(value(&doc, "a", "services"), Some("ssh"));
        assert_eq!(value(&doc, "b", "services"), Some("http"));
    }

    #[test]
    fn header_runs_to_the_last_bracket() {
        let doc = parse("[a] ; not a comment]\n[]]\n").unwrap();
        assert_eq!(doc.sections[0].name, "a] ; not a comment");
        assert_eq!(doc.sections[1].name, "]");
        // `[]` is not a header: it is a key without a value.
        let doc = parse("[s]\n[]\n").unwrap();
        assert!(doc.sections[0].get("[]").is_some());
    }

    #[test]
    fn no_interpolation() {
        let doc = parse("[s]\nv = 100% %(x)s\n").unwrap();
        assert_eq!(value(&doc, "s", "v"), Some("100% %(x)s"));
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(
            parse("\nkey = v\n[s]\n").unwrap_err().to_string(),
            "line 2: Invalid INI format: no sections found"
        );
        assert_eq!(
            parse("[s]\n= v\n").unwrap_err().to_string(),
            "line 2: Invalid INI format: a key is needed before the delimiter in '= v'"
        );
        assert_eq!(
            parse("[s]\nflag\n  more\n").unwrap_err().to_string(),
            "line 3: Invalid INI format: continuation line after 'flag', which has no value"
        );
    }
}
