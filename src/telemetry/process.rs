//! The process metrics every Prometheus client library exports (`process_*`, unprefixed, as
//! dashboards and alerts for any process expect them), read from `/proc/self` on each scrape.
//! Elsewhere than Linux nothing is exported: a missing series is better than a wrong one.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

/// Reads the process's own figures at scrape time.
#[derive(Debug, Default)]
pub(crate) struct ProcessCollector;

/// One reading of the process.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Reading {
    /// Resident memory, bytes.
    pub resident_bytes: u64,
    /// Virtual memory, bytes.
    pub virtual_bytes: u64,
    /// User and system CPU time, seconds.
    pub cpu_seconds: f64,
    /// Open file descriptors.
    pub open_fds: u64,
    /// The soft limit on open file descriptors.
    pub max_fds: Option<u64>,
    /// Start time, seconds since the Unix epoch.
    pub start_time_seconds: f64,
}

/// Reads `/proc/self`; `None` where there is none.
pub(crate) fn read() -> Option<Reading> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let boot = std::fs::read_to_string("/proc/stat").ok()?;
    // SAFETY: sysconf has no preconditions; it only reads a system constant.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let open_fds = std::fs::read_dir("/proc/self/fd").ok()?.count() as u64;
    parse(&stat, &status, &limits, &boot, u64::try_from(ticks).ok().filter(|t| *t > 0)?, open_fds)
}

/// The reading these files give (pure, for tests). `ticks` is the kernel's clock ticks per
/// second (`_SC_CLK_TCK`).
pub(crate) fn parse(
    stat: &str,
    status: &str,
    limits: &str,
    proc_stat: &str,
    ticks: u64,
    open_fds: u64,
) -> Option<Reading> {
    // The command name (field 2) is in parentheses and may hold spaces or ')': fields are
    // counted after its last ')'.
    let after = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // Field 3 (state) is fields[0]; utime is 14, stime 15, starttime 22.
    let field = |n: usize| -> Option<u64> { fields.get(n - 3)?.parse().ok() };
    let (utime, stime, start) = (field(14)?, field(15)?, field(22)?);
    let kib = |key: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(key))?;
        line[key.len()..].trim().trim_end_matches("kB").trim().parse::<u64>().ok().map(|k| k * 1024)
    };
    let btime: u64 = proc_stat.lines().find_map(|l| l.strip_prefix("btime "))?.trim().parse().ok()?;
    let max_fds = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l["Max open files".len()..].split_whitespace().next()?.parse().ok());
    Some(Reading {
        resident_bytes: kib("VmRSS:").unwrap_or(0),
        virtual_bytes: kib("VmSize:").unwrap_or(0),
        cpu_seconds: (utime + stime) as f64 / ticks as f64,
        open_fds,
        max_fds,
        start_time_seconds: btime as f64 + start as f64 / ticks as f64,
    })
}

fn gauge(encoder: &mut DescriptorEncoder, name: &str, help: &str, value: f64) -> Result<(), std::fmt::Error> {
    let g = ConstGauge::new(value);
    g.encode(encoder.encode_descriptor(name, help, None, g.metric_type())?)
}

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(r) = read() else { return Ok(()) };
        let cpu = ConstCounter::new(r.cpu_seconds);
        cpu.encode(encoder.encode_descriptor(
            "process_cpu_seconds",
            "Total user and system CPU time spent in seconds",
            None,
            cpu.metric_type(),
        )?)?;
        gauge(&mut encoder, "process_resident_memory_bytes", "Resident memory size in bytes", r.resident_bytes as f64)?;
        gauge(&mut encoder, "process_virtual_memory_bytes", "Virtual memory size in bytes", r.virtual_bytes as f64)?;
        gauge(&mut encoder, "process_open_fds", "Number of open file descriptors", r.open_fds as f64)?;
        if let Some(max) = r.max_fds {
            gauge(&mut encoder, "process_max_fds", "Maximum number of open file descriptors", max as f64)?;
        }
        gauge(
            &mut encoder,
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds",
            r.start_time_seconds,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proc_reading_is_parsed_with_a_hostile_command_name() {
        // comm may contain spaces and ')': fields are counted after the last ')'.
        let stat = "4242 (conf ) op) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 8 0 12345 104857600 5000 18446744073709551615";
        let status = "Name:\tconf\nVmSize:\t  102400 kB\nVmRSS:\t   20480 kB\n";
        let limits = "Limit                     Soft Limit           Hard Limit           Units\nMax open files            1048576              1048576              files\n";
        let r = parse(stat, status, limits, "cpu 1 2 3\nbtime 1800000000\n", 100, 17).expect("parsed");
        assert_eq!(r.cpu_seconds, 3.0);
        assert_eq!(r.resident_bytes, 20480 * 1024);
        assert_eq!(r.virtual_bytes, 102400 * 1024);
        assert_eq!(r.max_fds, Some(1_048_576));
        assert_eq!(r.open_fds, 17);
        assert_eq!(r.start_time_seconds, 1_800_000_123.45);
    }

    #[test]
    fn this_process_can_be_read_on_linux() {
        if cfg!(target_os = "linux") {
            let r = read().expect("a reading of /proc/self");
            assert!(r.resident_bytes > 0 && r.open_fds > 0 && r.start_time_seconds > 1.0e9, "{r:?}");
        }
    }
}
