//! The local control channel between the CLI and the resident daemon:
//! single-instance lock, the 0600 Unix socket (peers of the same user only),
//! and the line protocol.

pub mod client;
pub mod instance;
pub mod lines;
pub mod peer;
pub mod protocol;
