//! The local control channel between the CLI and the resident daemon:
//! single-instance lock, the 0600 Unix socket, and the line protocol.

pub mod client;
pub mod instance;
pub mod protocol;
