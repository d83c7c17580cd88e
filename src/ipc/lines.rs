//! Line framing for the control socket, both ways: one JSON message per line,
//! each at most `MAX_LINE_BYTES`. The CLI, the popover and the daemon all read
//! with `LineReader` and write with `LineWriter`.
//!
//! Reads are used inside `select!` (an `ask` waiting for events or an abort,
//! the popover link waiting for commands or reports), so a read may be
//! cancelled while half a line has arrived. The partial line lives in the
//! reader's buffer, not in the cancelled future, and is completed by the next
//! read. A line over the cap is an error; the caller closes the connection.

use super::protocol::{self, MAX_LINE_BYTES};
use futures_util::StreamExt;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio_util::codec::{FramedRead, LinesCodec, LinesCodecError};

/// Why a line could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LineError {
    #[error("message too large (over {MAX_LINE_BYTES} bytes); closing the connection")]
    TooLong,
    #[error("message is not UTF-8 text")]
    NotText,
    #[error("{0}")]
    Io(std::io::Error),
}

/// Reads whole lines from `R`; cancel-safe.
pub struct LineReader<R> {
    frames: FramedRead<R, LinesCodec>,
}

impl<R: AsyncRead + Unpin> LineReader<R> {
    pub fn new(reader: R) -> Self {
        Self::with_limit(reader, MAX_LINE_BYTES)
    }

    /// A reader with another cap (tests use a small one).
    pub fn with_limit(reader: R, max_bytes: usize) -> Self {
        LineReader {
            frames: FramedRead::new(reader, LinesCodec::new_with_max_length(max_bytes)),
        }
    }

    /// The next line without its newline; `None` at the end of input. Dropping
    /// the returned future before it is ready loses nothing.
    pub async fn next_line(&mut self) -> Result<Option<String>, LineError> {
        match self.frames.next().await {
            None => Ok(None),
            Some(Ok(line)) => Ok(Some(line)),
            Some(Err(LinesCodecError::MaxLineLengthExceeded)) => Err(LineError::TooLong),
            Some(Err(LinesCodecError::Io(e))) if e.kind() == std::io::ErrorKind::InvalidData => {
                Err(LineError::NotText)
            }
            Some(Err(LinesCodecError::Io(e))) => Err(LineError::Io(e)),
        }
    }
}

/// Writes messages as whole lines to `W`.
pub struct LineWriter<W> {
    writer: W,
}

impl<W: AsyncWrite + Unpin> LineWriter<W> {
    pub fn new(writer: W) -> Self {
        LineWriter { writer }
    }

    /// Sends `message` as one JSON line.
    pub async fn send<T: serde::Serialize>(&mut self, message: &T) -> std::io::Result<()> {
        self.writer
            .write_all(protocol::encode(message).as_bytes())
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn a_line_split_around_a_cancelled_read_arrives_whole() {
        let (mut writer, reader) = tokio::io::duplex(64);
        let mut lines = LineReader::new(reader);
        writer.write_all(br#"{"cmd":"ab"#).await.unwrap();
        // Another select! branch wins while half the line is in.
        tokio::select! {
            line = lines.next_line() => panic!("half a line was delivered: {line:?}"),
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
        }
        writer
            .write_all(b"ort\"}\n{\"cmd\":\"status\"}\n")
            .await
            .unwrap();
        assert_eq!(
            lines.next_line().await.unwrap().as_deref(),
            Some(r#"{"cmd":"abort"}"#)
        );
        assert_eq!(
            lines.next_line().await.unwrap().as_deref(),
            Some(r#"{"cmd":"status"}"#)
        );
        drop(writer);
        assert!(lines.next_line().await.unwrap().is_none());
    }

    #[tokio::test]
    async fn an_over_long_line_is_an_error_naming_the_cap() {
        let (mut writer, reader) = tokio::io::duplex(64);
        let mut lines = LineReader::with_limit(reader, 16);
        tokio::spawn(async move {
            let _ = writer.write_all(&[b'x'; 100]).await;
        });
        let err = lines.next_line().await.unwrap_err();
        assert!(matches!(err, LineError::TooLong), "{err:?}");
        assert!(err.to_string().contains("too large"), "{err}");
    }

    #[tokio::test]
    async fn bytes_that_are_not_utf8_are_an_error() {
        let (mut writer, reader) = tokio::io::duplex(64);
        let mut lines = LineReader::new(reader);
        writer.write_all(b"\xff\xfe\n").await.unwrap();
        assert!(matches!(lines.next_line().await, Err(LineError::NotText)));
    }
}
