//! The CLI side of the control socket.

use super::protocol::{self, Reply, Request};
use crate::paths::Paths;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("OpenCode Nexus is not running (start it with `opencode-nexus`)")]
    NotRunning,
    #[error("lost the connection to OpenCode Nexus: {0}")]
    Io(#[from] std::io::Error),
    #[error("OpenCode Nexus sent something unreadable: {0}")]
    Protocol(String),
}

/// One request's connection: send, then read replies.
pub struct Connection {
    lines: tokio::io::Lines<BufReader<OwnedReadHalf>>,
    writer: OwnedWriteHalf,
}

impl Connection {
    pub async fn open(paths: &Paths, request: &Request) -> Result<Self, ClientError> {
        let stream = match UnixStream::connect(paths.socket()).await {
            Ok(s) => s,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
                ) =>
            {
                return Err(ClientError::NotRunning);
            }
            Err(e) => return Err(e.into()),
        };
        let (reader, writer) = stream.into_split();
        let mut conn = Connection {
            lines: BufReader::new(reader).lines(),
            writer,
        };
        conn.send(request).await?;
        Ok(conn)
    }

    pub async fn send(&mut self, request: &Request) -> Result<(), ClientError> {
        self.send_message(request).await
    }

    /// Sends any message as one line.
    pub async fn send_message<T: serde::Serialize>(
        &mut self,
        message: &T,
    ) -> Result<(), ClientError> {
        self.writer
            .write_all(protocol::encode(message).as_bytes())
            .await?;
        Ok(())
    }

    /// The next reply; `None` when the daemon closed the connection.
    pub async fn next(&mut self) -> Result<Option<Reply>, ClientError> {
        self.next_message().await
    }

    /// The next line as any message type (the popover's link carries `ToPopover`).
    pub async fn next_message<T: serde::de::DeserializeOwned>(
        &mut self,
    ) -> Result<Option<T>, ClientError> {
        match self.lines.next_line().await? {
            Some(line) => protocol::decode(&line)
                .map(Some)
                .map_err(ClientError::Protocol),
            None => Ok(None),
        }
    }
}
