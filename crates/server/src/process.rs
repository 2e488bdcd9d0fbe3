//! The process's own CPU time, memory and limits, read from Linux's `/proc` and
//! cgroup files at scrape time, so CPU and memory alerts work wherever the
//! server runs (a container, a VM, a systemd unit) without another exporter.
//! On other systems, or when a file cannot be read, the sample is left out.

use crate::metrics::Family;

/// Clock ticks per second of `/proc/self/stat` times (`USER_HZ`: 100 on every
/// Linux architecture we build for; it is part of the user-space ABI).
const USER_HZ: f64 = 100.0;

/// The process families: CPU seconds, resident memory, and the CPU cores and
/// memory it may use (its cgroup's limits, else the machine's).
pub(crate) fn families() -> Vec<Family> {
    let mut out = Vec::new();
    let mut cpu = Family::counter("process_cpu_seconds_total", "User and system CPU time of the process, seconds.");
    if let Some(secs) = std::fs::read_to_string("/proc/self/stat").ok().as_deref().and_then(cpu_seconds) {
        cpu = cpu.sample(&[], secs);
    }
    out.push(cpu);
    let mut rss = Family::gauge("process_resident_memory_bytes", "Resident memory of the process, bytes.");
    if let Some(bytes) = std::fs::read_to_string("/proc/self/status").ok().as_deref().and_then(|s| kib(s, "VmRSS:")) {
        rss = rss.sample(&[], bytes);
    }
    out.push(rss);
    // std reads the cgroup CPU quota, so this is the share a container may use.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    out.push(
        Family::gauge(
            "ntsb_process_cpu_cores",
            "CPU cores the process may use (its cgroup quota, else the machine's).",
        )
        .sample(&[], cores as f64),
    );
    let mut limit = Family::gauge(
        "ntsb_process_memory_limit_bytes",
        "Memory the process may use (its cgroup limit, else the machine's memory), bytes.",
    );
    if let Some(bytes) = memory_limit() {
        limit = limit.sample(&[], bytes);
    }
    out.push(limit);
    out
}

/// utime + stime of `/proc/self/stat`, in seconds. The command name (field 2)
/// may hold spaces and parentheses, so fields are counted after its last `)`.
fn cpu_seconds(stat: &str) -> Option<f64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3, utime 14, stime 15 (1-based) → 11, 12 here.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / USER_HZ)
}

/// The value of a `Key:   N kB` line of a `/proc` file, in bytes.
fn kib(text: &str, key: &str) -> Option<f64> {
    let line = text.lines().find(|l| l.starts_with(key))?;
    let n: f64 = line[key.len()..].split_whitespace().next()?.parse().ok()?;
    Some(n * 1024.0)
}

/// The cgroup's memory limit (v2 `memory.max`, v1 `memory.limit_in_bytes`), or
/// the machine's memory when there is none.
fn memory_limit() -> Option<f64> {
    let machine = std::fs::read_to_string("/proc/meminfo").ok().as_deref().and_then(|s| kib(s, "MemTotal:"));
    let cgroup = ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .and_then(|s| s.trim().parse::<f64>().ok());
    match (cgroup, machine) {
        // v1 reports "no limit" as a huge number: the machine's memory is the limit then.
        (Some(c), Some(m)) => Some(c.min(m)),
        (c, m) => c.or(m),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_seconds_counts_fields_after_the_command_name() {
        let stat = "4242 (ntsb (serve) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0 1000 0 0";
        assert_eq!(cpu_seconds(stat), Some(3.0));
        assert_eq!(cpu_seconds("garbage"), None);
    }

    #[test]
    fn kib_lines_are_read_in_bytes() {
        assert_eq!(kib("Name:\tntsb\nVmRSS:\t  2048 kB\n", "VmRSS:"), Some(2048.0 * 1024.0));
        assert_eq!(kib("VmRSS: lots\n", "VmRSS:"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_reports_cpu_and_memory() {
        let text = crate::metrics::Metrics::new().render(&families());
        for name in ["process_cpu_seconds_total ", "process_resident_memory_bytes ", "ntsb_process_memory_limit_bytes "]
        {
            assert!(text.lines().any(|l| l.starts_with(name)), "{name} missing:\n{text}");
        }
    }
}
