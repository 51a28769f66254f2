//! The text filters intruders pipe output through (`grep`, `wc`, `head`, `awk '{print $2}'`,
//! `base64 -d`, ...): pure functions of their arguments and input text.

use crate::codec::base64_encode;
use std::cell::Cell;
use std::fmt::Write as _;

/// A parsed filter invocation's result: output, errors, exit status.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Filtered {
    pub out: String,
    pub err: String,
    pub status: u8,
}

impl Filtered {
    fn ok(out: String) -> Filtered {
        Filtered { out, err: String::new(), status: 0 }
    }

    fn fail(err: String, status: u8) -> Filtered {
        Filtered { out: String::new(), err, status }
    }
}

/// Regular expressions as `grep` takes them: literals, `.`, `*`, `+`, `?` (extended),
/// `^`, `$`, bracket classes and alternation (`|` extended, `\|` basic). Matching is
/// backtracking within a step budget shared by every line one expression is run on, so no
/// pattern and no input can make one `grep` cost more than [`Regex::MAX_STEPS`] steps:
/// once spent, nothing more matches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Regex {
    alternatives: Vec<Vec<Atom>>,
    ignore_case: bool,
    /// Steps left.
    budget: Cell<usize>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Atom {
    Start,
    End,
    Repeat { item: Item, min: usize, max: Option<usize> },
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Item {
    Char(char),
    Any,
    Class { negated: bool, ranges: Vec<(char, char)> },
}

impl Item {
    fn matches(&self, c: char, ignore_case: bool) -> bool {
        let fold = |c: char| if ignore_case { c.to_ascii_lowercase() } else { c };
        match self {
            Item::Any => true,
            Item::Char(x) => fold(*x) == fold(c),
            Item::Class { negated, ranges } => {
                let hit = ranges.iter().any(|&(lo, hi)| {
                    (lo..=hi).contains(&c)
                        || ignore_case && (lo..=hi).contains(&c.to_ascii_lowercase())
                        || ignore_case && (lo..=hi).contains(&c.to_ascii_uppercase())
                });
                hit != *negated
            }
        }
    }
}

impl Regex {
    /// About a millisecond of matching.
    pub const MAX_STEPS: usize = 200_000;

    /// Compiles `pattern`; `extended` is `grep -E`, `fixed` is `grep -F`.
    pub fn new(pattern: &str, extended: bool, fixed: bool, ignore_case: bool) -> Regex {
        let alternatives = if fixed {
            pattern
                .split('\n')
                .map(|p| {
                    p.chars().map(|c| Atom::Repeat { item: Item::Char(c), min: 1, max: Some(1) }).collect()
                })
                .collect()
        } else {
            split_alternatives(pattern, extended).iter().map(|p| compile(p, extended)).collect()
        };
        Regex { alternatives, ignore_case, budget: Cell::new(Self::MAX_STEPS) }
    }

    /// The first match in `line`: (start, end) in chars.
    pub fn find(&self, line: &str) -> Option<(usize, usize)> {
        let limit = self.budget.get();
        if limit == 0 {
            return None;
        }
        let chars: Vec<char> = line.chars().collect();
        let mut steps = 0;
        let mut found = None;
        'search: for start in 0..=chars.len() {
            for atoms in &self.alternatives {
                if let Some(end) = self.match_here(atoms, &chars, start, start, (&mut steps, limit)) {
                    found = Some((start, end));
                    break 'search;
                }
            }
            if steps > limit {
                break;
            }
        }
        self.budget.set(limit.saturating_sub(steps));
        found.filter(|_| steps <= limit)
    }

    pub fn is_match(&self, line: &str) -> bool {
        self.find(line).is_some()
    }

    /// The end of a match of `atoms` at `pos`, counting steps against `limit`.
    fn match_here(
        &self,
        atoms: &[Atom],
        text: &[char],
        start: usize,
        pos: usize,
        (steps, limit): (&mut usize, usize),
    ) -> Option<usize> {
        *steps += 1;
        if *steps > limit {
            return None;
        }
        let Some((atom, rest)) = atoms.split_first() else { return Some(pos) };
        match atom {
            Atom::Start => (pos == 0 && start == 0)
                .then(|| self.match_here(rest, text, start, pos, (&mut *steps, limit)))?,
            Atom::End => {
                (pos == text.len()).then(|| self.match_here(rest, text, start, pos, (&mut *steps, limit)))?
            }
            Atom::Repeat { item, min, max } => {
                let mut count = 0;
                while max.is_none_or(|max| count < max)
                    && pos + count < text.len()
                    && item.matches(text[pos + count], self.ignore_case)
                {
                    count += 1;
                }
                // Greedy: the longest repetition first.
                loop {
                    if count < *min {
                        return None;
                    }
                    if let Some(end) = self.match_here(rest, text, start, pos + count, (&mut *steps, limit)) {
                        return Some(end);
                    }
                    if count == 0 || *steps > limit {
                        return None;
                    }
                    count -= 1;
                }
            }
        }
    }
}

/// Splits a pattern on top-level alternation.
fn split_alternatives(pattern: &str, extended: bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut chars = pattern.chars().peekable();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '[' if !in_class => {
                in_class = true;
                current.push(c);
            }
            ']' if in_class => {
                in_class = false;
                current.push(c);
            }
            '|' if extended && !in_class => out.push(std::mem::take(&mut current)),
            '\\' if !in_class && chars.peek() == Some(&'|') && !extended => {
                chars.next();
                out.push(std::mem::take(&mut current));
            }
            '\\' => {
                current.push(c);
                if let Some(next) = chars.next() {
                    current.push(next);
                }
            }
            c => current.push(c),
        }
    }
    out.push(current);
    out
}

fn compile(pattern: &str, extended: bool) -> Vec<Atom> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut atoms = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        let item = match c {
            '^' if atoms.is_empty() => {
                atoms.push(Atom::Start);
                continue;
            }
            '$' if i == chars.len() => {
                atoms.push(Atom::End);
                continue;
            }
            '.' => Item::Any,
            '[' => {
                let (item, next) = class(&chars, i);
                i = next;
                item
            }
            '\\' if i < chars.len() => {
                let escaped = chars[i];
                i += 1;
                match escaped {
                    'd' => Item::Class { negated: false, ranges: vec![('0', '9')] },
                    's' => Item::Class { negated: false, ranges: vec![(' ', ' '), ('\t', '\t')] },
                    'w' => Item::Class {
                        negated: false,
                        ranges: vec![('a', 'z'), ('A', 'Z'), ('0', '9'), ('_', '_')],
                    },
                    c => Item::Char(c),
                }
            }
            '(' | ')' if extended => continue,
            c => Item::Char(c),
        };
        let (min, max) = match chars.get(i) {
            Some('*') => (0, None),
            Some('+') if extended => (1, None),
            Some('?') if extended => (0, Some(1)),
            _ => (1, Some(1)),
        };
        if (min, max) != (1, Some(1)) {
            i += 1;
        }
        atoms.push(Atom::Repeat { item, min, max });
    }
    atoms
}

/// A bracket expression starting after `[` at `i`: the item and the index after `]`.
fn class(chars: &[char], mut i: usize) -> (Item, usize) {
    let negated = chars.get(i) == Some(&'^');
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    let mut first = true;
    while i < chars.len() && (chars[i] != ']' || first) {
        first = false;
        if chars[i] == '[' && chars.get(i + 1) == Some(&':') {
            let end = chars[i..].iter().collect::<String>().find(":]").map(|e| i + e + 2);
            if let Some(end) = end {
                let name: String = chars[i + 2..end - 2].iter().collect();
                ranges.extend(match name.as_str() {
                    "digit" => vec![('0', '9')],
                    "alpha" => vec![('a', 'z'), ('A', 'Z')],
                    "alnum" => vec![('a', 'z'), ('A', 'Z'), ('0', '9')],
                    "upper" => vec![('A', 'Z')],
                    "lower" => vec![('a', 'z')],
                    "space" => vec![(' ', ' '), ('\t', '\t')],
                    _ => vec![],
                });
                i = end;
                continue;
            }
        }
        let lo = chars[i];
        if chars.get(i + 1) == Some(&'-') && chars.get(i + 2).is_some_and(|&c| c != ']') {
            ranges.push((lo, chars[i + 2]));
            i += 3;
        } else {
            ranges.push((lo, lo));
            i += 1;
        }
    }
    (Item::Class { negated, ranges }, (i + 1).min(chars.len()))
}

/// A file's text, or the error to print for it.
pub type Source = (String, Result<String, &'static str>);

/// `grep [-ivcnqlhoEFw] [-e] PATTERN`, over `sources` (name, text) or standard input.
pub fn grep(args: &[String], stdin: &str, read: &dyn Fn(&str) -> Result<String, &'static str>) -> Filtered {
    let mut flags = String::new();
    let mut patterns = Vec::new();
    let mut files = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "-e" | "--regexp" => patterns.extend(rest.next().cloned()),
            "--color=auto" | "--color" | "--colour=auto" => {}
            a if a.starts_with("--") => {}
            a if a.starts_with('-') && a.len() > 1 => flags.push_str(&a[1..]),
            a if patterns.is_empty() && !flags.contains('e') => patterns.push(a.to_owned()),
            a => files.push(a.to_owned()),
        }
    }
    let Some(pattern) = (!patterns.is_empty()).then(|| patterns.join("\n")) else {
        return Filtered::fail(
            "Usage: grep [OPTION]... PATTERNS [FILE]...\nTry 'grep --help' for more information.\n".into(),
            2,
        );
    };
    let has = |flag: char| flags.contains(flag);
    let extended = has('E') || args.first().is_some_and(|a| a == "egrep");
    let regex = Regex::new(&pattern.replace('\n', "|"), extended || patterns.len() > 1, has('F'), has('i'));
    let word = has('w');
    let sources: Vec<Source> = if files.is_empty() {
        vec![("(standard input)".into(), Ok(stdin.to_owned()))]
    } else {
        files.iter().map(|f| (f.clone(), read(f))).collect()
    };
    let show_names = sources.len() > 1 && !has('h');
    let mut result = Filtered::default();
    let mut matched = false;
    for (name, text) in sources {
        let text = match text {
            Ok(text) => text,
            Err(error) => {
                let _ = writeln!(result.err, "grep: {name}: {error}");
                result.status = 2;
                continue;
            }
        };
        let mut count = 0;
        for (number, line) in text.lines().enumerate() {
            let hit = regex.find(line).filter(|&(start, end)| !word || is_word_match(line, start, end));
            if hit.is_some() == has('v') {
                continue;
            }
            count += 1;
            matched = true;
            if has('q') || has('c') || has('l') {
                continue;
            }
            if show_names {
                let _ = write!(result.out, "{name}:");
            }
            if has('n') {
                let _ = write!(result.out, "{}:", number + 1);
            }
            match hit.filter(|_| has('o')) {
                Some((start, end)) => {
                    let _ = writeln!(
                        result.out,
                        "{}",
                        line.chars().skip(start).take(end - start).collect::<String>()
                    );
                }
                None => {
                    let _ = writeln!(result.out, "{line}");
                }
            }
        }
        if has('c') {
            if show_names {
                let _ = write!(result.out, "{name}:");
            }
            let _ = writeln!(result.out, "{count}");
        }
        if has('l') && count > 0 {
            let _ = writeln!(result.out, "{name}");
        }
    }
    if has('q') {
        result.out.clear();
    }
    if result.status == 0 && !matched {
        result.status = 1;
    }
    result
}

fn is_word_match(line: &str, start: usize, end: usize) -> bool {
    let chars: Vec<char> = line.chars().collect();
    let word = |c: Option<&char>| c.is_some_and(|c| c.is_alphanumeric() || *c == '_');
    !word(start.checked_sub(1).and_then(|i| chars.get(i))) && !word(chars.get(end))
}

/// The texts a filter reads: its file arguments, or standard input.
fn inputs(files: &[String], stdin: &str, read: &dyn Fn(&str) -> Result<String, &'static str>) -> Vec<Source> {
    if files.is_empty() || files.iter().all(|f| f == "-") {
        vec![(String::new(), Ok(stdin.to_owned()))]
    } else {
        files.iter().map(|f| (f.clone(), read(f))).collect()
    }
}

/// `wc [-lwcm]`.
pub fn wc(args: &[String], stdin: &str, read: &dyn Fn(&str) -> Result<String, &'static str>) -> Filtered {
    let flags: String = args.iter().filter(|a| a.starts_with('-') && a.len() > 1).map(|a| &a[1..]).collect();
    let files: Vec<String> = args.iter().filter(|a| !a.starts_with('-') || *a == "-").cloned().collect();
    let (lines, words, bytes) = if flags.is_empty() {
        (true, true, true)
    } else {
        (flags.contains('l'), flags.contains('w'), flags.contains('c') || flags.contains('m'))
    };
    let mut result = Filtered::default();
    let sources = inputs(&files, stdin, read);
    let only_stdin = files.is_empty();
    let mut totals = [0usize; 3];
    let total_size: usize = sources.iter().filter_map(|(_, text)| text.as_ref().ok()).map(String::len).sum();
    for (name, text) in &sources {
        let text = match text {
            Ok(text) => text,
            Err(error) => {
                let _ = writeln!(result.err, "wc: {name}: {error}");
                result.status = 1;
                continue;
            }
        };
        let counts = [text.matches('\n').count(), text.split_whitespace().count(), text.len()];
        for (total, count) in totals.iter_mut().zip(counts) {
            *total += count;
        }
        let selected: Vec<usize> = [(lines, counts[0]), (words, counts[1]), (bytes, counts[2])]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, n)| *n)
            .collect();
        // GNU wc pads to the width of the total size, at least 7 for pipes; a single count
        // is not padded.
        let width = if selected.len() == 1 {
            1
        } else if only_stdin {
            7
        } else {
            total_size.to_string().len()
        };
        let line = selected.iter().map(|n| format!("{n:>width$}")).collect::<Vec<_>>().join(" ");
        if only_stdin {
            let _ = writeln!(result.out, "{line}");
        } else {
            let _ = writeln!(result.out, "{line} {name}");
        }
    }
    if sources.len() > 1 {
        let selected: Vec<usize> = [(lines, totals[0]), (words, totals[1]), (bytes, totals[2])]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, n)| *n)
            .collect();
        let width = if selected.len() == 1 { 1 } else { total_size.to_string().len() };
        let _ = writeln!(
            result.out,
            "{} total",
            selected.iter().map(|n| format!("{n:>width$}")).collect::<Vec<_>>().join(" ")
        );
    }
    result
}

/// `head`/`tail` `[-n N | -N | -c N]`.
pub fn head_tail(
    tail: bool,
    args: &[String],
    stdin: &str,
    read: &dyn Fn(&str) -> Result<String, &'static str>,
) -> Filtered {
    let mut count = 10usize;
    let mut bytes = false;
    let mut from_start = false;
    let mut files = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let value = match arg.as_str() {
            "-n" | "--lines" => rest.next().cloned(),
            "-c" | "--bytes" => {
                bytes = true;
                rest.next().cloned()
            }
            "-f" | "-q" | "-F" => continue,
            a if a.starts_with("-n") => Some(a[2..].to_owned()),
            a if a.starts_with('-') && a[1..].chars().all(|c| c.is_ascii_digit()) && a.len() > 1 => {
                Some(a[1..].to_owned())
            }
            a => {
                files.push(a.to_owned());
                continue;
            }
        };
        if let Some(value) = value {
            from_start = tail && value.starts_with('+');
            count = value.trim_start_matches('+').parse().unwrap_or(10);
        }
    }
    let name = if tail { "tail" } else { "head" };
    let mut result = Filtered::default();
    let sources = inputs(&files, stdin, read);
    let many = sources.len() > 1;
    for (i, (file, text)) in sources.iter().enumerate() {
        let text = match text {
            Ok(text) => text,
            Err(error) => {
                let _ = writeln!(result.err, "{name}: cannot open '{file}' for reading: {error}");
                result.status = 1;
                continue;
            }
        };
        if many {
            let _ = writeln!(result.out, "{}==> {file} <==", if i > 0 { "\n" } else { "" });
        }
        if bytes {
            let data = text.as_bytes();
            let slice =
                if tail { &data[data.len().saturating_sub(count)..] } else { &data[..count.min(data.len())] };
            result.out.push_str(&String::from_utf8_lossy(slice));
            continue;
        }
        let lines: Vec<&str> = text.split_inclusive('\n').collect();
        let selected = match (tail, from_start) {
            (false, _) => &lines[..count.min(lines.len())],
            (true, true) => &lines[count.saturating_sub(1).min(lines.len())..],
            (true, false) => &lines[lines.len().saturating_sub(count)..],
        };
        result.out.extend(selected.iter().copied());
    }
    result
}

/// `sort [-rnuf]`.
pub fn sort(args: &[String], stdin: &str, read: &dyn Fn(&str) -> Result<String, &'static str>) -> Filtered {
    let flags: String = args.iter().filter(|a| a.starts_with('-') && a.len() > 1).map(|a| &a[1..]).collect();
    let files: Vec<String> = args.iter().filter(|a| !a.starts_with('-')).cloned().collect();
    let mut lines: Vec<String> = Vec::new();
    for (name, text) in inputs(&files, stdin, read) {
        match text {
            Ok(text) => lines.extend(text.lines().map(str::to_owned)),
            Err(error) => return Filtered::fail(format!("sort: cannot read: {name}: {error}\n"), 2),
        }
    }
    if flags.contains('n') {
        let key = |l: &str| l.split_whitespace().next().and_then(|n| n.parse::<f64>().ok()).unwrap_or(0.0);
        lines.sort_by(|a, b| key(a).total_cmp(&key(b)));
    } else if flags.contains('f') {
        lines.sort_by_key(|l| l.to_lowercase());
    } else {
        lines.sort();
    }
    if flags.contains('r') {
        lines.reverse();
    }
    if flags.contains('u') {
        lines.dedup();
    }
    Filtered::ok(lines.iter().map(|l| format!("{l}\n")).collect())
}

/// `uniq [-c] [-d] [-u]`.
pub fn uniq(args: &[String], stdin: &str, read: &dyn Fn(&str) -> Result<String, &'static str>) -> Filtered {
    let flags: String = args.iter().filter(|a| a.starts_with('-') && a.len() > 1).map(|a| &a[1..]).collect();
    let files: Vec<String> = args.iter().filter(|a| !a.starts_with('-')).take(1).cloned().collect();
    let text = match inputs(&files, stdin, read).remove(0).1 {
        Ok(text) => text,
        Err(error) => return Filtered::fail(format!("uniq: {}: {error}\n", files.join("")), 1),
    };
    let mut groups: Vec<(usize, &str)> = Vec::new();
    for line in text.lines() {
        match groups.last_mut() {
            Some((count, last)) if *last == line => *count += 1,
            _ => groups.push((1, line)),
        }
    }
    let mut out = String::new();
    for (count, line) in groups {
        if flags.contains('d') && count < 2 || flags.contains('u') && count > 1 {
            continue;
        }
        if flags.contains('c') {
            let _ = writeln!(out, "{count:>7} {line}");
        } else {
            let _ = writeln!(out, "{line}");
        }
    }
    Filtered::ok(out)
}

/// `cut -d DELIM -f LIST` and `cut -c LIST`.
pub fn cut(args: &[String], stdin: &str, read: &dyn Fn(&str) -> Result<String, &'static str>) -> Filtered {
    let mut delimiter = '\t';
    let mut fields: Option<String> = None;
    let mut characters: Option<String> = None;
    let mut files = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "-d" => delimiter = rest.next().and_then(|d| d.chars().next()).unwrap_or('\t'),
            "-f" => fields = rest.next().cloned(),
            "-c" | "-b" => characters = rest.next().cloned(),
            a if a.starts_with("-d") => delimiter = a[2..].chars().next().unwrap_or('\t'),
            a if a.starts_with("-f") => fields = Some(a[2..].to_owned()),
            a if a.starts_with("-c") || a.starts_with("-b") => characters = Some(a[2..].to_owned()),
            a => files.push(a.to_owned()),
        }
    }
    let Some(list) = fields.as_deref().or(characters.as_deref()) else {
        return Filtered::fail("cut: you must specify a list of bytes, characters, or fields\nTry 'cut --help' for more information.\n".into(), 1);
    };
    let wanted = |n: usize| {
        list.split(',').any(|part| match part.split_once('-') {
            Some((lo, hi)) => {
                let lo = lo.parse().unwrap_or(1);
                let hi = hi.parse().unwrap_or(usize::MAX);
                (lo..=hi).contains(&n)
            }
            None => part.parse() == Ok(n),
        })
    };
    let mut out = String::new();
    for (name, text) in inputs(&files, stdin, read) {
        let text = match text {
            Ok(text) => text,
            Err(error) => return Filtered::fail(format!("cut: {name}: {error}\n"), 1),
        };
        for line in text.lines() {
            if characters.is_some() {
                out.extend(line.chars().enumerate().filter(|(i, _)| wanted(i + 1)).map(|(_, c)| c));
            } else if line.contains(delimiter) {
                let parts: Vec<&str> = line
                    .split(delimiter)
                    .enumerate()
                    .filter(|(i, _)| wanted(i + 1))
                    .map(|(_, p)| p)
                    .collect();
                out.push_str(&parts.join(&delimiter.to_string()));
            } else {
                out.push_str(line);
            }
            out.push('\n');
        }
    }
    Filtered::ok(out)
}

/// The characters of a `tr` set, with ranges (`a-z`) and escapes expanded.
fn tr_set(set: &str) -> Vec<char> {
    let chars: Vec<char> = super::interp::unescape(set).chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars.get(i + 1) == Some(&'-') && i + 2 < chars.len() && chars[i] <= chars[i + 2] {
            let (lo, hi) = (chars[i] as u32, chars[i + 2] as u32);
            out.extend((lo..=hi.min(lo + 1024)).filter_map(char::from_u32));
            i += 3;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// `tr SET1 SET2`, `tr -d SET`.
pub fn tr(args: &[String], stdin: &str) -> Filtered {
    let delete = args.iter().any(|a| a == "-d");
    let sets: Vec<&String> = args.iter().filter(|a| !a.starts_with('-') || a.len() == 1).collect();
    let Some(from) = sets.first().map(|s| tr_set(s)) else {
        return Filtered::fail("tr: missing operand\nTry 'tr --help' for more information.\n".into(), 1);
    };
    if delete {
        return Filtered::ok(stdin.chars().filter(|c| !from.contains(c)).collect());
    }
    let Some(to) = sets.get(1).map(|s| tr_set(s)) else {
        return Filtered::fail(
            format!("tr: missing operand after '{}'\nTry 'tr --help' for more information.\n", sets[0]),
            1,
        );
    };
    let out = stdin
        .chars()
        .map(|c| match from.iter().position(|&f| f == c) {
            Some(i) => to.get(i).or(to.last()).copied().unwrap_or(c),
            None => c,
        })
        .collect();
    Filtered::ok(out)
}

/// `awk` for its common one-liners: `{print $1, $3}`, `-F: '{print $1}'`, `/re/`,
/// `/re/ {print $2}`, `NR==1`, `END{print NR}`. Other programs print nothing.
pub fn awk(args: &[String], stdin: &str, read: &dyn Fn(&str) -> Result<String, &'static str>) -> Filtered {
    let mut separator: Option<String> = None;
    let mut program: Option<String> = None;
    let mut files = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "-F" => separator = rest.next().cloned(),
            a if a.starts_with("-F") => separator = Some(a[2..].to_owned()),
            a if program.is_none() => program = Some(a.to_owned()),
            a => files.push(a.to_owned()),
        }
    }
    let Some(program) = program else {
        return Filtered::fail("usage: awk [-F fs][-v var=value][prog | -f progfile][file ...]\n".into(), 2);
    };
    let program = program.trim();
    let (pattern, action) = match program.find('{') {
        Some(i) => (program[..i].trim(), program[i..].trim_matches(|c| c == '{' || c == '}').trim()),
        None => (program, "print"),
    };
    let mut text = String::new();
    for (name, source) in inputs(&files, stdin, read) {
        match source {
            Ok(source) => text.push_str(&source),
            Err(error) => return Filtered::fail(format!("awk: cannot open \"{name}\" ({error})\n"), 2),
        }
    }
    let lines: Vec<&str> = text.lines().collect();
    if pattern == "END" {
        return Filtered::ok(awk_print(action, "", &[], lines.len()).map(|l| l + "\n").unwrap_or_default());
    }
    let regex = pattern
        .strip_prefix('/')
        .and_then(|p| p.strip_suffix('/'))
        .map(|p| Regex::new(p, true, false, false));
    let line_number = pattern.strip_prefix("NR==").and_then(|n| n.trim().parse::<usize>().ok());
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        if regex.as_ref().is_some_and(|r| !r.is_match(line)) || line_number.is_some_and(|n| n != i + 1) {
            continue;
        }
        if !pattern.is_empty() && regex.is_none() && line_number.is_none() {
            continue;
        }
        let fields: Vec<&str> = match separator.as_deref() {
            Some(sep) if sep != " " => line.split(sep).collect(),
            _ => line.split_whitespace().collect(),
        };
        if let Some(printed) = awk_print(action, line, &fields, i + 1) {
            out.push_str(&printed);
            out.push('\n');
        }
    }
    Filtered::ok(out)
}

/// One `print` action over a record; `None` for anything but `print`.
fn awk_print(action: &str, line: &str, fields: &[&str], record: usize) -> Option<String> {
    let arguments = action.strip_prefix("print")?.trim();
    if arguments.is_empty() {
        return Some(line.to_owned());
    }
    let mut out = Vec::new();
    for argument in arguments.split(',') {
        let value: String = argument
            .split_whitespace()
            .map(|term| match term {
                "$0" => line.to_owned(),
                "NR" => record.to_string(),
                "NF" => fields.len().to_string(),
                "$NF" => fields.last().copied().unwrap_or("").to_owned(),
                t if t.starts_with('$') => t[1..]
                    .parse::<usize>()
                    .ok()
                    .and_then(|n| fields.get(n.wrapping_sub(1)))
                    .copied()
                    .unwrap_or("")
                    .to_owned(),
                t => t.trim_matches('"').to_owned(),
            })
            .collect();
        out.push(value);
    }
    Some(out.join(" "))
}

/// `base64` (wrapped at 76 columns) and `base64 -d`.
pub fn base64(args: &[String], stdin: &str, read: &dyn Fn(&str) -> Result<String, &'static str>) -> Filtered {
    let decode = args.iter().any(|a| a == "-d" || a == "--decode" || a == "-D");
    let files: Vec<String> = args.iter().filter(|a| !a.starts_with('-')).take(1).cloned().collect();
    let text = match inputs(&files, stdin, read).remove(0).1 {
        Ok(text) => text,
        Err(error) => return Filtered::fail(format!("base64: {}: {error}\n", files.join("")), 1),
    };
    if decode {
        return match base64_decode(&text) {
            Some(bytes) => Filtered::ok(String::from_utf8_lossy(&bytes).into_owned()),
            None => Filtered { out: String::new(), err: "base64: invalid input\n".into(), status: 1 },
        };
    }
    let encoded = base64_encode(text.as_bytes());
    let mut out = String::new();
    for chunk in encoded.as_bytes().chunks(76) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    Filtered::ok(out)
}

/// Decodes base64, ignoring whitespace; `None` on any other invalid character.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let compact: Vec<u8> = text.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
    crate::codec::base64_decode(&compact)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    fn no_files(_: &str) -> Result<String, &'static str> {
        Err("No such file or directory")
    }

    const CPUINFO: &str = "processor\t: 0\nmodel name\t: Xeon\nprocessor\t: 1\nmodel name\t: Xeon\n";

    #[test]
    fn regex_subset() {
        let r = |p: &str| Regex::new(p, false, false, false);
        assert!(r("^processor").is_match("processor\t: 0"));
        assert!(!r("^processor").is_match("x processor"));
        assert!(r("Mem$").is_match("Total Mem"));
        assert!(r("a.c").is_match("xxabcxx"));
        assert!(r("ab*c").is_match("ac") && r("ab*c").is_match("abbbc"));
        assert!(r("[0-9][0-9]*").is_match("cpu 42"));
        assert!(!r("[^a-z]").is_match("abc"));
        assert!(r("model name\\|MemTotal").is_match("MemTotal: 1"));
        let e = |p: &str| Regex::new(p, true, false, false);
        assert!(e("ab+c").is_match("abbc") && !e("ab+c").is_match("ac"));
        assert!(e("colou?r").is_match("color"));
        assert!(e("x|y").is_match("y"));
        assert!(Regex::new("MEM", false, false, true).is_match("mem"));
        assert!(
            Regex::new("a.b", false, true, false).is_match("xa.b")
                && !Regex::new("a.b", false, true, false).is_match("axb")
        );
        // `+` is literal in basic expressions.
        assert_eq!(r("b+").find("abb+"), Some((2, 4)));
        assert_eq!(e("b+").find("abb+"), Some((1, 3)));
    }

    #[test]
    fn regex_cost_is_bounded() {
        let evil = Regex::new("a*a*a*a*a*a*a*a*b", false, false, false);
        let text = "a".repeat(4000);
        let started = std::time::Instant::now();
        for _ in 0..1000 {
            assert!(!evil.is_match(&text));
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
        // The budget is spent: even an easy line no longer matches.
        assert!(!evil.is_match("b"));
        assert!(Regex::new("a*b", false, false, false).is_match("b"));
    }

    #[test]
    fn grep_flags() {
        let g = |args: &[&str]| grep(&strings(args), CPUINFO, &no_files);
        assert_eq!(g(&["-c", "^processor"]).out, "2\n");
        assert_eq!(g(&["name"]).out, "model name\t: Xeon\nmodel name\t: Xeon\n");
        assert_eq!(g(&["-v", "name"]).out, "processor\t: 0\nprocessor\t: 1\n");
        assert_eq!(g(&["-n", "1"]).out, "3:processor\t: 1\n");
        assert_eq!(g(&["-i", "XEON", "-o"]).out, "Xeon\nXeon\n");
        assert_eq!(g(&["nothing"]).status, 1);
        assert_eq!(g(&["-q", "Xeon"]), Filtered { out: String::new(), err: String::new(), status: 0 });
        assert_eq!(g(&[]).status, 2);
        let missing = g(&["x", "/nope"]);
        assert_eq!((missing.err.as_str(), missing.status), ("grep: /nope: No such file or directory\n", 2));
    }

    #[test]
    fn counting_and_slicing() {
        assert_eq!(wc(&strings(&["-l"]), CPUINFO, &no_files).out, "4\n");
        assert_eq!(wc(&[], "a b\nc\n", &no_files).out, "      2       3       6\n");
        assert_eq!(head_tail(false, &strings(&["-n", "1"]), CPUINFO, &no_files).out, "processor\t: 0\n");
        assert_eq!(head_tail(false, &strings(&["-2"]), "a\nb\nc\n", &no_files).out, "a\nb\n");
        assert_eq!(head_tail(true, &strings(&["-n1"]), "a\nb\nc\n", &no_files).out, "c\n");
        assert_eq!(head_tail(true, &strings(&["-n", "+2"]), "a\nb\nc\n", &no_files).out, "b\nc\n");
        assert_eq!(head_tail(false, &strings(&["-c", "3"]), "abcdef", &no_files).out, "abc");
    }

    #[test]
    fn sorting_and_fields() {
        assert_eq!(sort(&[], "b\na\nc\n", &no_files).out, "a\nb\nc\n");
        assert_eq!(sort(&strings(&["-rn"]), "2\n10\n1\n", &no_files).out, "10\n2\n1\n");
        assert_eq!(uniq(&strings(&["-c"]), "a\na\nb\n", &no_files).out, "      2 a\n      1 b\n");
        assert_eq!(cut(&strings(&["-d:", "-f1,3"]), "root:x:0:0\n", &no_files).out, "root:0\n");
        assert_eq!(cut(&strings(&["-c", "1-3"]), "abcdef\n", &no_files).out, "abc\n");
        let free = "              total        used\nMem:        4025872      830660\n";
        assert_eq!(awk(&strings(&["{print $2 ,$3}"]), free, &no_files).out, "used \n4025872 830660\n");
        assert_eq!(awk(&strings(&["/Mem/ {print $2}"]), free, &no_files).out, "4025872\n");
        assert_eq!(awk(&strings(&["-F:", "{print $1}"]), "root:x\nbin:x\n", &no_files).out, "root\nbin\n");
        assert_eq!(awk(&strings(&["NR==2"]), "a\nb\n", &no_files).out, "b\n");
        assert_eq!(awk(&strings(&["END{print NR}"]), "a\nb\n", &no_files).out, "2\n");
        assert_eq!(tr(&strings(&["a-z", "A-Z"]), "hello\n").out, "HELLO\n");
        assert_eq!(tr(&strings(&["-d", "\\n"]), "a\nb\n").out, "ab");
    }

    #[test]
    fn base64_round_trips() {
        for text in ["", "f", "fo", "foo", "foob", "fooba", "foobar", "wget http://1.2.3.4/x.sh"] {
            assert_eq!(base64_decode(&base64_encode(text.as_bytes())).unwrap(), text.as_bytes());
        }
        assert_eq!(base64_encode(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64(&strings(&["-d"]), "aWQK\n", &no_files).out, "id\n");
        assert_eq!(base64(&[], "id\n", &no_files).out, "aWQK\n");
        assert_eq!(base64(&strings(&["-d"]), "!!!", &no_files).status, 1);
    }
}
