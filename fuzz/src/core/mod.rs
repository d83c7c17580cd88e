//! The part of `opencode_nexus::core` the protocols use.

#[path = "../../../src/core/popover_lifecycle.rs"]
pub mod popover_lifecycle;
#[path = "../../../src/core/resource_use.rs"]
pub mod resource_use;
#[path = "../../../src/core/visible_text.rs"]
pub mod visible_text;

// `ServerState`, copied verbatim from src/core/mod.rs by build.rs.
include!(concat!(env!("OUT_DIR"), "/server_state.rs"));
