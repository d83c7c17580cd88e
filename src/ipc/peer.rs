//! Who is at the other end of the control channel: the daemon serves only its
//! own user, and the CLI talks only to a daemon of its own user (a socket or
//! pipe made by someone else would be an impostor collecting requests).

use crate::platform::{ControlStream, control_peer};

/// The peer's user and, where known, pid (`platform::control_peer`).
pub type Peer = crate::platform::ControlPeer;

/// Reads the peer's credentials.
pub fn peer_of(stream: &ControlStream) -> std::io::Result<Peer> {
    control_peer(stream)
}

/// `Ok` when the peer runs as this process's user; otherwise the peer's uid.
pub fn same_user(stream: &ControlStream) -> std::io::Result<Result<(), Peer>> {
    let peer = peer_of(stream)?;
    Ok(if peer.uid == crate::platform::user_id() {
        Ok(())
    } else {
        Err(peer)
    })
}
