//! Processes that exchange tensors through torch's c10d, the engine under
//! `torch.distributed`: a `TCPStore` served by rank 0 for the rendezvous and a
//! `ProcessGroupGloo` for the tensors (CPU), reached through `csrc/c10d_shim.cpp`.
//!
//! Ranks find each other the way PyTorch's launchers tell them to ([`Rendezvous::from_env`]):
//! `torchrun` sets `RANK`, `WORLD_SIZE`, `MASTER_ADDR` and `MASTER_PORT`; Slurm's `srun` sets
//! `SLURM_PROCID` and `SLURM_NTASKS` (the address and port still come from `MASTER_*`).
//! Every operation waits at most the group's timeout: a rank that died or never came makes
//! the others fail with an error naming it, never hang.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::ptr::NonNull;
use std::time::Duration;

use tch::Tensor;
use torch_sys::C_tensor;

use crate::{Error, Result};

extern "C" {
    fn glcan_c10d_connect(
        host: *const c_char,
        port: c_int,
        rank: c_int,
        world_size: c_int,
        timeout_ms: i64,
        error: *mut c_char,
        error_len: usize,
    ) -> *mut c_void;
    fn glcan_c10d_free(group: *mut c_void);
    fn glcan_c10d_send(group: *mut c_void, tensor: *mut C_tensor, dst: c_int, tag: c_int, error: *mut c_char, error_len: usize) -> c_int;
    fn glcan_c10d_recv(group: *mut c_void, tensor: *mut C_tensor, src: c_int, tag: c_int, error: *mut c_char, error_len: usize) -> c_int;
    fn glcan_c10d_all_reduce_sum(
        group: *mut c_void,
        tensors: *const *mut C_tensor,
        n: usize,
        error: *mut c_char,
        error_len: usize,
    ) -> c_int;
    fn glcan_c10d_barrier(group: *mut c_void, error: *mut c_char, error_len: usize) -> c_int;
}

/// Where and as whom a process joins its group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendezvous {
    /// Rank 0's address: it serves the store there.
    pub host: String,
    pub port: u16,
    pub rank: usize,
    pub world_size: usize,
    /// The longest any one operation (the rendezvous included) may wait.
    pub timeout: Duration,
}

impl Rendezvous {
    /// The rendezvous a launcher describes in the environment (`lookup`, e.g. `std::env::var`
    /// made optional): `None` when neither `RANK` nor `SLURM_PROCID` is set, or the world is
    /// one rank (a plain, single-process run). A set but broken variable is an error naming it.
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>, timeout: Duration) -> Result<Option<Self>> {
        let number = |name: &str| -> Result<Option<usize>> {
            lookup(name)
                .map(|text| {
                    text.trim()
                        .parse()
                        .map_err(|_| Error::config(name, format!("{text:?} is not a non-negative integer (set by the launcher)")))
                })
                .transpose()
        };
        let (rank, world_size) = match (number("RANK")?, number("SLURM_PROCID")?) {
            (Some(rank), _) => (rank, number("WORLD_SIZE")?.ok_or_else(|| Error::config("WORLD_SIZE", "not set, though RANK is"))?),
            (None, Some(rank)) => {
                (rank, number("SLURM_NTASKS")?.ok_or_else(|| Error::config("SLURM_NTASKS", "not set, though SLURM_PROCID is"))?)
            }
            (None, None) => return Ok(None),
        };
        // One rank is a plain run (a Slurm job step of one task, say): nothing to join.
        if world_size == 1 && rank == 0 {
            return Ok(None);
        }
        let host = lookup("MASTER_ADDR").ok_or_else(|| Error::config("MASTER_ADDR", "not set: rank 0's address (torchrun sets it)"))?;
        let port = lookup("MASTER_PORT").ok_or_else(|| Error::config("MASTER_PORT", "not set: the port rank 0 serves on"))?;
        let port = port.trim().parse().map_err(|_| Error::config("MASTER_PORT", format!("{port:?} is not a port number")))?;
        let rendezvous = Rendezvous { host, port, rank, world_size, timeout };
        rendezvous.validate()?;
        Ok(Some(rendezvous))
    }

    fn validate(&self) -> Result<()> {
        if self.world_size == 0 || self.world_size > i32::MAX as usize {
            return Err(Error::config("WORLD_SIZE", format!("must be at least 1, got {}", self.world_size)));
        }
        if self.rank >= self.world_size {
            return Err(Error::config("RANK", format!("{} is not below WORLD_SIZE = {}", self.rank, self.world_size)));
        }
        if self.host.is_empty() || self.host.contains('\0') {
            return Err(Error::config("MASTER_ADDR", format!("{:?} is not a host name", self.host)));
        }
        if self.timeout.is_zero() {
            return Err(Error::config("timeout", "must be positive"));
        }
        Ok(())
    }
}

/// How long a rank waits for the others by default (torch.distributed's Gloo default):
/// long enough for the last rank's evaluation between epochs.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);

/// The group a launcher asked for (torchrun's or Slurm's variables), joined on first use
/// and kept for the life of the process, as `torch.distributed`'s default group is: `None`
/// in a plain run. `GLCAN_RANK_TIMEOUT` (seconds) overrides [`DEFAULT_TIMEOUT`].
pub fn launched_group() -> Result<Option<&'static ProcessGroup>> {
    static GROUP: std::sync::OnceLock<Option<ProcessGroup>> = std::sync::OnceLock::new();
    if let Some(group) = GROUP.get() {
        return Ok(group.as_ref());
    }
    let timeout = match std::env::var("GLCAN_RANK_TIMEOUT") {
        Ok(text) => match text.trim().parse::<u64>() {
            Ok(seconds) if seconds > 0 => Duration::from_secs(seconds),
            _ => return Err(Error::config("GLCAN_RANK_TIMEOUT", format!("{text:?} is not a positive number of seconds"))),
        },
        Err(_) => DEFAULT_TIMEOUT,
    };
    let group = match Rendezvous::from_env(|name| std::env::var(name).ok(), timeout)? {
        Some(rendezvous) => Some(ProcessGroup::connect(&rendezvous)?),
        None => None,
    };
    Ok(GROUP.get_or_init(|| group).as_ref())
}

/// The device a rank trains on. Under a launcher every rank is given the same `--device`,
/// so `cuda` (device 0) is read as this rank's own GPU: `cuda:<local rank>` (torchrun's
/// `LOCAL_RANK`, else Slurm's `SLURM_LOCALID`). The CPU and an explicit `cuda:N` other than
/// 0 stay as given.
pub fn rank_device(device: tch::Device, lookup: impl Fn(&str) -> Option<String>) -> Result<tch::Device> {
    if device != tch::Device::Cuda(0) {
        return Ok(device);
    }
    for name in ["LOCAL_RANK", "SLURM_LOCALID"] {
        if let Some(text) = lookup(name) {
            let local: usize = text.trim().parse().map_err(|_| Error::config(name, format!("{text:?} is not a local rank")))?;
            return Ok(tch::Device::Cuda(local));
        }
    }
    Ok(device)
}

/// Room for a C++ exception's message.
const MESSAGE_BYTES: usize = 2048;

/// This process's membership of a c10d group over Gloo.
#[derive(Debug)]
pub struct ProcessGroup {
    raw: NonNull<c_void>,
    rendezvous: Rendezvous,
}

// SAFETY: ProcessGroupGloo and TCPStore may be used from any thread, and by several at once
// (torch.distributed's send and recv threads do); the handle is only freed in Drop.
unsafe impl Send for ProcessGroup {}
unsafe impl Sync for ProcessGroup {}

impl ProcessGroup {
    /// Joins the group: rank 0 serves the store, the others connect to it; returns once all
    /// `world_size` ranks have joined, or fails after the timeout.
    pub fn connect(rendezvous: &Rendezvous) -> Result<Self> {
        rendezvous.validate()?;
        let host = CString::new(rendezvous.host.as_str()).map_err(|_| Error::config("MASTER_ADDR", "contains a NUL byte"))?;
        let mut message = [0 as c_char; MESSAGE_BYTES];
        // SAFETY: a valid C string and message buffer; the shim catches every C++ exception.
        let raw = unsafe {
            glcan_c10d_connect(
                host.as_ptr(),
                c_int::from(rendezvous.port),
                rendezvous.rank as c_int,
                rendezvous.world_size as c_int,
                i64::try_from(rendezvous.timeout.as_millis()).unwrap_or(i64::MAX),
                message.as_mut_ptr(),
                message.len(),
            )
        };
        let what = format!(
            "rank {} of {} joining the group at {}:{} (timeout {:?})",
            rendezvous.rank, rendezvous.world_size, rendezvous.host, rendezvous.port, rendezvous.timeout
        );
        match NonNull::new(raw) {
            Some(raw) => Ok(ProcessGroup { raw, rendezvous: rendezvous.clone() }),
            None => Err(failure(&what, &message)),
        }
    }

    pub fn rank(&self) -> usize {
        self.rendezvous.rank
    }

    pub fn world_size(&self) -> usize {
        self.rendezvous.world_size
    }

    /// Sends `tensor` (CPU, contiguous) to rank `dst`, whose matching [`recv`](Self::recv)
    /// uses the same `tag`.
    pub fn send(&self, tensor: &Tensor, dst: usize, tag: u32) -> Result<()> {
        let peer = self.peer(dst)?;
        let mut contiguous = tensor.contiguous();
        let what = format!("rank {} sending to rank {dst} (tag {tag})", self.rank());
        // SAFETY: a live handle and tensor; the shim catches every C++ exception.
        self.call(&what, |message| unsafe {
            glcan_c10d_send(self.raw.as_ptr(), contiguous.as_mut_ptr(), peer, tag_of(tag), message.as_mut_ptr(), message.len())
        })
    }

    /// Receives into `tensor` (its shape and kind must match the sender's) from rank `src`.
    pub fn recv(&self, tensor: &mut Tensor, src: usize, tag: u32) -> Result<()> {
        let peer = self.peer(src)?;
        if !tensor.is_contiguous() {
            return Err(Error::config("tensor", "the receiving tensor must be contiguous"));
        }
        let what = format!("rank {} receiving from rank {src} (tag {tag})", self.rank());
        // SAFETY: as in `send`.
        self.call(&what, |message| unsafe {
            glcan_c10d_recv(self.raw.as_ptr(), tensor.as_mut_ptr(), peer, tag_of(tag), message.as_mut_ptr(), message.len())
        })
    }

    /// Sums every tensor over all ranks, in place (the gradients of data-parallel replicas);
    /// they travel as one buffer, so they must share one kind and be contiguous.
    pub fn all_reduce_sum(&self, tensors: &mut [Tensor]) -> Result<()> {
        if tensors.iter().any(|t| !t.is_contiguous()) {
            return Err(Error::config("tensor", "all-reduced tensors must be contiguous"));
        }
        if tensors.windows(2).any(|w| w[0].kind() != w[1].kind()) {
            return Err(Error::config("tensor", "all-reduced tensors must share one kind"));
        }
        let mut pointers: Vec<*mut C_tensor> = tensors.iter_mut().map(|t| t.as_mut_ptr()).collect();
        let what = format!("rank {} all-reducing {} tensors", self.rank(), tensors.len());
        // SAFETY: live tensors outliving the call; the shim catches every C++ exception.
        self.call(&what, |message| unsafe {
            glcan_c10d_all_reduce_sum(self.raw.as_ptr(), pointers.as_mut_ptr(), pointers.len(), message.as_mut_ptr(), message.len())
        })
    }

    /// Returns once every rank has reached its barrier.
    pub fn barrier(&self) -> Result<()> {
        let what = format!("rank {} at the barrier", self.rank());
        // SAFETY: a live handle; the shim catches every C++ exception.
        self.call(&what, |message| unsafe { glcan_c10d_barrier(self.raw.as_ptr(), message.as_mut_ptr(), message.len()) })
    }

    fn peer(&self, rank: usize) -> Result<c_int> {
        if rank >= self.world_size() || rank == self.rank() {
            return Err(Error::config("peer rank", format!("{rank} is not another rank of this group of {}", self.world_size())));
        }
        Ok(rank as c_int)
    }

    fn call(&self, what: &str, body: impl FnOnce(&mut [c_char; MESSAGE_BYTES]) -> c_int) -> Result<()> {
        let mut message = [0 as c_char; MESSAGE_BYTES];
        match body(&mut message) {
            0 => Ok(()),
            _ => Err(failure(&format!("{what}, timeout {:?}", self.rendezvous.timeout), &message)),
        }
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        // SAFETY: the handle came from glcan_c10d_connect and is freed once.
        unsafe { glcan_c10d_free(self.raw.as_ptr()) }
    }
}

fn tag_of(tag: u32) -> c_int {
    c_int::try_from(tag).unwrap_or(c_int::MAX)
}

/// The error of a failed c10d call: what we were doing, then c10d's own words.
fn failure(what: &str, message: &[c_char]) -> Error {
    // SAFETY: the shim NUL-terminates the message it writes; the buffer starts zeroed.
    let text = unsafe { CStr::from_ptr(message.as_ptr()) }.to_string_lossy();
    Error::Distributed { what: what.to_owned(), cause: text.trim().to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| map.get(name).cloned()
    }

    const TIMEOUT: Duration = Duration::from_secs(5);

    #[test]
    fn torchrun_and_slurm_variables_make_the_rendezvous() {
        let torchrun = env(&[("RANK", "1"), ("WORLD_SIZE", "2"), ("MASTER_ADDR", "127.0.0.1"), ("MASTER_PORT", "29500")]);
        let expected = Rendezvous { host: "127.0.0.1".into(), port: 29500, rank: 1, world_size: 2, timeout: TIMEOUT };
        assert_eq!(Rendezvous::from_env(torchrun, TIMEOUT).unwrap(), Some(expected.clone()));
        let slurm = env(&[("SLURM_PROCID", "1"), ("SLURM_NTASKS", "2"), ("MASTER_ADDR", "127.0.0.1"), ("MASTER_PORT", "29500")]);
        assert_eq!(Rendezvous::from_env(slurm, TIMEOUT).unwrap(), Some(expected));
        assert_eq!(Rendezvous::from_env(env(&[]), TIMEOUT).unwrap(), None, "no launcher: one process");
        let one_task = env(&[("SLURM_PROCID", "0"), ("SLURM_NTASKS", "1")]);
        assert_eq!(Rendezvous::from_env(one_task, TIMEOUT).unwrap(), None, "a job step of one task is a plain run");
    }

    #[test]
    fn a_rank_takes_the_gpu_of_its_local_rank() {
        use tch::Device;
        let torchrun = env(&[("LOCAL_RANK", "3"), ("SLURM_LOCALID", "1")]);
        assert_eq!(rank_device(Device::Cuda(0), &torchrun).unwrap(), Device::Cuda(3));
        assert_eq!(rank_device(Device::Cuda(0), env(&[("SLURM_LOCALID", "1")])).unwrap(), Device::Cuda(1));
        assert_eq!(rank_device(Device::Cuda(2), &torchrun).unwrap(), Device::Cuda(2), "an explicit other GPU stays");
        assert_eq!(rank_device(Device::Cpu, &torchrun).unwrap(), Device::Cpu);
        assert_eq!(rank_device(Device::Cuda(0), env(&[])).unwrap(), Device::Cuda(0), "no launcher");
        assert!(rank_device(Device::Cuda(0), env(&[("LOCAL_RANK", "x")])).unwrap_err().to_string().contains("LOCAL_RANK"));
    }

    #[test]
    fn broken_launcher_variables_name_themselves() {
        let base = [("RANK", "0"), ("WORLD_SIZE", "2"), ("MASTER_ADDR", "127.0.0.1"), ("MASTER_PORT", "29500")];
        let with = |name: &str, value: Option<&str>| {
            let mut pairs: Vec<(&str, &str)> = base.iter().copied().filter(|(k, _)| *k != name).collect();
            if let Some(v) = value {
                pairs.push((name, v));
            }
            Rendezvous::from_env(env(&pairs), TIMEOUT).unwrap_err().to_string()
        };
        for (name, value, expected) in [
            ("RANK", Some("one"), "RANK"),
            ("RANK", Some("2"), "RANK"),
            ("WORLD_SIZE", None, "WORLD_SIZE"),
            ("WORLD_SIZE", Some("0"), "WORLD_SIZE"),
            ("MASTER_ADDR", None, "MASTER_ADDR"),
            ("MASTER_PORT", Some("70000"), "MASTER_PORT"),
            ("MASTER_PORT", None, "MASTER_PORT"),
        ] {
            let message = with(name, value);
            assert!(message.contains(expected), "{name}={value:?}: {message}");
        }
    }

    #[test]
    fn a_group_of_one_reduces_to_itself_and_refuses_itself_as_peer() {
        let port = free_port();
        let rendezvous = Rendezvous { host: "127.0.0.1".into(), port, rank: 0, world_size: 1, timeout: TIMEOUT };
        let group = ProcessGroup::connect(&rendezvous).unwrap();
        let mut tensors = vec![Tensor::from_slice(&[1.5f32, -2.0])];
        group.all_reduce_sum(&mut tensors).unwrap();
        assert_eq!(Vec::<f32>::try_from(&tensors[0]).unwrap(), [1.5, -2.0]);
        group.barrier().unwrap();
        let message = group.send(&tensors[0], 0, 0).unwrap_err().to_string();
        assert!(message.contains("peer rank"), "{message}");
    }

    /// A port nobody listens on now (the OS picks it; it is free again once the probe closes).
    pub(crate) fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
    }
}
