//! The tracker process as /proc shows it: CPU time, memory, TCP sockets.

use std::collections::HashSet;

/// User plus system CPU time of `pid`, in clock ticks (1/100 s).
pub fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name: utime and stime are the 12th and 13th.
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(11) + field(12)
}

/// Process `pid`'s TCP sockets: (listening, others). Its socket descriptors matched by inode
/// against the kernel's TCP tables.
pub fn tcp_sockets(pid: u32) -> (usize, usize) {
    let inodes: HashSet<u64> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|fds| {
            fds.filter_map(|fd| {
                let target = std::fs::read_link(fd.ok()?.path()).ok()?;
                let target = target.to_str()?;
                target
                    .strip_prefix("socket:[")?
                    .strip_suffix(']')?
                    .parse()
                    .ok()
            })
            .collect()
        })
        .unwrap_or_default();
    let (mut listening, mut connected) = (0, 0);
    for table in ["tcp", "tcp6"] {
        let text = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")).unwrap_or_default();
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let Some(inode) = fields.get(9).and_then(|i| i.parse::<u64>().ok()) else {
                continue;
            };
            if inode != 0 && inodes.contains(&inode) {
                if fields[3] == "0A" {
                    listening += 1;
                } else {
                    connected += 1;
                }
            }
        }
    }
    (listening, connected)
}

/// A `VmRSS:`-style line of /proc/PID/status, in MiB (`pid` 0: this process).
pub fn status_mib(pid: u32, key: &str) -> f64 {
    let path = match pid {
        0 => "/proc/self/status".to_string(),
        pid => format!("/proc/{pid}/status"),
    };
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

/// The machine's load averages, as `uptime` shows them.
pub fn load_average() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}
