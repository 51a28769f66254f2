//! Session transcripts: what an intruder saw, written to the capture directory (a tmpfs the
//! plugin mounts). Bounded per session; a missing, full or read-only directory only means
//! no transcript, never a failed session.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Bytes kept per session; the rest is cut with a note.
pub const MAX_TRANSCRIPT: usize = 256 * 1024;

#[derive(Debug, Default)]
pub struct Transcript {
    file: Option<File>,
    path: Option<PathBuf>,
    written: usize,
}

impl Transcript {
    /// A new transcript file `name` in `dir`, or none if there is no directory or the file
    /// cannot be created.
    pub fn create(dir: Option<&Path>, name: &str) -> Transcript {
        let Some(dir) = dir else { return Transcript::default() };
        let path = dir.join(name);
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(file) => Transcript { file: Some(file), path: Some(path), written: 0 },
            Err(_) => Transcript::default(),
        }
    }

    /// Where the transcript is, if one is written.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Appends `text`. After [`MAX_TRANSCRIPT`] bytes, or a failed write, nothing more is
    /// written.
    pub fn write(&mut self, text: &str) {
        let Some(file) = self.file.as_mut() else { return };
        let room = MAX_TRANSCRIPT.saturating_sub(self.written);
        let kept = super::interp::truncate(text, room);
        let mut result = file.write_all(kept.as_bytes());
        self.written += kept.len();
        if kept.len() < text.len() {
            result = result.and_then(|()| file.write_all(b"\n[transcript truncated]\n"));
            self.file = None;
        }
        if result.is_err() {
            self.file = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("chaff-transcript-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn writes_what_it_is_given() {
        let dir = scratch("plain");
        let mut t = Transcript::create(Some(&dir), "ssh-1.log");
        t.write("root@host:~# id\n");
        t.write("uid=0(root)\n");
        let path = t.path().unwrap().to_owned();
        drop(t);
        assert_eq!(std::fs::read_to_string(path).unwrap(), "root@host:~# id\nuid=0(root)\n");
        // The same name twice never overwrites a transcript.
        assert!(Transcript::create(Some(&dir), "ssh-1.log").path().is_none());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn is_bounded() {
        let dir = scratch("bounded");
        let mut t = Transcript::create(Some(&dir), "big.log");
        let chunk = "x".repeat(100_000);
        for _ in 0..10 {
            t.write(&chunk);
        }
        let path = t.path().unwrap().to_owned();
        let text = std::fs::read_to_string(path).unwrap();
        assert_eq!(text.len(), MAX_TRANSCRIPT + "\n[transcript truncated]\n".len());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_missing_directory_means_no_transcript() {
        let mut t = Transcript::create(Some(Path::new("/nonexistent/chaff/capture")), "a.log");
        assert!(t.path().is_none());
        t.write("ignored");
        let mut none = Transcript::create(None, "a.log");
        none.write("ignored");
        assert!(none.path().is_none());
    }
}
