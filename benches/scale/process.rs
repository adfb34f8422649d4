//! The processes the benchmark runs and watches: the operator binary (its log, `/metrics`,
//! VmHWM and CPU time) and a private `scripts/smtp-server` instance (its Maildir).

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::BenchError;
use super::report;

/// How the operator is run: the flags of issue 11.
pub struct OperatorConfig {
    pub binary: PathBuf,
    pub namespace: String,
    pub smtp_port: u16,
    pub concurrency: u16,
    pub smtp_pool_size: u32,
}

/// A running `conferencing-operator run`, logging into a file.
pub struct Operator {
    child: Child,
    pub log: PathBuf,
    log_read: u64,
    partial: String,
    pub spawned: Instant,
    pub addr: Option<SocketAddr>,
    pub caches_filled: Option<Instant>,
}

impl Operator {
    pub fn spawn(config: &OperatorConfig, log: &Path) -> Result<Operator, BenchError> {
        let file = std::fs::File::create(log).map_err(|e| BenchError::io(format!("creating {}", log.display()), e))?;
        let err = file.try_clone().map_err(|e| BenchError::io("duplicating the log file handle", e))?;
        let child = Command::new(&config.binary)
            .args(["run", "--namespace", &config.namespace, "--leader-election=false", "--http-addr", "127.0.0.1:0"])
            .args(["--smtp-url", &format!("smtp://127.0.0.1:{}", config.smtp_port), "--smtp-starttls", "never"])
            .args(["--smtp-pool-size", &config.smtp_pool_size.to_string()])
            .args(["--concurrency", &config.concurrency.to_string()])
            // The default filter: the `api write` lines and the start-up milestones are info.
            .env("RUST_LOG", "warn,conferencing_operator=info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(err)
            .spawn()
            .map_err(|e| BenchError::io(format!("starting {}", config.binary.display()), e))?;
        Ok(Operator {
            child,
            log: log.to_path_buf(),
            log_read: 0,
            partial: String::new(),
            spawned: Instant::now(),
            addr: None,
            caches_filled: None,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Reads the log lines written since the last call, noting the HTTP address and the
    /// moment the caches were filled; fails if the process has exited.
    pub fn poll(&mut self) -> Result<(), BenchError> {
        let mut f = std::fs::File::open(&self.log).map_err(|e| BenchError::io("opening the operator log", e))?;
        f.seek(SeekFrom::Start(self.log_read)).map_err(|e| BenchError::io("reading the operator log", e))?;
        let mut buf = Vec::new();
        f.read_to_end(&mut buf).map_err(|e| BenchError::io("reading the operator log", e))?;
        self.log_read += buf.len() as u64;
        self.partial.push_str(&String::from_utf8_lossy(&buf));
        if let Some(last_newline) = self.partial.rfind('\n') {
            let complete: String = self.partial.drain(..=last_newline).collect();
            for line in complete.lines() {
                if self.addr.is_none() {
                    self.addr = report::serving_addr(line);
                }
                if self.caches_filled.is_none() && line.contains("caches filled; controllers started") {
                    self.caches_filled = Some(Instant::now());
                }
            }
        }
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(BenchError::OperatorExited { status: status.to_string() }),
            Err(e) => Err(BenchError::io("checking on the operator", e)),
        }
    }

    /// Waits for the `serving ... addr=` line.
    pub async fn wait_addr(&mut self, timeout: Duration) -> Result<SocketAddr, BenchError> {
        let deadline = Instant::now() + timeout;
        loop {
            self.poll()?;
            if let Some(a) = self.addr {
                return Ok(a);
            }
            if Instant::now() > deadline {
                return Err(BenchError::Timeout {
                    phase: "operator start".into(),
                    after: timeout,
                    progress: "no `serving /healthz, /readyz and /metrics addr=` line in its log".into(),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The operator's `/metrics` text.
    pub async fn metrics(&self) -> Result<String, BenchError> {
        let addr = self.addr.ok_or_else(|| BenchError::Metrics("the operator has not said where it serves".into()))?;
        let get = async {
            let mut s = tokio::net::TcpStream::connect(addr).await?;
            s.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await?;
            let mut out = Vec::new();
            s.read_to_end(&mut out).await?;
            Ok::<_, std::io::Error>(out)
        };
        let raw = tokio::time::timeout(Duration::from_secs(10), get)
            .await
            .map_err(|_| BenchError::Metrics(format!("GET http://{addr}/metrics timed out")))?
            .map_err(|e| BenchError::Metrics(format!("GET http://{addr}/metrics: {e}")))?;
        let text = String::from_utf8_lossy(&raw);
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        if !head.starts_with("HTTP/1.1 200") {
            return Err(BenchError::Metrics(format!(
                "GET http://{addr}/metrics: {}",
                head.lines().next().unwrap_or("")
            )));
        }
        Ok(body.to_string())
    }

    /// API writes so far, by resource, and reconciles so far (all kinds and results).
    pub async fn counters(&self) -> Result<Counters, BenchError> {
        let text = self.metrics().await?;
        Ok(Counters {
            writes: report::metric_by_label(&text, "conferencing_api_writes_total", "kind"),
            reconciles: report::metric_by_label(&text, "conferencing_reconciles_total", "kind").values().sum(),
        })
    }

    /// A `/proc/PID/status` field in KiB (`VmHWM`, `VmRSS`).
    fn status_kib(&self, field: &'static str) -> Result<u64, BenchError> {
        std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .ok()
            .and_then(|status| report::status_kib(&status, field))
            .ok_or(BenchError::Proc { pid: self.pid(), what: field })
    }

    /// Stops the operator as Kubernetes would (SIGTERM), returning its memory read just
    /// before: the peak (VmHWM) and what it held at the end (VmRSS).
    pub async fn stop(mut self) -> Result<Memory, BenchError> {
        self.poll()?;
        let peak = Memory { peak_kib: self.status_kib("VmHWM")?, last_kib: self.status_kib("VmRSS")? };
        let _ = Command::new("kill").args(["-TERM", &self.pid().to_string()]).status();
        // The operator gives in-flight work 10 s after SIGTERM.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) => return Ok(peak),
                Ok(None) if Instant::now() > deadline => {
                    return Err(BenchError::Timeout {
                        phase: "operator stop".into(),
                        after: Duration::from_secs(30),
                        progress: "still running after SIGTERM".into(),
                    });
                }
                Ok(None) => tokio::time::sleep(Duration::from_millis(50)).await,
                Err(e) => return Err(BenchError::io("waiting for the operator", e)),
            }
        }
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// An operator process's memory when it was stopped.
#[derive(Clone, Copy, Debug)]
pub struct Memory {
    /// VmHWM.
    pub peak_kib: u64,
    /// VmRSS.
    pub last_kib: u64,
}

impl std::fmt::Display for Memory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mib = |kib: u64| kib as f64 / 1024.0;
        write!(f, "peak RSS {:.1} MiB, RSS at stop {:.1} MiB", mib(self.peak_kib), mib(self.last_kib))
    }
}

/// The operator's counters at one moment.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Counters {
    pub writes: BTreeMap<String, u64>,
    pub reconciles: u64,
}

impl Counters {
    pub fn total_writes(&self) -> u64 {
        self.writes.values().sum()
    }

    /// Writes since `earlier`, by resource (resources with none left out).
    pub fn writes_since(&self, earlier: &Counters) -> BTreeMap<String, u64> {
        self.writes
            .iter()
            .map(|(k, v)| (k.clone(), v.saturating_sub(earlier.writes.get(k).copied().unwrap_or(0))))
            .filter(|(_, v)| *v > 0)
            .collect()
    }
}

/// The last `n` lines of a log file, and separately its last `n` warnings and errors (which
/// the routine `api write` lines of a busy operator would otherwise push out of view).
pub fn tail(path: &Path, n: usize) -> (String, String) {
    let Ok(mut f) = std::fs::File::open(path) else {
        return (format!("(cannot open {})", path.display()), String::new());
    };
    let mut buf = Vec::new();
    let _ = f.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    let last = |lines: Vec<&str>| lines[lines.len().saturating_sub(n)..].join("\n");
    let warnings = text.lines().filter(|l| l.contains(" WARN ") || l.contains(" ERROR ")).collect();
    (last(text.lines().collect()), last(warnings))
}

/// A private `scripts/smtp-server` instance whose state (and Maildir) lives under `dir`.
pub struct SmtpServer {
    script: PathBuf,
    dir: PathBuf,
    name: String,
    pub port: u16,
    maildir: PathBuf,
    pub pid: Option<u32>,
}

impl SmtpServer {
    pub fn start(script: &Path, dir: &Path, name: &str) -> Result<SmtpServer, BenchError> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| BenchError::io("finding a free port for the SMTP server", e))?
            .port();
        let out = Command::new(script)
            .args(["up", "--name", name, "--port", &port.to_string()])
            .env("SMTP_SERVER_DIR", dir)
            .output()
            .map_err(|e| BenchError::io(format!("running {}", script.display()), e))?;
        if !out.status.success() {
            return Err(BenchError::Smtp(format!(
                "{} up failed: {}{}",
                script.display(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        let state = dir.join(name);
        let pid = std::fs::read_to_string(state.join("server.pid")).ok().and_then(|p| p.trim().parse().ok());
        Ok(SmtpServer {
            script: script.to_path_buf(),
            dir: dir.to_path_buf(),
            name: name.into(),
            port,
            maildir: state.join("maildir"),
            pid,
        })
    }

    /// Messages accepted so far (a Maildir keeps one file per message in `new/`, or `cur/`
    /// once a client has seen it).
    /// When each message arrived (its Maildir file's modification time), in no order.
    pub fn arrivals(&self) -> Vec<std::time::SystemTime> {
        ["new", "cur"]
            .iter()
            .filter_map(|d| std::fs::read_dir(self.maildir.join(d)).ok())
            .flatten()
            .filter_map(|e| e.ok()?.metadata().ok()?.modified().ok())
            .collect()
    }

    pub fn count(&self) -> usize {
        ["new", "cur"].iter().map(|d| std::fs::read_dir(self.maildir.join(d)).map(|r| r.count()).unwrap_or(0)).sum()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = Command::new(&self.script)
            .args(["down", "--name", &self.name])
            .env("SMTP_SERVER_DIR", &self.dir)
            .stdout(Stdio::null())
            .status();
    }
}

/// CPU time of the processes whose pids are known, to show where a phase's time went.
pub struct CpuMeter {
    pids: Vec<(String, u32)>,
}

/// CPU ticks per process at one moment.
pub type CpuSample = BTreeMap<String, u64>;

impl CpuMeter {
    pub fn new(pids: Vec<(String, u32)>) -> CpuMeter {
        CpuMeter { pids }
    }

    pub fn sample(&self, extra: &[(&str, u32)]) -> CpuSample {
        self.pids
            .iter()
            .map(|(n, p)| (n.as_str(), *p))
            .chain(extra.iter().copied())
            .filter_map(|(name, pid)| {
                let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
                Some((name.to_string(), report::stat_cpu_ticks(&stat)?))
            })
            .collect()
    }

    /// CPU time spent between two samples, per process present in both. A process started
    /// after `before` (the operator) counts from its start when `before` lacks it.
    pub fn between(before: &CpuSample, after: &CpuSample) -> BTreeMap<String, Duration> {
        after
            .iter()
            .map(|(name, t)| {
                let ticks = t.saturating_sub(before.get(name).copied().unwrap_or(0));
                (name.clone(), Duration::from_millis(ticks * 1000 / report::USER_HZ))
            })
            .collect()
    }
}
