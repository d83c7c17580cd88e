//! A guard in front of the SSE parser: valid UTF-8 out, bounded events.
//!
//! `eventsource-stream` buffers an event until its blank line and stalls on an
//! invalid UTF-8 byte, so a misbehaving server could make it grow without end
//! or wedge. This guard replaces invalid bytes with U+FFFD and, once an event
//! passes `max_event_bytes`, drops the rest of it and marks it with the event
//! type `OVERSIZED`, so at most `max_event_bytes` are ever held. Lines end at
//! CR, LF or CRLF, as in the SSE spec and the parser behind this guard.

/// The event type given to an event that was cut short.
pub const OVERSIZED: &str = "nexus-oversized";

#[derive(Debug)]
pub struct ChunkGuard {
    max_event_bytes: usize,
    /// An incomplete UTF-8 sequence from the end of the previous chunk.
    carry: Vec<u8>,
    line_len: usize,
    event_len: usize,
    dropping: bool,
    /// The last character was a CR: a LF right after it ends no second line.
    after_cr: bool,
    /// Some text has come through (a byte-order mark can only lead).
    started: bool,
}

impl ChunkGuard {
    pub fn new(max_event_bytes: usize) -> Self {
        ChunkGuard {
            max_event_bytes,
            carry: Vec::new(),
            line_len: 0,
            event_len: 0,
            dropping: false,
            after_cr: false,
            started: false,
        }
    }

    /// Turns one network chunk into text safe to hand to the SSE parser.
    pub fn push(&mut self, chunk: &[u8]) -> String {
        let text = self.decode(chunk);
        let mut out = String::with_capacity(text.len().min(self.max_event_bytes + 64));
        for ch in text.chars() {
            if !self.started {
                self.started = true;
                if ch == '\u{feff}' {
                    // The spec drops a leading byte-order mark, but the parser
                    // behind this guard (eventsource-stream 0.2.3) slices it off
                    // at byte 1, inside the character, and panics. An empty
                    // comment line in its place means the same to the spec.
                    out.push_str(":\n");
                    continue;
                }
            }
            let crlf_tail = ch == '\n' && self.after_cr;
            self.after_cr = ch == '\r';
            match ch {
                '\n' if crlf_tail => {}
                '\n' | '\r' => {
                    let blank = self.line_len == 0;
                    self.line_len = 0;
                    if blank {
                        self.event_len = 0;
                        if self.dropping {
                            self.dropping = false;
                            out.push(ch); // dispatches the marked, truncated event
                            continue;
                        }
                    }
                }
                _ => {
                    self.line_len += ch.len_utf8();
                    self.event_len += ch.len_utf8();
                }
            }
            if self.dropping {
                continue;
            }
            if self.event_len > self.max_event_bytes {
                self.dropping = true;
                // End the cut line, if any of it went out: a line end right
                // after a line end would be a blank line, dispatching the
                // cut event unmarked.
                if self.line_len > ch.len_utf8() {
                    out.push('\n');
                }
                out.push_str("event:");
                out.push_str(OVERSIZED);
                out.push('\n');
                continue;
            }
            out.push(ch);
        }
        out
    }

    fn decode(&mut self, chunk: &[u8]) -> String {
        let mut bytes = std::mem::take(&mut self.carry);
        bytes.extend_from_slice(chunk);
        let mut out = String::with_capacity(bytes.len());
        let mut rest = &bytes[..];
        loop {
            match std::str::from_utf8(rest) {
                Ok(valid) => {
                    out.push_str(valid);
                    break;
                }
                Err(e) => {
                    let (valid, after) = rest.split_at(e.valid_up_to());
                    // SAFETY-free: `valid_up_to` guarantees this prefix is UTF-8.
                    out.push_str(std::str::from_utf8(valid).unwrap_or_default());
                    match e.error_len() {
                        Some(bad) => {
                            out.push(char::REPLACEMENT_CHARACTER);
                            rest = &after[bad..];
                        }
                        None => {
                            // Incomplete sequence at the end: wait for the next chunk.
                            self.carry = after.to_vec();
                            break;
                        }
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(guard: &mut ChunkGuard, chunks: &[&[u8]]) -> String {
        chunks.iter().map(|c| guard.push(c)).collect()
    }

    #[test]
    fn passes_normal_events_through() {
        let mut g = ChunkGuard::new(100);
        let input = "data: {\"a\":1}\n\ndata: {\"b\":2}\r\n\r\n";
        assert_eq!(run(&mut g, &[input.as_bytes()]), input);
    }

    #[test]
    fn utf8_split_across_chunks_is_kept() {
        let mut g = ChunkGuard::new(100);
        let text = "data: héllo\n\n".as_bytes();
        let (a, b) = text.split_at(8); // inside the two-byte é
        assert_eq!(run(&mut g, &[a, b]), "data: héllo\n\n");
    }

    #[test]
    fn invalid_bytes_become_replacement_characters() {
        let mut g = ChunkGuard::new(100);
        assert_eq!(
            run(&mut g, &[b"data: \xff\xfeok\n\n"]),
            "data: \u{fffd}\u{fffd}ok\n\n"
        );
    }

    #[test]
    fn oversized_event_is_cut_marked_and_the_next_one_survives() {
        let mut g = ChunkGuard::new(16);
        let big = format!("data: {}\n\n", "x".repeat(1000));
        let out = run(&mut g, &[big.as_bytes(), b"data: small\n\n"]);
        assert!(out.len() < 60, "bounded: {out:?}");
        assert!(out.contains("event:nexus-oversized\n\n"));
        assert!(out.ends_with("data: small\n\n"));
    }

    #[test]
    fn cr_line_ends_end_events_too() {
        // Five 10-byte events, CR-terminated: none is over the 16-byte cap.
        let mut g = ChunkGuard::new(16);
        let input = "data: aaaa\r\r".repeat(5);
        assert_eq!(run(&mut g, &[input.as_bytes()]), input);
    }

    #[test]
    fn an_event_cut_at_a_line_start_stays_marked() {
        // The cap is reached at the end of the first line: no blank line may
        // come out before the marker, or the first line would go out alone.
        let mut g = ChunkGuard::new(16);
        let out = run(&mut g, &[b"data: 0123456789\ndata: x\n\n"]);
        assert_eq!(out, "data: 0123456789\nevent:nexus-oversized\n\n");
    }

    #[test]
    fn a_leading_byte_order_mark_is_dropped() {
        // Found by the sse_events fuzzer: the SSE parser panicked on it.
        let mut g = ChunkGuard::new(100);
        let bom = "\u{feff}".as_bytes();
        let out = run(&mut g, &[&bom[..2], &bom[2..], b"data: x\n\n\xef\xbb\xbf"]);
        assert_eq!(
            out, ":\ndata: x\n\n\u{feff}",
            "only the first one is a mark"
        );
    }

    #[test]
    fn oversized_across_many_chunks_stays_bounded() {
        let mut g = ChunkGuard::new(1024);
        let mut total = 0;
        total += g.push(b"data: ").len();
        for _ in 0..10_000 {
            total += g.push(&[b'y'; 100]).len();
        }
        total += g.push(b"\n\n").len();
        assert!(total < 1200, "{total}");
    }
}
