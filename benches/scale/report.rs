//! The pure parts of the scale benchmark: what one N measured ([`Row`]), the Markdown it
//! prints and writes into docs/performance.md, and the parsers of the text the benchmark
//! reads (`/proc/PID/status`, `/proc/PID/stat`, the operator's `/metrics` and log). No I/O
//! here, so that `tests.rs` checks all of it without a cluster.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

/// What the benchmark measured for one N.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Row {
    /// Users in the tenant.
    pub users: usize,
    /// Whether the users were taken over (`--takeover`) rather than created.
    pub takeover: bool,
    /// Operator start to every user Ready with an ID and every licence e-mail delivered.
    pub convergence: Duration,
    /// The bare client's Secret, claim and status write per user, at the same concurrency.
    pub floor: Duration,
    /// Highest VmHWM of the operator processes, KiB.
    pub peak_rss_kib: u64,
    /// Operator API writes during convergence, by resource (`secrets`,
    /// `conferencingusers/status`, ...).
    pub writes: BTreeMap<String, u64>,
    /// Writes while converged, over `steady_window`.
    pub steady_writes: u64,
    /// How long the steady state was watched.
    pub steady_window: Duration,
    /// Restart (new process spawned) to idle: caches filled, then no reconcile and no write.
    pub restart_to_idle: Duration,
    /// Writes of the restarted operator until idle.
    pub restart_writes: u64,
    /// Tenant default number changed to every user showing it and every e-mail delivered.
    pub fan_out: Duration,
    /// The bare client's one status write per user.
    pub fan_out_floor: Duration,
    /// Operator API writes during the fan-out, by resource.
    pub fan_out_writes: BTreeMap<String, u64>,
    /// CPU time per process during convergence (`operator`, `kube-apiserver`, ...), where known.
    pub convergence_cpu: BTreeMap<String, Duration>,
    /// CPU time per process during the fan-out, where known.
    pub fan_out_cpu: BTreeMap<String, Duration>,
}

fn ratio(a: Duration, b: Duration) -> f64 {
    if b.is_zero() { f64::NAN } else { a.as_secs_f64() / b.as_secs_f64() }
}

impl Row {
    /// Convergence time over its floor.
    pub fn ratio(&self) -> f64 {
        ratio(self.convergence, self.floor)
    }

    /// Fan-out time over its floor.
    pub fn fan_out_ratio(&self) -> f64 {
        ratio(self.fan_out, self.fan_out_floor)
    }

    /// Peak RSS in MiB.
    pub fn peak_rss_mib(&self) -> f64 {
        self.peak_rss_kib as f64 / 1024.0
    }

    /// Peak RSS per 1,000 users, fixed cost included (see [`fit`] for the slope alone).
    pub fn mib_per_thousand(&self) -> f64 {
        if self.users == 0 { f64::NAN } else { self.peak_rss_mib() * 1000.0 / self.users as f64 }
    }

    /// Convergence writes per user.
    pub fn writes_per_user(&self) -> f64 {
        per_user(self.writes.values().sum(), self.users)
    }

    /// Fan-out writes per user.
    pub fn fan_out_writes_per_user(&self) -> f64 {
        per_user(self.fan_out_writes.values().sum(), self.users)
    }
}

fn per_user(n: u64, users: usize) -> f64 {
    if users == 0 { f64::NAN } else { n as f64 / users as f64 }
}

/// Seconds, with two decimals under 10 s and one above: enough to compare, not more than a
/// run on a shared machine can tell apart.
pub fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 10.0 { format!("{s:.2}") } else { format!("{s:.1}") }
}

/// "1,000", "30,000".
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// "secrets 1.00, conferencingusers/status 2.00" (writes per user, by resource).
fn by_resource(writes: &BTreeMap<String, u64>, users: usize) -> String {
    if writes.is_empty() {
        return "none".into();
    }
    writes.iter().map(|(r, n)| format!("{r} {:.2}", per_user(*n, users))).collect::<Vec<_>>().join(", ")
}

fn cpu(map: &BTreeMap<String, Duration>) -> String {
    if map.is_empty() {
        return "n/a".into();
    }
    map.iter().map(|(p, d)| format!("{p} {:.1}", d.as_secs_f64())).collect::<Vec<_>>().join(", ")
}

/// The results as Markdown: convergence, then steady state, restart and fan-out, then where
/// the CPU went, then the memory fit.
/// The users column: how many, and "taken over" for a takeover run.
fn users(r: &Row) -> String {
    if r.takeover { format!("{} taken over", thousands(r.users)) } else { thousands(r.users) }
}

pub fn markdown(rows: &[Row]) -> String {
    let mut s = String::new();
    s.push_str(
        "| users | convergence (s) | floor (s) | ratio | peak RSS (MiB) | MiB per 1,000 users | API writes per user | by resource, per user |\n",
    );
    s.push_str("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n");
    for r in rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:.2} | {:.1} | {:.2} | {:.2} | {} |",
            users(r),
            secs(r.convergence),
            secs(r.floor),
            r.ratio(),
            r.peak_rss_mib(),
            r.mib_per_thousand(),
            r.writes_per_user(),
            by_resource(&r.writes, r.users),
        );
    }
    s.push('\n');
    s.push_str(
        "| users | steady-state writes | restart to idle (s) | writes after restart | fan-out (s) | fan-out floor (s) | ratio | fan-out writes per user | by resource, per user |\n",
    );
    s.push_str("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n");
    for r in rows {
        let _ = writeln!(
            s,
            "| {} | {} in {} s | {} | {} | {} | {} | {:.2} | {:.2} | {} |",
            users(r),
            r.steady_writes,
            r.steady_window.as_secs(),
            secs(r.restart_to_idle),
            r.restart_writes,
            secs(r.fan_out),
            secs(r.fan_out_floor),
            r.fan_out_ratio(),
            r.fan_out_writes_per_user(),
            by_resource(&r.fan_out_writes, r.users),
        );
    }
    if rows.iter().any(|r| !r.convergence_cpu.is_empty() || !r.fan_out_cpu.is_empty()) {
        s.push('\n');
        s.push_str("| users | CPU seconds during convergence | CPU seconds during fan-out |\n");
        s.push_str("| ---: | --- | --- |\n");
        for r in rows {
            let _ = writeln!(s, "| {} | {} | {} |", thousands(r.users), cpu(&r.convergence_cpu), cpu(&r.fan_out_cpu));
        }
    }
    if let Some(f) = fit(rows) {
        let _ = write!(
            s,
            "\nPeak RSS, least-squares line over the runs: {:.1} MiB + {:.2} MiB per 1,000 users.\n",
            f.intercept_mib, f.mib_per_thousand
        );
    }
    s
}

/// A straight line through (users, peak RSS).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fit {
    /// The fixed cost, MiB.
    pub intercept_mib: f64,
    /// The cost of 1,000 more users, MiB.
    pub mib_per_thousand: f64,
}

/// Least-squares fit of peak RSS against users; `None` with fewer than two distinct N.
pub fn fit(rows: &[Row]) -> Option<Fit> {
    let n = rows.len() as f64;
    let xs: Vec<f64> = rows.iter().map(|r| r.users as f64 / 1000.0).collect();
    let ys: Vec<f64> = rows.iter().map(Row::peak_rss_mib).collect();
    let mx = xs.iter().sum::<f64>() / n;
    let my = ys.iter().sum::<f64>() / n;
    let sxx: f64 = xs.iter().map(|x| (x - mx).powi(2)).sum();
    if rows.len() < 2 || sxx == 0.0 {
        return None;
    }
    let sxy: f64 = xs.iter().zip(&ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let slope = sxy / sxx;
    Some(Fit { intercept_mib: my - slope * mx, mib_per_thousand: slope })
}

/// First line of the generated section of docs/performance.md.
pub const BEGIN_MARKER: &str =
    "<!-- bench-scale:begin: generated by scripts/bench-scale, edits between the markers are replaced -->";
/// Last line of the generated section.
pub const END_MARKER: &str = "<!-- bench-scale:end -->";

/// Why the generated section cannot be replaced.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum MarkerError {
    /// A begin marker without an end marker after it: replacing would eat the rest of the file.
    #[error("docs/performance.md has a `<!-- bench-scale:begin` line but no `{END_MARKER}` line after it")]
    Unterminated,
}

/// Replaces what lies between the marker lines with `section`, keeping everything outside
/// them (the hand-written analysis); appends the markers when the document has none.
pub fn replace_section(doc: &str, section: &str) -> Result<String, MarkerError> {
    let section = if section.ends_with('\n') { section.to_string() } else { format!("{section}\n") };
    let begin = doc.lines().scan(0usize, |offset, line| {
        let start = *offset;
        *offset += line.len() + 1;
        Some((start, line))
    });
    let mut begin_end = None;
    let mut end_start = None;
    for (start, line) in begin {
        if begin_end.is_none() && line.trim_start().starts_with("<!-- bench-scale:begin") {
            begin_end = Some((start + line.len() + 1).min(doc.len()));
        } else if begin_end.is_some() && line.trim() == END_MARKER {
            end_start = Some(start);
            break;
        }
    }
    match (begin_end, end_start) {
        (Some(b), Some(e)) => {
            let head = &doc[..b];
            let head = if head.ends_with('\n') { head.to_string() } else { format!("{head}\n") };
            Ok(format!("{head}{section}{}", &doc[e..]))
        }
        (Some(_), None) => Err(MarkerError::Unterminated),
        (None, _) => {
            let sep = if doc.is_empty() || doc.ends_with("\n\n") {
                ""
            } else if doc.ends_with('\n') {
                "\n"
            } else {
                "\n\n"
            };
            Ok(format!("{doc}{sep}{BEGIN_MARKER}\n{section}{END_MARKER}\n"))
        }
    }
}

/// A `/proc/PID/status` field in KiB (`VmHWM`, `VmRSS`).
pub fn status_kib(status: &str, field: &str) -> Option<u64> {
    status.lines().find_map(|l| {
        let rest = l.strip_prefix(field)?.strip_prefix(':')?;
        let mut parts = rest.split_whitespace();
        let value = parts.next()?.parse().ok()?;
        (parts.next() == Some("kB")).then_some(value)
    })
}

/// User plus system CPU time of a process from `/proc/PID/stat`, in clock ticks. The command
/// name (field 2) may hold spaces and parentheses, so fields are counted from the last `)`.
pub fn stat_cpu_ticks(stat: &str) -> Option<u64> {
    let after = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 (utime) and 15 (stime) of proc(5); `after` starts at field 3.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Clock ticks per second in `/proc/PID/stat`: USER_HZ, which Linux fixes at 100 in its
/// user-space ABI on every architecture it exports it for.
pub const USER_HZ: u64 = 100;

/// The samples of one metric family in Prometheus or OpenMetrics text, keyed by the value of
/// `label` (summed over the other labels). `name` is the sample name, e.g.
/// `conferencing_api_writes_total`.
pub fn metric_by_label(text: &str, name: &str, label: &str) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix(name) else { continue };
        let (labels, value) = match rest.strip_prefix('{') {
            Some(r) => match r.split_once('}') {
                Some((labels, value)) => (labels, value),
                None => continue,
            },
            None if rest.starts_with(' ') => ("", rest),
            None => continue,
        };
        let Some(value) = value.split_whitespace().next().and_then(|v| v.parse::<f64>().ok()) else { continue };
        let key = labels
            .split(',')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| k.trim() == label)
            .map(|(_, v)| v.trim().trim_matches('"').to_string())
            .unwrap_or_default();
        // Counters are whole numbers; the text format prints them as such or as `5.0`.
        *out.entry(key).or_insert(0) += value.round() as u64;
    }
    out
}

/// The address from the operator's `serving /healthz, /readyz and /metrics addr=...` line.
pub fn serving_addr(line: &str) -> Option<SocketAddr> {
    if !line.contains("serving /healthz") {
        return None;
    }
    let addr = line.split_whitespace().find_map(|w| w.strip_prefix("addr="))?;
    addr.trim_matches('"').parse().ok()
}
