//! Child processes of the benchmarks (the local server, the Lambda
//! binaries): started, measured through `/proc`, and always stopped.

use std::path::Path;
use std::process::{Child, Command};

use crate::BenchResult;

/// A child process that is killed and reaped when dropped.
pub struct ChildGuard(Child);

impl ChildGuard {
    /// Spawns `command`.
    pub fn spawn(mut command: Command) -> BenchResult<Self> {
        let program = command.get_program().to_string_lossy().into_owned();
        let child = command
            .spawn()
            .map_err(|e| format!("starting {program}: {e}"))?;
        Ok(Self(child))
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.0.id()
    }

    /// True when the process has ended.
    pub fn has_exited(&mut self) -> bool {
        matches!(self.0.try_wait(), Ok(Some(_)))
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Memory of a running process, from `/proc/<pid>/status`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Memory {
    /// Peak resident set size (`VmHWM`), KiB.
    pub peak_rss_kib: u64,
}

/// Reads the memory figures of process `pid`.
pub fn memory(pid: u32) -> BenchResult<Memory> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).map_err(|e| format!("reading {path}: {e}"))?;
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Ok(Memory {
        peak_rss_kib: field("VmHWM:"),
    })
}

/// A free TCP port on 127.0.0.1 (free when asked; another process could
/// take it before the caller binds it, which a retry would cure).
pub fn free_port() -> BenchResult<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// The size of a file in bytes.
pub fn file_size(path: &Path) -> BenchResult<u64> {
    Ok(std::fs::metadata(path)
        .map_err(|e| format!("{}: {e} (built with infra/bench.sh?)", path.display()))?
        .len())
}
