//! The control socket's lines: requests the daemon decodes, replies the CLI
//! decodes, and both directions of the popover's link. Beyond "no crash":
//! whatever decodes, encodes to one line that decodes to the same message.
//!
//! Shared by the fuzz target and tests/fuzz_regressions.rs: `super::nexus`
//! is the crate under test (the fuzz build's parsers, or `opencode_nexus`).

use super::nexus::ipc::protocol::{self, FromPopover, Reply, Request, ToPopover};
use serde::{Serialize, de::DeserializeOwned};
use std::fmt::Debug;

pub fn check(data: &[u8]) {
    let Ok(line) = std::str::from_utf8(data) else {
        return;
    };
    round_trip::<Request>(line);
    round_trip::<Reply>(line);
    round_trip::<ToPopover>(line);
    round_trip::<FromPopover>(line);
}

fn round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug>(line: &str) {
    let Ok(message) = protocol::decode::<T>(line) else {
        return;
    };
    let encoded = protocol::encode(&message);
    assert!(
        encoded.ends_with('\n') && !encoded[..encoded.len() - 1].contains('\n'),
        "not one line: {encoded:?}"
    );
    let again = protocol::decode::<T>(&encoded)
        .unwrap_or_else(|e| panic!("{message:?} encoded as {encoded:?} does not decode: {e}"));
    assert_eq!(again, message, "changed on the way through {encoded:?}");
}
