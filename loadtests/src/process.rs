//! Child processes (upstream, proxies): spawn with optional CPU pinning, wait for readiness by
//! polling the port, stop with SIGTERM then SIGKILL; and the `--pin` core layout ([`Pins`]).

use std::ffi::OsString;
use std::fs::File;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::Error;

/// Interval between readiness polls.
const POLL_INTERVAL: Duration = Duration::from_millis(20);
/// How long a child gets to exit after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(3);
/// The CPU-affinity tool used for pinning.
const TASKSET: &str = "taskset";

/// Where a process may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pin {
    /// Anywhere (no pinning).
    None,
    /// Only on this core (via `taskset -c`).
    Core(u32),
}

/// The core the proxy under test is pinned to with `--pin`.
pub const PROXY_CORE: u32 = 0;
/// The core everything else (load generator, upstream, helpers) is pinned to with `--pin`.
pub const LOAD_CORE: u32 = 1;

/// Where a throughput scenario runs the proxy under test and everything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pins {
    /// The proxy under test.
    pub proxy: Pin,
    /// This process (the load generator) and the upstream.
    pub load: Pin,
}

impl Pins {
    /// With `pin`, pins this process to [`LOAD_CORE`] and returns [`PROXY_CORE`] for the
    /// proxy and [`LOAD_CORE`] for the rest; without, pins nothing.
    ///
    /// # Errors
    /// Pinning this process failed.
    pub fn apply(pin: bool) -> Result<Self, Error> {
        if !pin {
            return Ok(Self {
                proxy: Pin::None,
                load: Pin::None,
            });
        }
        pin_self(LOAD_CORE)?;
        Ok(Self {
            proxy: Pin::Core(PROXY_CORE),
            load: Pin::Core(LOAD_CORE),
        })
    }
}

/// A running child process, stopped when dropped.
pub struct ChildProc {
    name: String,
    child: Child,
    log: PathBuf,
}

impl ChildProc {
    /// Spawns `program args`, with stdout and stderr appended to `log`, under `taskset -c N`
    /// when pinned.
    ///
    /// # Errors
    /// The log could not be created or the program could not be started.
    pub fn spawn(
        name: &str,
        program: &Path,
        args: &[OsString],
        log: &Path,
        pin: Pin,
    ) -> Result<Self, Error> {
        let out = File::create(log).map_err(Error::io(format!("creating {}", log.display())))?;
        let err = out
            .try_clone()
            .map_err(Error::io(format!("cloning {}", log.display())))?;
        let mut command = match pin {
            Pin::None => Command::new(program),
            Pin::Core(core) => {
                let mut command = Command::new(TASKSET);
                command.arg("-c").arg(core.to_string()).arg(program);
                command
            }
        };
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        let child = command.spawn().map_err(Error::io(format!(
            "starting {name} ({})",
            program.display()
        )))?;
        Ok(Self {
            name: name.to_owned(),
            child,
            log: log.to_owned(),
        })
    }

    /// The child's process id (`taskset` execs the program, so it is the program's pid).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Polls until `addr` accepts a TCP connection, failing early if the child exits.
    ///
    /// # Errors
    /// The child exited, or `addr` did not accept within `deadline`.
    pub fn wait_ready(&mut self, addr: SocketAddr, deadline: Duration) -> Result<(), Error> {
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(Error::ChildExited {
                    name: self.name.clone(),
                    status: status.to_string(),
                    log_tail: log_tail(&self.log, 5),
                });
            }
            if TcpStream::connect_timeout(&addr, POLL_INTERVAL).is_ok() {
                return Ok(());
            }
            if started.elapsed() >= deadline {
                return Err(Error::NotReady {
                    name: self.name.clone(),
                    addr,
                    waited_ms: started.elapsed().as_millis(),
                });
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// Sends SIGTERM, waits up to a grace period, then kills. Idempotent.
    pub fn stop(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let started = Instant::now();
        while started.elapsed() < STOP_GRACE {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(POLL_INTERVAL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The last `lines` lines of the child's output.
    pub fn log_tail(&self, lines: usize) -> String {
        log_tail(&self.log, lines)
    }
}

impl Drop for ChildProc {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The last `lines` lines of a file, joined with ` | ` (empty if unreadable).
pub fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let from = all.len().saturating_sub(lines);
    all.get(from..).unwrap_or_default().join(" | ")
}

/// A loopback port that was free a moment ago (bind to port 0, read it, release it).
///
/// # Errors
/// Binding failed.
pub fn free_port() -> Result<u16, Error> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(Error::io("finding a free port"))?;
    let addr = listener
        .local_addr()
        .map_err(Error::io("reading a free port"))?;
    Ok(addr.port())
}

/// Restricts every thread of this process (and children spawned later) to `core`.
///
/// # Errors
/// `taskset` is missing or refused.
pub fn pin_self(core: u32) -> Result<(), Error> {
    let status = Command::new(TASKSET)
        .args([
            "-a",
            "-p",
            "-c",
            &core.to_string(),
            &std::process::id().to_string(),
        ])
        .stdout(Stdio::null())
        .status()
        .map_err(Error::io("running taskset to pin the load generator"))?;
    if status.success() {
        Ok(())
    } else {
        Err(Error::Config(format!("taskset -c {core} failed: {status}")))
    }
}

/// Number of CPUs this process may run on.
pub fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}
