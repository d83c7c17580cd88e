//! The managed server's output: a rotated, bounded log file plus the last
//! lines in memory, and a live feed for `logs --follow`.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use tokio::sync::broadcast;

/// Lines kept in memory.
pub const RECENT_LINES: usize = 200;
/// A line longer than this is cut (a runaway line cannot fill memory).
const MAX_LINE: usize = 8 * 1024;

#[derive(Debug)]
pub struct ServerLog {
    path: PathBuf,
    file: Option<File>,
    written: u64,
    max_file_bytes: u64,
    rotations: usize,
    recent: VecDeque<String>,
    follow: broadcast::Sender<String>,
    /// The managed server's password, scrubbed from every line just in case.
    redact: Vec<String>,
}

impl ServerLog {
    /// A log at `path`, rotated at `max_file_bytes`, keeping `rotations` old files.
    pub fn new(path: PathBuf, max_file_bytes: u64, rotations: usize) -> Self {
        let (follow, _) = broadcast::channel(1024);
        let mut log = ServerLog {
            path,
            file: None,
            written: 0,
            max_file_bytes,
            rotations,
            recent: VecDeque::with_capacity(RECENT_LINES),
            follow,
            redact: Vec::new(),
        };
        log.open();
        log
    }

    fn open(&mut self) {
        if let Some(dir) = self.path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        match OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
        {
            Ok(file) => {
                self.written = file.metadata().map(|m| m.len()).unwrap_or(0);
                self.file = Some(file);
            }
            Err(e) => {
                // Keep the in-memory lines; say once why the file is missing.
                tracing::warn!("cannot write the server log {}: {e}", self.path.display());
                self.file = None;
            }
        }
    }

    pub fn set_redactions(&mut self, secrets: Vec<String>) {
        self.redact = secrets.into_iter().filter(|s| !s.is_empty()).collect();
    }

    /// Records one line of server output (`stream` is "stdout", "stderr" or "nexus").
    pub fn push(&mut self, stream: &str, line: &str) {
        let mut line = cut(line.trim_end_matches(['\r', '\n']), MAX_LINE);
        for secret in &self.redact {
            if line.contains(secret.as_str()) {
                line = line.replace(secret.as_str(), "***");
            }
        }
        let stamped = format!(
            "{} [{stream}] {line}",
            humantime::format_rfc3339_seconds(std::time::SystemTime::now())
        );
        if self.written + stamped.len() as u64 + 1 > self.max_file_bytes {
            self.rotate();
        }
        if let Some(file) = &mut self.file
            && writeln!(file, "{stamped}").is_ok()
        {
            self.written += stamped.len() as u64 + 1;
        }
        if self.recent.len() == RECENT_LINES {
            self.recent.pop_front();
        }
        self.recent.push_back(stamped.clone());
        let _ = self.follow.send(stamped);
    }

    fn rotate(&mut self) {
        self.file = None;
        for i in (1..self.rotations).rev() {
            let _ = std::fs::rename(self.rotated(i), self.rotated(i + 1));
        }
        if self.rotations > 0 {
            let _ = std::fs::rename(&self.path, self.rotated(1));
        } else {
            let _ = std::fs::remove_file(&self.path);
        }
        self.open();
    }

    fn rotated(&self, n: usize) -> PathBuf {
        let mut name = self.path.clone().into_os_string();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    }

    pub fn recent(&self) -> Vec<String> {
        self.recent.iter().cloned().collect()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<String> {
        self.follow.subscribe()
    }

    pub fn path(&self) -> &std::path::Path {
        &self.path
    }
}

fn cut(line: &str, max: usize) -> String {
    if line.len() <= max {
        return line.to_string();
    }
    let mut end = max;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… [{} bytes cut]", &line[..end], line.len() - end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_lines_and_redacts_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = ServerLog::new(dir.path().join("server.log"), 1 << 20, 2);
        log.set_redactions(vec!["s3cret".into()]);
        for i in 0..(RECENT_LINES + 10) {
            log.push("stdout", &format!("line {i} s3cret"));
        }
        let recent = log.recent();
        assert_eq!(recent.len(), RECENT_LINES);
        assert!(recent[0].ends_with("[stdout] line 10 ***"));
        let file = std::fs::read_to_string(dir.path().join("server.log")).unwrap();
        assert!(!file.contains("s3cret"));
    }

    #[test]
    fn rotates_and_bounds_the_files() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = ServerLog::new(dir.path().join("server.log"), 2_000, 2);
        for i in 0..500 {
            log.push(
                "stderr",
                &format!("a fairly long line number {i} to fill the file quickly"),
            );
        }
        let size = |n: &str| {
            std::fs::metadata(dir.path().join(n))
                .map(|m| m.len())
                .unwrap_or(0)
        };
        assert!(size("server.log") <= 2_000);
        assert!(size("server.log.1") > 0 && size("server.log.2") > 0);
        assert!(!dir.path().join("server.log.3").exists());
    }

    #[test]
    fn runaway_lines_are_cut() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = ServerLog::new(dir.path().join("server.log"), 1 << 20, 1);
        log.push("stdout", &"é".repeat(10_000));
        assert!(log.recent()[0].len() < MAX_LINE + 100);
    }
}
