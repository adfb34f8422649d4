//! A real SMTP server for a test: `scripts/smtp-server` (Debian's aiosmtpd), one instance per
//! test on a free port, storing what it accepts in a Maildir.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

pub struct SmtpServer {
    pub name: String,
    pub port: u16,
    pub maildir: PathBuf,
    pub control: PathBuf,
    pub log: PathBuf,
    /// The server's self-signed certificate, to trust for STARTTLS.
    pub ca: PathBuf,
    /// AUTH password of user `conferencing`.
    pub password: String,
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/smtp-server")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

impl SmtpServer {
    /// Starts an instance named `name` on a free port.
    pub fn start(name: &str) -> SmtpServer {
        Self::start_with(name, &[])
    }

    /// Starts an instance with extra options (e.g. `--require-auth`).
    pub fn start_with(name: &str, options: &[&str]) -> SmtpServer {
        let port = free_port();
        let status = Command::new(script())
            .args(["up", "--name", name, "--port", &port.to_string()])
            .args(options)
            .status()
            .expect("run scripts/smtp-server");
        assert!(status.success(), "scripts/smtp-server up failed");
        let out = Command::new(script()).args(["env", "--name", name]).output().expect("env");
        let env = String::from_utf8_lossy(&out.stdout).to_string();
        let var = |key: &str| -> String {
            env.lines()
                .find_map(|l| {
                    l.trim_start_matches("export ")
                        .strip_prefix(&format!("{key}="))
                        .map(|v| v.trim_matches(['"', '\'']).to_string())
                })
                .unwrap_or_else(|| panic!("{key} missing from scripts/smtp-server env:\n{env}"))
        };
        let maildir = PathBuf::from(var("SMTP_TEST_MAILDIR"));
        let ca = PathBuf::from(var("SMTP_TEST_CA"));
        let password = var("SMTP_TEST_PASSWORD");
        let control = PathBuf::from(var("SMTP_TEST_CONTROL"));
        let log = maildir.parent().map(|p| p.join("server.log")).unwrap_or_default();
        SmtpServer { name: name.into(), port, maildir, control, log, ca, password }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Stops the server (its Maildir stays).
    pub fn down(&self) {
        let _ = Command::new(script()).args(["down", "--name", &self.name]).status();
    }

    /// Starts it again on the same port.
    pub fn up(&self) {
        let status = Command::new(script())
            .args(["up", "--name", &self.name, "--port", &self.port.to_string()])
            .status()
            .expect("run scripts/smtp-server");
        assert!(status.success());
    }

    /// `accept`, `reject-permanent` or `reject-temporary`.
    pub fn mode(&self, mode: &str) {
        std::fs::write(&self.control, format!("{{\"mode\": \"{mode}\"}}")).expect("control file");
    }

    /// Answers DATA only after `seconds` (and then accepts): a slow relay.
    pub fn slow(&self, seconds: f64) {
        std::fs::write(&self.control, format!("{{\"mode\": \"slow\", \"delay\": {seconds}}}")).expect("control file");
    }

    /// Every message received so far, raw.
    pub fn messages(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for sub in ["new", "cur"] {
            if let Ok(entries) = std::fs::read_dir(self.maildir.join(sub)) {
                let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
                paths.sort_by_cached_key(|p| arrival(p));
                out.extend(paths.into_iter().filter_map(|p| std::fs::read(p).ok()));
            }
        }
        out
    }

    /// Waits until at least `n` messages have arrived.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Vec<u8>> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let m = self.messages();
            if m.len() >= n {
                return m;
            }
            assert!(std::time::Instant::now() < deadline, "timed out waiting for {n} e-mails, got {}", m.len());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Every message received so far, parsed, in arrival order.
    pub fn mails(&self) -> Vec<super::mail::Mail> {
        self.messages().iter().map(|r| super::mail::Mail::parse(r)).collect()
    }

    /// Lines of the server's transaction log.
    pub fn transactions(&self) -> usize {
        self.attempts().len()
    }

    /// The server's transaction log: one entry per DATA (or refused RCPT) it answered.
    pub fn attempts(&self) -> Vec<Attempt> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines().map(|l| Attempt::parse(l).unwrap_or_else(|| panic!("not a server.log line: {l:?}"))).collect()
    }
}

/// One transaction of the server's log: when (to the second, the log's resolution), to whom,
/// and its result (`250`, `451`, `550`).
#[derive(Clone, Debug)]
pub struct Attempt {
    /// Seconds since the Unix epoch.
    pub at: i64,
    pub to: String,
    pub result: String,
}

impl Attempt {
    fn parse(line: &str) -> Option<Attempt> {
        let stamp = line.split_whitespace().next()?;
        // The server writes local time; only differences between attempts are used, so it is
        // read as if it were UTC.
        let at = chrono::NaiveDateTime::parse_from_str(stamp, "%Y-%m-%dT%H:%M:%S").ok()?.and_utc().timestamp();
        let field = |key: &str| line.split_whitespace().find_map(|w| w.strip_prefix(key)).map(str::to_string);
        Some(Attempt { at, to: field("to=")?, result: field("result=")? })
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.down();
    }
}

/// The order a message arrived in, from Python's Maildir name `SECONDS.M<micros>P<pid>Q<n>.host`:
/// its numbers are not zero-padded, so names sort by arrival only across whole seconds.
fn arrival(path: &std::path::Path) -> (u64, u64, u64, String) {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
    let mut parts = name.split('.');
    let secs = parts.next().and_then(|s| s.parse().ok()).unwrap_or(u64::MAX);
    let rest = parts.next().unwrap_or_default();
    let num = |after: char, before: char| {
        rest.split_once(after).and_then(|(_, r)| r.split(before).next()).and_then(|n| n.parse().ok()).unwrap_or(0)
    };
    let micros = num('M', 'P');
    let count = rest.split_once('Q').and_then(|(_, n)| n.parse().ok()).unwrap_or(0);
    (secs, micros, count, name)
}
