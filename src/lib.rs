//! OpenCode Nexus library.
