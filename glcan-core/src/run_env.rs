//! What every suite records beside a run: the code, the machine, the time. Shared by the
//! grid runners of the suites so that their `env.json` files and result rows agree.

use tch::Device;

use crate::cpu_kernels::{self, CpuKernels};
use crate::libtorch_facts::LibtorchFacts;
use crate::memory;

/// The machine and code a run ran on (`env.json` of a run directory).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Environment {
    /// The commit the binary was built from, captured at build time, `-dirty` when tracked
    /// files differed from it then ([`set_build_commit`]).
    pub git_commit: String,
    /// libtorch's, tch's, CUDA's and cuDNN's versions, as they state them.
    #[serde(flatten)]
    pub libraries: LibtorchFacts,
    /// The command that made the run, word by word (`--set` overrides included).
    pub command_line: Vec<String>,
    pub device: String,
    pub threads: i32,
    pub cpu: String,
    /// The CPU kernels libtorch ran (pinned to AVX2 by default; see `cpu_kernels`).
    pub cpu_kernels: CpuKernels,
    /// The bits these kernels compute at these threads (`kernel_probe`): two machines with
    /// the same fingerprint train a seeded run to the same weights.
    pub kernel_fingerprint: String,
}

impl Environment {
    /// The environment of this process now; call it once the run's threads are set.
    pub fn capture(device: Device) -> Self {
        Environment {
            git_commit: BUILD_COMMIT.get().copied().unwrap_or(NOT_STAMPED).to_owned(),
            libraries: LibtorchFacts::capture(),
            command_line: std::env::args().collect(),
            device: memory::device_name(device),
            threads: tch::get_num_threads(),
            cpu: cpu_model(),
            cpu_kernels: cpu_kernels::current_kernels(),
            kernel_fingerprint: crate::kernel_probe::fingerprint(),
        }
    }
}

/// Sets libtorch's intra-op threads when `threads` is given (the machine's default when
/// not); 0 is refused.
pub fn set_threads(threads: Option<usize>) -> crate::Result<()> {
    match threads {
        None => Ok(()),
        Some(0) => Err(crate::Error::config("threads", "0: give at least 1, or leave it out for the machine's default")),
        Some(n) => {
            tch::set_num_threads(i32::try_from(n).map_err(|_| crate::Error::config("threads", format!("{n} does not fit an i32")))?);
            Ok(())
        }
    }
}

/// A device by name: `cpu`, `cuda` (device 0) or `cuda:N`; CUDA must be available.
pub fn parse_device(name: &str) -> crate::Result<Device> {
    let device = match name {
        "cpu" => return Ok(Device::Cpu),
        "cuda" => Device::Cuda(0),
        other => match other.strip_prefix("cuda:").and_then(|n| n.parse().ok()) {
            Some(index) => Device::Cuda(index),
            None => return Err(crate::Error::config("device", format!("unknown device {name:?}: expected cpu, cuda or cuda:N"))),
        },
    };
    let available = tch::Cuda::device_count() as usize;
    match device {
        Device::Cuda(index) if index >= available => {
            Err(crate::Error::config("device", format!("{name} requested, but libtorch sees {available} CUDA device(s)")))
        }
        _ => Ok(device),
    }
}

/// The commit of [`set_build_commit`]; a process that never set it (a library's own tests)
/// records [`NOT_STAMPED`].
static BUILD_COMMIT: std::sync::OnceLock<&'static str> = std::sync::OnceLock::new();

pub const NOT_STAMPED: &str = "unknown (not a stamped binary)";

/// Records the commit this binary was built from, for every later [`Environment`]; the
/// binaries pass `env!("GLCAN_GIT_COMMIT")` (see `glcan_build::stamp_git_commit`). The
/// first call wins.
pub fn set_build_commit(commit: &'static str) {
    let _ = BUILD_COMMIT.set(commit);
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| info.lines().find(|l| l.starts_with("model name")).and_then(|l| l.split(':').nth(1)).map(|s| s.trim().to_owned()))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The current UTC time as `YYYY-MM-DDTHH:MM:SSZ` (civil-from-days, no time-zone data).
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let now = now_rfc3339();
        assert_eq!(now.len(), 20);
        assert!(now.starts_with("20") && now.ends_with('Z') && now.as_bytes()[10] == b'T', "{now}");
    }
}
