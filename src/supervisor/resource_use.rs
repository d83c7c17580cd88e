//! Measuring the managed server's process tree (the server and every
//! descendant, tool processes that left its group included) with sysinfo.

use crate::core::resource_use::ResourceUse;
use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};

/// Keeps the previous reading, which CPU percentages are measured against.
pub struct ResourceSampler {
    /// `None` where sysinfo cannot read processes (said once, at creation).
    system: Option<System>,
    /// The processes of the last reading (gone ones are forgotten).
    last: Vec<Pid>,
}

impl Default for ResourceSampler {
    fn default() -> Self {
        Self::new()
    }
}

impl ResourceSampler {
    pub fn new() -> Self {
        let system = System::new()
            .inspect_err(|e| tracing::warn!("cannot measure processes here: {e}"))
            .ok();
        ResourceSampler {
            system,
            last: Vec::new(),
        }
    }

    /// Reads the tree under `root` now. CPU is measured since the previous
    /// reading of the same process (0 on a process's first reading).
    pub fn sample(&mut self, root: u32) -> Option<ResourceUse> {
        let system = self.system.as_mut()?;
        let mut pids = vec![Pid::from_u32(root)];
        pids.extend(
            crate::platform::descendant_pids(root)
                .into_iter()
                .map(Pid::from_u32),
        );
        // Refreshing the previous set too removes processes that ended.
        let mut refresh = pids.clone();
        refresh.extend(self.last.iter().copied());
        refresh.sort_unstable();
        refresh.dedup();
        system.refresh_processes_specifics(
            ProcessesToUpdate::Some(&refresh),
            true,
            ProcessRefreshKind::nothing().with_cpu().with_memory(),
        );
        self.last = pids.clone();
        let processes: Vec<_> = pids.iter().filter_map(|pid| system.process(*pid)).collect();
        if processes.is_empty() {
            return None;
        }
        Some(ResourceUse {
            cpu_percent: processes.iter().map(|p| p.cpu_usage()).sum(),
            memory_bytes: processes.iter().map(|p| p.memory()).sum(),
            processes: processes.len() as u32,
        })
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn measures_a_process_and_its_children() {
        use std::os::unix::process::CommandExt;
        let mut child = std::process::Command::new("sh")
            .args(["-c", "sleep 30 & while :; do :; done"])
            .process_group(0)
            .spawn()
            .expect("sh");
        let mut sampler = ResourceSampler::new();
        std::thread::sleep(std::time::Duration::from_millis(200));
        sampler.sample(child.id());
        std::thread::sleep(std::time::Duration::from_millis(500));
        let used = sampler.sample(child.id()).expect("a reading");
        // SAFETY: signals the test's own process group.
        unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
        let _ = child.wait();
        assert_eq!(used.processes, 2, "sh and its sleep: {used:?}");
        assert!(used.memory_bytes > 0);
        assert!(used.cpu_percent > 20.0, "a busy loop: {used:?}");
        std::thread::sleep(std::time::Duration::from_millis(100));
        assert_eq!(sampler.sample(child.id()), None, "gone");
    }
}
