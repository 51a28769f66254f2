//! The terminal line discipline a pty gives a shell: echo, erase, `^C`, `^D`, escape
//! sequences skipped, CR LF and CR NUL as one end of line, and a line length cap like the
//! kernel's (4095 bytes; the rest of a longer line is dropped).

/// Longest line kept, as the kernel's canonical-mode buffer.
pub const MAX_LINE: usize = 4095;

/// What a byte completed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Enter: the line, without its end.
    Line(Vec<u8>),
    /// `^C`: the line was discarded.
    Interrupt,
    /// `^D` on an empty line.
    EndOfInput,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Escape {
    #[default]
    None,
    /// After ESC.
    Start,
    /// In `ESC [ ...` (CSI), with the number of parameter bytes so far.
    Csi(u8),
    /// After `ESC O` (SS3): one more byte.
    Ss3,
}

#[derive(Clone, Debug)]
pub struct LineEditor {
    line: Vec<u8>,
    /// Whether typed characters are echoed (off while a password is read).
    pub echo: bool,
    /// The previous byte was CR: a following LF or NUL belongs to it.
    after_cr: bool,
    escape: Escape,
}

impl Default for LineEditor {
    fn default() -> Self {
        LineEditor { line: Vec::new(), echo: true, after_cr: false, escape: Escape::None }
    }
}

impl LineEditor {
    /// Feeds one byte; what the terminal shows in answer is appended to `echo`.
    pub fn push(&mut self, byte: u8, echo: &mut Vec<u8>) -> Option<Event> {
        if std::mem::take(&mut self.after_cr) && matches!(byte, b'\n' | 0) {
            return None;
        }
        match self.escape {
            Escape::None => {}
            Escape::Start => {
                self.escape = match byte {
                    b'[' => Escape::Csi(0),
                    b'O' => Escape::Ss3,
                    _ => Escape::None,
                };
                return None;
            }
            Escape::Csi(n) => {
                // Parameters and intermediates until a final byte; a runaway sequence ends.
                self.escape =
                    if (0x40..=0x7e).contains(&byte) || n >= 32 { Escape::None } else { Escape::Csi(n + 1) };
                return None;
            }
            Escape::Ss3 => {
                self.escape = Escape::None;
                return None;
            }
        }
        match byte {
            0x1b => self.escape = Escape::Start,
            b'\r' | b'\n' => {
                self.after_cr = byte == b'\r';
                if self.echo {
                    echo.extend_from_slice(b"\r\n");
                }
                return Some(Event::Line(std::mem::take(&mut self.line)));
            }
            0x7f | 0x08 => self.erase(1, echo),
            0x15 => self.erase(usize::MAX, echo),
            0x17 => {
                let trailing = self.line.iter().rev().take_while(|b| **b == b' ').count();
                let word = self.line.iter().rev().skip(trailing).take_while(|b| **b != b' ').count();
                let chars =
                    String::from_utf8_lossy(&self.line[self.line.len() - trailing - word..]).chars().count();
                self.erase(chars, echo);
            }
            0x03 => {
                self.line.clear();
                echo.extend_from_slice(if self.echo { b"^C\r\n" } else { b"\r\n" });
                return Some(Event::Interrupt);
            }
            0x04 if self.line.is_empty() => return Some(Event::EndOfInput),
            b if b < 0x20 => {}
            b => {
                if self.line.len() < MAX_LINE {
                    self.line.push(b);
                    if self.echo {
                        echo.push(b);
                    }
                }
            }
        }
        None
    }

    /// Erases up to `chars` characters before the cursor (UTF-8 aware).
    fn erase(&mut self, chars: usize, echo: &mut Vec<u8>) {
        for _ in 0..chars {
            let Some(mut end) = self.line.len().checked_sub(1) else { break };
            while end > 0 && self.line[end] & 0xc0 == 0x80 {
                end -= 1;
            }
            self.line.truncate(end);
            if self.echo {
                echo.extend_from_slice(b"\x08 \x08");
            }
        }
    }
}

/// `text` with every LF as CR LF, as a terminal with `onlcr` prints it.
pub fn crlf(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + text.len() / 16);
    for b in text.bytes() {
        if b == b'\n' {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(editor: &mut LineEditor, input: &[u8]) -> (Vec<Event>, Vec<u8>) {
        let mut echo = Vec::new();
        let events = input.iter().filter_map(|&b| editor.push(b, &mut echo)).collect();
        (events, echo)
    }

    #[test]
    fn lines_end_at_cr_lf_or_either() {
        let mut e = LineEditor::default();
        let (events, echo) = feed(&mut e, b"ls\r\nid\rpwd\nw\r\0x\r");
        let lines: Vec<Event> =
            ["ls", "id", "pwd", "w", "x"].iter().map(|l| Event::Line(l.as_bytes().to_vec())).collect();
        assert_eq!(events, lines);
        assert_eq!(echo, b"ls\r\nid\r\npwd\r\nw\r\nx\r\n");
    }

    #[test]
    fn editing_keys() {
        let mut e = LineEditor::default();
        let (events, echo) = feed(&mut e, b"lx\x7fs -la\r");
        assert_eq!(events, [Event::Line(b"ls -la".to_vec())]);
        assert_eq!(echo, b"lx\x08 \x08s -la\r\n");
        assert_eq!(feed(&mut e, "é\x7f\r".as_bytes()).0, [Event::Line(Vec::new())]);
        assert_eq!(feed(&mut e, b"rm -rf x\x17y\r").0, [Event::Line(b"rm -rf y".to_vec())]);
        assert_eq!(feed(&mut e, b"junk\x15id\r").0, [Event::Line(b"id".to_vec())]);
        assert_eq!(feed(&mut e, b"sleep\x03").0, [Event::Interrupt]);
        assert_eq!(feed(&mut e, b"x\x04\x7f\x04").0, [Event::EndOfInput]);
    }

    #[test]
    fn escape_sequences_and_controls_are_dropped() {
        let mut e = LineEditor::default();
        let (events, echo) = feed(&mut e, b"\x1b[A\x1b[1;5D\x1bOPi\td\x07\r");
        assert_eq!(events, [Event::Line(b"id".to_vec())]);
        assert_eq!(echo, b"id\r\n");
    }

    #[test]
    fn secrets_are_not_echoed() {
        let mut e = LineEditor { echo: false, ..LineEditor::default() };
        let (events, echo) = feed(&mut e, b"hunter2\r");
        assert_eq!(events, [Event::Line(b"hunter2".to_vec())]);
        assert!(echo.is_empty());
    }

    #[test]
    fn long_lines_are_capped() {
        let mut e = LineEditor::default();
        let long = vec![b'a'; MAX_LINE * 3];
        let (_, echo) = feed(&mut e, &long);
        assert_eq!(echo.len(), MAX_LINE);
        let (events, _) = feed(&mut e, b"\r");
        assert_eq!(events, [Event::Line(vec![b'a'; MAX_LINE])]);
        let runaway = [b"\x1b[".as_slice(), &[b'1'; 100], b"ok\r"].concat();
        assert_eq!(feed(&mut e, &runaway).0.len(), 1);
    }

    #[test]
    fn newlines_become_crlf() {
        assert_eq!(crlf("a\nb\n"), b"a\r\nb\r\n");
        assert_eq!(crlf(""), b"");
    }
}
