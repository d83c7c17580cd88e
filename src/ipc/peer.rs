//! Who is at the other end of the control socket: the daemon serves only its
//! own user, and the CLI talks only to a daemon of its own user (a socket
//! bound by someone else would be an impostor collecting requests).

use tokio::net::UnixStream;

/// The peer's user, as the kernel recorded it (SO_PEERCRED) when the
/// connection was made, or the listening socket was bound.
pub struct Peer {
    pub uid: u32,
    pub pid: Option<i32>,
}

/// Reads the peer's credentials.
pub fn peer_of(stream: &UnixStream) -> std::io::Result<Peer> {
    let cred = stream.peer_cred()?;
    Ok(Peer {
        uid: cred.uid(),
        pid: cred.pid(),
    })
}

/// `Ok` when the peer runs as this process's user; otherwise the peer's uid.
pub fn same_user(stream: &UnixStream) -> std::io::Result<Result<(), Peer>> {
    let peer = peer_of(stream)?;
    Ok(if peer.uid == crate::platform::user_id() {
        Ok(())
    } else {
        Err(peer)
    })
}
