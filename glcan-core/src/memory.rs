//! Peak memory of training, measured the way DESIGN.md §4 asks.
//!
//! * **CPU tensors**: a counting allocator, written in C++ (`csrc/memory_shim.cpp`) and
//!   registered in libtorch with `c10::SetCPUAllocator`, serves every CPU tensor storage
//!   created after [`install_counting_allocator`], including the scratch buffers oneDNN
//!   convolutions take through `Allocator::raw_allocate`. It counts the **requested bytes**
//!   of the blocks alive (a `[1000, 1000]` float tensor is exactly 4,000,000 bytes); its own
//!   64-byte block headers and the C library's overhead are not counted. Memory libtorch
//!   takes outside its CPU allocator (oneDNN's primitive cache, thread stacks, code) is not
//!   counted either: the process's peak RSS, read beside it, covers that.
//! * **CUDA tensors**: the caching allocator's allocated bytes (aggregate pool) of a device,
//!   the figure `torch.cuda.max_memory_allocated` reports: block sizes as the allocator
//!   rounds them (multiples of 512 bytes), not the memory it has reserved from the driver.
//! * **Process**: peak resident set size, `VmHWM` of `/proc/self/status` (Linux only).
//!
//! Every counter is **process-wide**: all threads, all models. Resetting a peak resets it
//! for everyone, so only one [`PeakMeter`] should be running at a time; measurements that
//! must not see other work belong in their own process (as `tests/memory.rs` does).
//!
//! ```no_run
//! use glcan_core::memory::{install_counting_allocator, PeakMeter};
//! # fn main() -> glcan_core::Result<()> {
//! install_counting_allocator()?; // first thing, before the model is built
//! let device = tch::Device::Cpu;
//! // ... build the model ...
//! let meter = PeakMeter::start(device)?;
//! // ... one training step ...
//! let peak = meter.peak()?;
//! println!("{peak}");
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::os::raw::c_int;
use std::path::Path;

use serde::Serialize;
use tch::{Device, Kind, TchError, Tensor};

use crate::{Error, Result};

/// The C entry points of `csrc/memory_shim.cpp`; none of them lets a C++ exception out.
mod ffi {
    use std::os::raw::c_int;

    extern "C" {
        pub fn glcan_memory_install_cpu_allocator() -> c_int;
        pub fn glcan_memory_cpu_allocator_installed() -> c_int;
        pub fn glcan_memory_cpu_current_bytes() -> u64;
        pub fn glcan_memory_cpu_peak_bytes() -> u64;
        pub fn glcan_memory_reset_cpu_peak();
        pub fn glcan_memory_cuda_allocated_bytes(device: i32, current: *mut i64, peak: *mut i64) -> c_int;
        pub fn glcan_memory_reset_cuda_peak(device: i32) -> c_int;
    }
}

const PROC_STATUS: &str = "/proc/self/status";
const PROC_CLEAR_REFS: &str = "/proc/self/clear_refs";

/// Makes the counting allocator libtorch's CPU allocator, for tensors created from now on
/// (tensors that exist already keep their allocator and are never counted). Idempotent.
///
/// Call it first thing, before other threads run libtorch operators: tensor storages keep
/// the deleter of their own allocator, but libtorch's oneDNN glue frees its raw buffers
/// through whichever CPU allocator is registered at that moment, so a buffer it took from
/// the default allocator must not be in flight while the allocator changes. The counting
/// allocator is never uninstalled.
///
/// Errors when libtorch kept another allocator (one registered at a higher priority) or the
/// registration raised a C++ error.
pub fn install_counting_allocator() -> Result<()> {
    // SAFETY: no arguments; the shim catches every C++ exception.
    match unsafe { ffi::glcan_memory_install_cpu_allocator() } {
        0 => Ok(()),
        1 => Err(torch_error("libtorch kept its CPU allocator: another allocator was registered at a higher priority")),
        code => Err(torch_error(format!("registering the counting CPU allocator failed (code {code})"))),
    }
}

/// Whether the counting allocator is libtorch's CPU allocator now.
pub fn counting_allocator_installed() -> bool {
    // SAFETY: no arguments; the shim catches every C++ exception.
    unsafe { ffi::glcan_memory_cpu_allocator_installed() == 1 }
}

/// Requested bytes of the CPU tensor storages alive now that the counting allocator served
/// (0 before [`install_counting_allocator`]).
pub fn cpu_current_bytes() -> u64 {
    // SAFETY: reads an atomic counter.
    unsafe { ffi::glcan_memory_cpu_current_bytes() }
}

/// The highest [`cpu_current_bytes`] since the allocator was installed or the last
/// [`reset_cpu_peak`].
pub fn cpu_peak_bytes() -> u64 {
    // SAFETY: reads an atomic counter.
    unsafe { ffi::glcan_memory_cpu_peak_bytes() }
}

/// Starts a new CPU peak: peak := current.
pub fn reset_cpu_peak() {
    // SAFETY: stores to an atomic counter.
    unsafe { ffi::glcan_memory_reset_cpu_peak() }
}

/// The process's peak resident set size in bytes (`VmHWM` of `/proc/self/status`) since it
/// started or since the last [`reset_peak_rss`].
pub fn peak_rss_bytes() -> Result<u64> {
    let path = Path::new(PROC_STATUS);
    let status = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    status_field_bytes(&status, "VmHWM").map_err(|fault| Error::bad_data(path, fault))
}

/// Resets the peak RSS to the current RSS by writing `5` to `/proc/self/clear_refs`
/// (Linux 4.0 or later). Errors, naming the file, where the kernel does not permit it.
pub fn reset_peak_rss() -> Result<()> {
    std::fs::write(PROC_CLEAR_REFS, b"5").map_err(|e| Error::io(PROC_CLEAR_REFS, e))
}

/// Bytes the CUDA caching allocator has allocated on `device` now; `None` when CUDA or the
/// device is not available.
pub fn cuda_current_bytes(device: usize) -> Option<u64> {
    cuda_allocated_bytes(device).map(|(current, _)| current)
}

/// The caching allocator's peak allocated bytes on `device` since the process started or
/// the last [`reset_cuda_peak`]; `None` when CUDA or the device is not available.
pub fn cuda_peak_bytes(device: usize) -> Option<u64> {
    cuda_allocated_bytes(device).map(|(_, peak)| peak)
}

/// Starts a new CUDA peak on `device` (peak := current); errors when CUDA or the device is
/// not available.
pub fn reset_cuda_peak(device: usize) -> Result<()> {
    let index = cuda_index(device)?;
    // SAFETY: plain integer argument; the shim catches every C++ exception.
    let reset = || unsafe { ffi::glcan_memory_reset_cuda_peak(index) };
    let mut code = reset();
    if code == NOT_INITIALISED {
        initialise_cuda(device)?;
        code = reset();
    }
    match code {
        0 => Ok(()),
        code => Err(torch_error(format!("cannot reset the CUDA peak of cuda:{device} (code {code})"))),
    }
}

/// `(current, peak)` allocated bytes of a CUDA device.
fn cuda_allocated_bytes(device: usize) -> Option<(u64, u64)> {
    let index = cuda_index(device).ok()?;
    let (mut current, mut peak) = (0i64, 0i64);
    // SAFETY: both pointers are valid for writes; the shim catches every C++ exception.
    let mut read = || unsafe { ffi::glcan_memory_cuda_allocated_bytes(index, &mut current, &mut peak) };
    let mut code = read();
    if code == NOT_INITIALISED {
        initialise_cuda(device).ok()?;
        code = read();
    }
    if code != 0 {
        return None;
    }
    Some((u64::try_from(current).ok()?, u64::try_from(peak).ok()?))
}

/// The shim's answer when libtorch has no initialised CUDA allocator (yet).
const NOT_INITIALISED: c_int = 1;

/// `device` as the shim's index, if libtorch sees such a CUDA device.
fn cuda_index(device: usize) -> Result<i32> {
    let count = tch::Cuda::device_count();
    match i32::try_from(device).ok().filter(|&i| i64::from(i) < count) {
        Some(index) => Ok(index),
        None => Err(Error::config("device", format!("cuda:{device} is not available ({count} CUDA devices)"))),
    }
}

/// libtorch initialises CUDA, and with it the caching allocator's statistics, lazily at the
/// first CUDA tensor. An empty tensor does it without allocating a byte.
fn initialise_cuda(device: usize) -> Result<()> {
    let _initialised = Tensor::f_empty([0], (Kind::Uint8, Device::Cuda(device)))?;
    Ok(())
}

/// libtorch's name for a device: `cpu`, `cuda:0`.
pub fn device_name(device: Device) -> String {
    match device {
        Device::Cpu => "cpu".to_owned(),
        Device::Cuda(i) => format!("cuda:{i}"),
        Device::Mps => "mps".to_owned(),
        Device::Vulkan => "vulkan".to_owned(),
    }
}

/// The peak memory between a [`PeakMeter`]'s start and the moment it was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemoryPeak {
    /// Device of the tensors counted: `cpu` or `cuda:N`.
    pub device: String,
    /// Highest bytes held by libtorch tensors on `device` between the marks, tensors that
    /// were alive at the start included (CPU: requested bytes; CUDA: allocated bytes).
    pub tensor_peak_bytes: u64,
    /// Bytes held by libtorch tensors on `device` at the start mark (weights, optimizer
    /// state, data kept around): `tensor_peak_bytes - tensor_start_bytes` is what the work
    /// between the marks added at its peak.
    pub tensor_start_bytes: u64,
    /// Peak RSS of the whole process between the marks, a cross-check of the CPU figure;
    /// `None` where `/proc` is missing or the RSS peak could not be reset at the start.
    pub rss_peak_bytes: Option<u64>,
}

impl MemoryPeak {
    /// What the work between the marks added on top of the tensors alive at the start.
    pub fn tensor_peak_above_start_bytes(&self) -> u64 {
        self.tensor_peak_bytes.saturating_sub(self.tensor_start_bytes)
    }
}

impl fmt::Display for MemoryPeak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
        write!(
            f,
            "{}: tensor peak {:.2} MiB ({:.2} MiB at start)",
            self.device,
            mib(self.tensor_peak_bytes),
            mib(self.tensor_start_bytes)
        )?;
        match self.rss_peak_bytes {
            Some(rss) => write!(f, ", process peak RSS {:.2} MiB", mib(rss)),
            None => write!(f, ", process peak RSS unavailable"),
        }
    }
}

/// Measures the peak memory between two marks: [`PeakMeter::start`] resets the process-wide
/// peaks of its device and of the RSS; [`PeakMeter::peak`] reads them. Only one meter should
/// run at a time (the counters are shared by the whole process).
#[derive(Debug)]
pub struct PeakMeter {
    device: Device,
    tensor_start_bytes: u64,
    rss_reset: bool,
}

impl PeakMeter {
    /// Marks the start. On the CPU the counting allocator must already be installed:
    /// installing it while other threads run operators is unsafe (see the module docs), so
    /// the meter refuses rather than installing it late. On CUDA the device must exist.
    /// Errors for other devices.
    pub fn start(device: Device) -> Result<Self> {
        let tensor_start_bytes = match device {
            Device::Cpu => {
                if !counting_allocator_installed() {
                    return Err(Error::config(
                        "memory",
                        "the counting CPU allocator is not installed: call install_counting_allocator() first thing in main",
                    ));
                }
                reset_cpu_peak();
                cpu_current_bytes()
            }
            Device::Cuda(i) => {
                reset_cuda_peak(i)?;
                cuda_current_bytes(i).ok_or_else(|| unreadable_cuda(i))?
            }
            other => {
                return Err(Error::config("device", format!("peak memory is measured on cpu and cuda only, not {}", device_name(other))))
            }
        };
        // Without a reset VmHWM is the peak since the process started: not between the marks.
        let rss_reset = reset_peak_rss().is_ok();
        Ok(PeakMeter { device, tensor_start_bytes, rss_reset })
    }

    /// The device this meter watches.
    pub fn device(&self) -> Device {
        self.device
    }

    /// The peaks from the start mark until now (the meter keeps running).
    pub fn peak(&self) -> Result<MemoryPeak> {
        let tensor_peak_bytes = match self.device {
            Device::Cuda(i) => cuda_peak_bytes(i).ok_or_else(|| unreadable_cuda(i))?,
            _ => cpu_peak_bytes(),
        };
        let rss_peak_bytes = if self.rss_reset { peak_rss_bytes().ok() } else { None };
        Ok(MemoryPeak { device: device_name(self.device), tensor_peak_bytes, tensor_start_bytes: self.tensor_start_bytes, rss_peak_bytes })
    }
}

fn unreadable_cuda(device: usize) -> Error {
    torch_error(format!("the CUDA caching allocator gave no statistics for cuda:{device}"))
}

fn torch_error(message: impl Into<String>) -> Error {
    Error::Torch(TchError::Torch(message.into()))
}

/// The value of a `Name:   1234 kB` line of a `/proc/<pid>/status` text, in bytes.
fn status_field_bytes(status: &str, name: &str) -> std::result::Result<u64, String> {
    let line = status
        .lines()
        .find_map(|line| line.strip_prefix(name).and_then(|rest| rest.strip_prefix(':')))
        .ok_or_else(|| format!("no {name} line"))?;
    let mut words = line.split_whitespace();
    let (Some(value), Some("kB"), None) = (words.next(), words.next(), words.next()) else {
        return Err(format!("{name} line {:?} is not `<number> kB`", line.trim()));
    };
    let kib: u64 = value.parse().map_err(|_| format!("{name} value {value:?} is not a number"))?;
    kib.checked_mul(1024).ok_or_else(|| format!("{name} value {kib} kB overflows"))
}

#[cfg(test)]
mod tests {
    // Exact byte counts are tested in `tests/memory.rs`, a process of its own: here other
    // unit tests allocate tensors concurrently.
    use super::*;

    const STATUS: &str = "Name:\tglcan\nVmPeak:\t  20000 kB\nVmHWM:\t    1748 kB\nVmRSS:\t    1500 kB\n";

    #[test]
    fn reads_a_status_field_in_bytes() {
        assert_eq!(status_field_bytes(STATUS, "VmHWM"), Ok(1748 * 1024));
        assert_eq!(status_field_bytes(STATUS, "VmRSS"), Ok(1500 * 1024));
    }

    #[test]
    fn status_field_missing_is_an_error() {
        let err = status_field_bytes("Name:\tx\nVmRSS:\t 1 kB\n", "VmHWM").unwrap_err();
        assert_eq!(err, "no VmHWM line");
    }

    #[test]
    fn status_field_with_a_wrong_unit_or_value_is_an_error() {
        let err = status_field_bytes("VmHWM:\t 12 MB\n", "VmHWM").unwrap_err();
        assert!(err.contains("not `<number> kB`"), "{err}");
        let err = status_field_bytes("VmHWM:\t 1x2 kB\n", "VmHWM").unwrap_err();
        assert!(err.contains("is not a number"), "{err}");
        let err = status_field_bytes("VmHWM:\t 99999999999999999 kB\n", "VmHWM").unwrap_err();
        assert!(err.contains("overflows"), "{err}");
        let err = status_field_bytes("VmHWM:\n", "VmHWM").unwrap_err();
        assert!(err.contains("not `<number> kB`"), "{err}");
    }

    #[test]
    fn process_peak_rss_is_positive() {
        assert!(peak_rss_bytes().unwrap() > 0);
    }

    #[test]
    fn cuda_queries_fail_cleanly_for_a_missing_device() {
        let missing = usize::try_from(tch::Cuda::device_count()).unwrap();
        assert_eq!(cuda_peak_bytes(missing), None);
        assert_eq!(cuda_current_bytes(missing), None);
        let err = reset_cuda_peak(missing).unwrap_err().to_string();
        assert!(err.contains(&format!("cuda:{missing} is not available")), "{err}");
        assert!(PeakMeter::start(Device::Cuda(missing)).is_err());
    }

    #[test]
    fn cuda_shim_reaches_the_allocator_registry_without_a_cpp_error() {
        // 0: statistics read; 1: no initialised CUDA allocator (this CPU machine);
        // 2 would mean a C++ exception on the way, e.g. a broken DeviceAllocator cast.
        let (mut current, mut peak) = (-1i64, -1i64);
        // SAFETY: both pointers are valid for writes.
        let code = unsafe { ffi::glcan_memory_cuda_allocated_bytes(0, &mut current, &mut peak) };
        match code {
            0 => assert!(current >= 0 && peak >= current, "current {current}, peak {peak}"),
            NOT_INITIALISED => assert_eq!((current, peak), (-1, -1)),
            other => panic!("the CUDA shim answered {other}"),
        }
    }

    #[test]
    fn unsupported_devices_are_refused() {
        let err = PeakMeter::start(Device::Mps).unwrap_err().to_string();
        assert_eq!(err, "invalid device: peak memory is measured on cpu and cuda only, not mps");
    }

    #[test]
    fn memory_peak_serialises_and_prints_its_fields() {
        let peak = MemoryPeak {
            device: "cpu".to_owned(),
            tensor_peak_bytes: 3 * 1024 * 1024,
            tensor_start_bytes: 1024 * 1024,
            rss_peak_bytes: None,
        };
        assert_eq!(peak.tensor_peak_above_start_bytes(), 2 * 1024 * 1024);
        let json = serde_json::to_string(&peak).unwrap();
        assert_eq!(json, r#"{"device":"cpu","tensor_peak_bytes":3145728,"tensor_start_bytes":1048576,"rss_peak_bytes":null}"#);
        assert_eq!(peak.to_string(), "cpu: tensor peak 3.00 MiB (1.00 MiB at start), process peak RSS unavailable");
    }

    #[test]
    fn device_names_follow_libtorch() {
        assert_eq!(device_name(Device::Cpu), "cpu");
        assert_eq!(device_name(Device::Cuda(1)), "cuda:1");
    }
}
