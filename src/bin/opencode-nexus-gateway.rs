//! The remote gateway process (see `opencode_nexus::gateway`). The daemon
//! starts it while `remote.enabled` is true.

fn main() -> std::process::ExitCode {
    let paths = opencode_nexus::paths::Paths::from_env();
    std::process::ExitCode::from(opencode_nexus::gateway::run(paths))
}
