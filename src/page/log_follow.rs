//! Reading the server log for the page's log view: the last lines first,
//! then what is appended, across rotations. Known secrets are blanked out of
//! every line. The daemon takes the first lines from here and streams the
//! rest to the popover from the log it writes.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Lines sent when following starts.
pub const FIRST_LINES: usize = 500;
/// The most read in one go (a burst of output is sent over a few polls).
const MAX_READ: u64 = 256 * 1024;

/// Where following has got to in the file.
#[derive(Debug)]
pub struct LogCursor {
    file: PathBuf,
    offset: u64,
    /// An unfinished last line, kept until its newline arrives.
    partial: String,
    secrets: Vec<String>,
}

impl LogCursor {
    /// Starts at the end of the file; answers its last `FIRST_LINES` lines.
    pub fn open(file: &Path, secrets: Vec<String>) -> (LogCursor, Vec<String>) {
        let bytes = std::fs::read(file).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        let keep = lines.len().saturating_sub(FIRST_LINES);
        lines.drain(..keep);
        let mut cursor = LogCursor {
            file: file.to_path_buf(),
            offset: bytes.len() as u64,
            partial: String::new(),
            secrets,
        };
        if !text.ends_with('\n')
            && let Some(last) = lines.pop()
        {
            cursor.partial = last;
        }
        let lines = lines.into_iter().map(|l| cursor.redact(l)).collect();
        (cursor, lines)
    }

    /// The complete lines appended since the last read. A file that got
    /// shorter was rotated: reading starts again at its beginning.
    pub fn read_new(&mut self) -> Vec<String> {
        let Ok(mut file) = std::fs::File::open(&self.file) else {
            return Vec::new();
        };
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        if len < self.offset {
            self.offset = 0;
            self.partial.clear();
        }
        if len == self.offset || file.seek(SeekFrom::Start(self.offset)).is_err() {
            return Vec::new();
        }
        let mut bytes = Vec::new();
        let read = file
            .take(MAX_READ)
            .read_to_end(&mut bytes)
            .unwrap_or_default();
        self.offset += read as u64;
        let text = format!("{}{}", self.partial, String::from_utf8_lossy(&bytes));
        let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
        self.partial = lines.pop().unwrap_or_default();
        lines.into_iter().map(|l| self.redact(l)).collect()
    }

    fn redact(&self, mut line: String) -> String {
        for secret in self.secrets.iter().filter(|s| s.len() >= 4) {
            line = line.replace(secret.as_str(), "[redacted]");
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn starts_with_the_tail_then_follows_appends_and_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("server.log");
        let mut text = String::new();
        for i in 0..600 {
            text += &format!("line {i}\n");
        }
        text += "half";
        std::fs::write(&file, &text).unwrap();
        let (mut cursor, first) = LogCursor::open(&file, vec!["hunter2-secret".into()]);
        assert_eq!(first.len(), FIRST_LINES - 1, "the unfinished line waits");
        assert_eq!(first.last().unwrap(), "line 599");
        assert!(cursor.read_new().is_empty());

        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&file)
            .unwrap();
        write!(f, " done\npassword hunter2-secret here\n").unwrap();
        assert_eq!(
            cursor.read_new(),
            vec!["half done", "password [redacted] here"]
        );

        // Rotated: a new, shorter file.
        std::fs::write(&file, "fresh\n").unwrap();
        assert_eq!(cursor.read_new(), vec!["fresh"]);
    }

    #[test]
    fn a_missing_log_is_empty_not_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let (mut cursor, first) = LogCursor::open(&dir.path().join("none.log"), vec![]);
        assert!(first.is_empty());
        assert!(cursor.read_new().is_empty());
    }
}
