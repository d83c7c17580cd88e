//! The quick-chat popover process (see `opencode_nexus::popover`). The daemon
//! starts it; `opencode-nexus popover` runs it by hand.

fn main() -> std::process::ExitCode {
    let paths = opencode_nexus::paths::Paths::from_env();
    std::process::ExitCode::from(opencode_nexus::popover::run(paths))
}
