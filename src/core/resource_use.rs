//! What the managed server's process tree uses, as the views show it.

use serde::{Deserialize, Serialize};

/// CPU and memory of the server and all its descendants, at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ResourceUse {
    /// Sum over the tree, in percent of one core (so 2 busy cores = 200).
    pub cpu_percent: f32,
    /// Resident memory summed over the tree.
    pub memory_bytes: u64,
    /// The server plus its descendants.
    pub processes: u32,
}

impl ResourceUse {
    /// "CPU 3 % · 212 MiB · 4 processes": for the tooltip and the menu.
    pub fn describe(&self) -> String {
        let cpu = if self.cpu_percent < 10.0 {
            format!("{:.1}", self.cpu_percent)
        } else {
            format!("{:.0}", self.cpu_percent)
        };
        let mib = self.memory_bytes as f64 / (1024.0 * 1024.0);
        let memory = if mib < 10.0 {
            format!("{mib:.1}")
        } else {
            format!("{mib:.0}")
        };
        let processes = match self.processes {
            1 => "1 process".to_string(),
            n => format!("{n} processes"),
        };
        format!("CPU {cpu} % · {memory} MiB · {processes}")
    }

    /// The same measurement at the precision the tray shows, so a view only
    /// changes when what it shows changes.
    pub fn rounded(&self) -> ResourceUse {
        let cpu = if self.cpu_percent < 10.0 {
            (self.cpu_percent * 10.0).round() / 10.0
        } else {
            self.cpu_percent.round()
        };
        let mib = 1024 * 1024;
        ResourceUse {
            cpu_percent: cpu,
            memory_bytes: (self.memory_bytes + mib / 2) / mib * mib,
            processes: self.processes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_small_and_large_figures() {
        let small = ResourceUse {
            cpu_percent: 0.42,
            memory_bytes: 5 * 1024 * 1024 + 300 * 1024,
            processes: 1,
        };
        assert_eq!(small.describe(), "CPU 0.4 % · 5.3 MiB · 1 process");
        let large = ResourceUse {
            cpu_percent: 123.6,
            memory_bytes: 212 * 1024 * 1024,
            processes: 4,
        };
        assert_eq!(large.describe(), "CPU 124 % · 212 MiB · 4 processes");
    }

    #[test]
    fn rounding_hides_changes_the_views_do_not_show() {
        let a = ResourceUse {
            cpu_percent: 12.2,
            memory_bytes: 212 * 1024 * 1024 + 10,
            processes: 3,
        };
        let b = ResourceUse {
            cpu_percent: 11.9,
            memory_bytes: 212 * 1024 * 1024 - 10,
            processes: 3,
        };
        assert_eq!(a.rounded(), b.rounded());
    }
}
