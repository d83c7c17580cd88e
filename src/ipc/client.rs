//! The CLI side of the control socket.

use super::lines::{LineError, LineReader, LineWriter};
use super::protocol::{self, Reply, Request};
use crate::paths::{Paths, RuntimeDirError};
use crate::platform::{ControlReader, ControlWriter};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("OpenCode Nexus is not running (start it with `opencode-nexus`)")]
    NotRunning,
    /// The runtime directory is not private to this user: nothing was sent.
    #[error("{0}")]
    RuntimeDir(RuntimeDirError),
    /// The socket is served by another user's process: nothing was sent.
    #[error(
        "the control socket {socket} is served by a process of uid {peer}, not by you (uid {me}): another user may be impersonating OpenCode Nexus, so nothing was sent. Find that process (`ss -xp | grep {socket}`), stop it, remove the socket and start Nexus again"
    )]
    Impostor { socket: String, peer: u32, me: u32 },
    #[error("lost the connection to OpenCode Nexus: {0}")]
    Io(#[from] std::io::Error),
    #[error("OpenCode Nexus sent something unreadable: {0}")]
    Protocol(String),
}

/// One request's connection: send, then read replies.
pub struct Connection {
    lines: LineReader<ControlReader>,
    writer: LineWriter<ControlWriter>,
}

impl Connection {
    pub async fn open(paths: &Paths, request: &Request) -> Result<Self, ClientError> {
        match crate::paths::check_runtime_dir(&paths.runtime_dir) {
            Ok(()) => {}
            Err(e) if e.is_missing() => return Err(ClientError::NotRunning),
            Err(e) => return Err(ClientError::RuntimeDir(e)),
        }
        let socket = paths.socket();
        let stream = match crate::platform::connect_control(&socket).await {
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
        if let Err(peer) = super::peer::same_user(&stream)? {
            return Err(ClientError::Impostor {
                socket: socket.display().to_string(),
                peer: peer.uid,
                me: crate::platform::user_id(),
            });
        }
        let (reader, writer) = crate::platform::split_control(stream);
        let mut conn = Connection {
            lines: LineReader::new(reader),
            writer: LineWriter::new(writer),
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
        Ok(self.writer.send(message).await?)
    }

    /// The next reply; `None` when the daemon closed the connection.
    pub async fn next(&mut self) -> Result<Option<Reply>, ClientError> {
        self.next_message().await
    }

    /// The next line as any message type (the popover's link carries
    /// `ToPopover`). Cancel-safe: usable inside `select!`.
    pub async fn next_message<T: serde::de::DeserializeOwned>(
        &mut self,
    ) -> Result<Option<T>, ClientError> {
        match self.lines.next_line().await {
            Ok(Some(line)) => protocol::decode(&line)
                .map(Some)
                .map_err(ClientError::Protocol),
            Ok(None) => Ok(None),
            Err(LineError::Io(e)) => Err(ClientError::Io(e)),
            Err(e) => Err(ClientError::Protocol(e.to_string())),
        }
    }
}
