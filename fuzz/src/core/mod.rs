//! The part of `opencode_nexus::core` the protocols use.

/// The types the core reasons about, which the event parser produces.
#[path = "../../../src/core/model.rs"]
pub mod model;
#[path = "../../../src/core/popover_lifecycle.rs"]
pub mod popover_lifecycle;
#[path = "../../../src/core/resource_use.rs"]
pub mod resource_use;
#[path = "../../../src/core/visible_text.rs"]
pub mod visible_text;

// `ServerState`, copied verbatim from src/core/state.rs by build.rs.
include!(concat!(env!("OUT_DIR"), "/server_state.rs"));
