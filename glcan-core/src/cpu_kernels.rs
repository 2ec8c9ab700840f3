//! Which CPU kernels libtorch runs, pinned so that results and memory do not depend on the
//! machine.
//!
//! Three libraries inside libtorch each pick code for the best instruction set the CPU has:
//! oneDNN (convolutions), ATen's own vectorised kernels (element-wise ops, reductions, batch
//! norm) and MKL (matrix products). On a CPU with AVX-512 they run other kernels than on
//! one with AVX2 only: the float results round differently, so a short training run ends
//! elsewhere, and oneDNN's AVX-512 convolutions hold larger scratch buffers, which the
//! counting allocator sees (625,920 bytes more in the SR smoke step). A regression check or
//! a committed report that must reproduce on any x86-64 machine therefore pins them:
//!
//! | library | setting (environment, read once at first use) | `avx2` pins it to |
//! |---|---|---|
//! | oneDNN | `ONEDNN_MAX_CPU_ISA` | `AVX2` |
//! | ATen | `ATEN_CPU_CAPABILITY` | `avx2` |
//! | MKL | `MKL_CBWR` | `COMPATIBLE` (the one branch MKL reproduces on Intel and AMD alike) |
//!
//! The pin must come before the first tensor operation of the process (each library reads
//! its setting once); [`pin`] checks ATen's choice afterwards and fails if it came too late.
//! What remains machine-dependent under the pin: the thread count (presets pin `threads`)
//! and oneDNN's cache-size-dependent blocking, which no setting exposes.

use std::ffi::{c_char, c_int, CStr};
use std::str::FromStr;
use std::sync::OnceLock;

use crate::{Error, Result};

/// The `cpu_isa` setting of presets and CLIs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CpuIsa {
    /// AVX2 kernels in every library: the same numbers and peak bytes on every x86-64 CPU
    /// with AVX2 (the default: committed baselines and reports are made this way).
    #[default]
    Avx2,
    /// Whatever each library picks for this CPU (fastest; results follow the machine).
    Native,
}

impl CpuIsa {
    pub fn name(self) -> &'static str {
        match self {
            CpuIsa::Avx2 => "avx2",
            CpuIsa::Native => "native",
        }
    }
}

impl FromStr for CpuIsa {
    type Err = Error;

    fn from_str(name: &str) -> Result<Self> {
        match name {
            "avx2" => Ok(CpuIsa::Avx2),
            "native" => Ok(CpuIsa::Native),
            other => Err(Error::config("cpu_isa", format!("unknown value {other:?}: expected avx2 or native"))),
        }
    }
}

impl std::fmt::Display for CpuIsa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The settings [`CpuIsa::Avx2`] writes: (variable, value).
const AVX2_SETTINGS: [(&str, &str); 3] = [("ONEDNN_MAX_CPU_ISA", "AVX2"), ("ATEN_CPU_CAPABILITY", "avx2"), ("MKL_CBWR", "COMPATIBLE")];

/// What the kernels of this process are, as a run records it (`env.json`, result rows).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CpuKernels {
    /// The setting asked for.
    pub cpu_isa: CpuIsa,
    /// ATen's CPU capability as libtorch reports it (`AVX2`, `AVX512`, ...).
    pub aten: String,
    /// `ONEDNN_MAX_CPU_ISA` as oneDNN reads it (`unset`: the CPU's best).
    pub onednn_max_cpu_isa: String,
    /// `MKL_CBWR` as MKL reads it (`unset`: MKL's own dispatch).
    pub mkl_cbwr: String,
    /// The vector extensions this CPU offers, from /proc/cpuinfo (`avx2 avx512f ...`).
    pub cpu_flags: String,
}

impl CpuKernels {
    /// The short label of result rows: `avx2`, or `native-<aten capability>` (e.g.
    /// `native-avx512`), so that runs on different kernels never compare as equals.
    pub fn label(&self) -> String {
        match self.cpu_isa {
            CpuIsa::Avx2 => "avx2".to_owned(),
            CpuIsa::Native => format!("native-{}", self.aten.to_lowercase()),
        }
    }
}

/// The kernels [`pin`] fixed for this process.
static PINNED: OnceLock<CpuKernels> = OnceLock::new();

/// Pins the process's CPU kernels to `isa` (see the module docs) and returns what they now
/// are. Call it before any tensor exists; calling it again with the same setting is fine,
/// with another is an error. (A test process cannot pin `avx2` once other tests have run
/// kernels: tests use `native`.)
pub fn pin(isa: CpuIsa) -> Result<CpuKernels> {
    if let Some(pinned) = PINNED.get() {
        if pinned.cpu_isa != isa {
            return Err(Error::config(
                "cpu_isa",
                format!("this process already runs {} kernels; it cannot switch to {isa}", pinned.cpu_isa),
            ));
        }
        return Ok(pinned.clone());
    }
    let flags = vector_flags();
    if isa == CpuIsa::Avx2 {
        if !cfg!(target_arch = "x86_64") || !flags.split(' ').any(|f| f == "avx2") {
            return Err(Error::config(
                "cpu_isa",
                format!("avx2 needs an x86-64 CPU with AVX2 (this one offers: {flags:?}); use cpu_isa = \"native\""),
            ));
        }
        for (variable, value) in AVX2_SETTINGS {
            if std::env::var(variable).is_ok_and(|v| v != value) {
                eprintln!("note: cpu_isa = avx2 replaces {variable}={} by {value}", std::env::var(variable).unwrap_or_default());
            }
            // Sound here: the process has no other threads reading the environment yet.
            std::env::set_var(variable, value);
        }
    }
    let kernels = current(isa, flags);
    if isa == CpuIsa::Avx2 && kernels.aten != "AVX2" {
        return Err(Error::config(
            "cpu_isa",
            format!("asked for avx2, but ATen already runs {} kernels: the pin came after the first tensor operation", kernels.aten),
        ));
    }
    Ok(PINNED.get_or_init(|| kernels).clone())
}

/// The kernels of this process: as pinned, or (never pinned) as the libraries chose them.
pub fn current_kernels() -> CpuKernels {
    match PINNED.get() {
        Some(pinned) => pinned.clone(),
        None => current(CpuIsa::Native, vector_flags()),
    }
}

fn current(isa: CpuIsa, cpu_flags: String) -> CpuKernels {
    let setting = |variable: &str| std::env::var(variable).unwrap_or_else(|_| "unset".to_owned());
    CpuKernels {
        cpu_isa: isa,
        aten: aten_capability(),
        onednn_max_cpu_isa: setting("ONEDNN_MAX_CPU_ISA"),
        mkl_cbwr: setting("MKL_CBWR"),
        cpu_flags,
    }
}

mod ffi {
    use super::*;

    extern "C" {
        pub fn glcan_aten_cpu_capability(buffer: *mut c_char, capacity: usize) -> c_int;
    }
}

/// ATen's CPU capability (fixed by its first kernel dispatch, or by this call); `unknown`
/// when libtorch does not say.
fn aten_capability() -> String {
    let mut buffer = [0 as c_char; 64];
    // SAFETY: the shim writes at most `buffer.len()` bytes, NUL-terminated, and catches
    // every C++ exception.
    let status = unsafe { ffi::glcan_aten_cpu_capability(buffer.as_mut_ptr(), buffer.len()) };
    if status != 0 {
        return "unknown".to_owned();
    }
    // SAFETY: NUL-terminated by the shim on success.
    unsafe { CStr::from_ptr(buffer.as_ptr()) }.to_string_lossy().into_owned()
}

/// The vector extensions of the first CPU in /proc/cpuinfo that matter for kernel choice.
fn vector_flags() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let flags = info.lines().find(|l| l.starts_with("flags")).and_then(|l| l.split(':').nth(1)).unwrap_or("");
    flags.split_whitespace().filter(|f| f.starts_with("avx") || f.starts_with("amx") || *f == "fma").collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_parse_and_name_themselves() {
        assert_eq!("avx2".parse::<CpuIsa>().unwrap(), CpuIsa::Avx2);
        assert_eq!("native".parse::<CpuIsa>().unwrap(), CpuIsa::Native);
        let message = "avx512".parse::<CpuIsa>().unwrap_err().to_string();
        assert!(message.contains("cpu_isa") && message.contains("avx512"), "{message}");
        assert_eq!(CpuIsa::default(), CpuIsa::Avx2);
        let toml: std::collections::BTreeMap<String, CpuIsa> = toml::from_str("a = \"native\"").unwrap();
        assert_eq!(toml["a"], CpuIsa::Native);
    }

    #[test]
    fn labels_tell_pinned_from_native_kernels() {
        let kernels = CpuKernels {
            cpu_isa: CpuIsa::Native,
            aten: "AVX512".into(),
            onednn_max_cpu_isa: "unset".into(),
            mkl_cbwr: "unset".into(),
            cpu_flags: String::new(),
        };
        assert_eq!(kernels.label(), "native-avx512");
        assert_eq!(CpuKernels { cpu_isa: CpuIsa::Avx2, ..kernels }.label(), "avx2");
    }
}
