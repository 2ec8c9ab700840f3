//! What the libtorch this process runs says about itself, and what this binary was built
//! with: facts for `env.json`, asked of their sources rather than written down by hand.

use std::ffi::{c_char, c_long, CStr};

/// The libraries a run used.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LibtorchFacts {
    /// libtorch's version as its headers state it (`TORCH_VERSION`), e.g. `2.13.0`.
    pub torch_version: String,
    /// The tch crate this binary was built with, from the workspace's Cargo.lock.
    pub tch_version: &'static str,
    /// The CUDA runtime of libtorch's CUDA library (`13.0`); absent for a CPU-only libtorch.
    pub cuda_runtime: Option<String>,
    /// The cuDNN loaded at run time (`9.10.2`); absent without a usable GPU or cuDNN.
    pub cudnn: Option<String>,
}

mod ffi {
    use super::*;

    extern "C" {
        pub fn glcan_torch_version(buffer: *mut c_char, capacity: usize) -> std::ffi::c_int;
        pub fn glcan_cuda_runtime_version() -> c_long;
        pub fn glcan_cudnn_version() -> c_long;
    }
}

impl LibtorchFacts {
    /// The facts of this process.
    pub fn capture() -> Self {
        let mut buffer = [0 as c_char; 64];
        // SAFETY: the shim writes at most `buffer.len()` bytes, NUL-terminated.
        let status = unsafe { ffi::glcan_torch_version(buffer.as_mut_ptr(), buffer.len()) };
        // SAFETY: NUL-terminated by the shim on success.
        let torch_version =
            if status == 0 { unsafe { CStr::from_ptr(buffer.as_ptr()) }.to_string_lossy().into_owned() } else { "unknown".to_owned() };
        // SAFETY: both shims catch every C++ exception and return -1 when there is no answer.
        let (cuda, cudnn) = unsafe { (ffi::glcan_cuda_runtime_version(), ffi::glcan_cudnn_version()) };
        LibtorchFacts {
            torch_version,
            tch_version: env!("GLCAN_TCH_VERSION"),
            cuda_runtime: (cuda > 0).then(|| format!("{}.{}", cuda / 1000, cuda % 1000 / 10)),
            cudnn: (cudnn > 0).then(|| cudnn_version(cudnn)),
        }
    }
}

/// cuDNN's version number as `major.minor.patch`: since cuDNN 9 it is
/// major x 10000 + minor x 100 + patch; before, major x 1000 + minor x 100 + patch.
fn cudnn_version(number: c_long) -> String {
    if number >= 90_000 {
        format!("{}.{}.{}", number / 10_000, number % 10_000 / 100, number % 100)
    } else {
        format!("{}.{}.{}", number / 1000, number % 1000 / 100, number % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_versions_come_from_libtorch_and_cargo() {
        let facts = LibtorchFacts::capture();
        // The wheel this workspace pins (scripts/setup-venv.sh) and the tch that matches it.
        assert!(facts.torch_version.starts_with("2.13."), "{facts:?}");
        assert!(facts.tch_version.starts_with("0.26."), "{facts:?}");
        assert_eq!(cudnn_version(91002), "9.10.2");
        assert_eq!(cudnn_version(8902), "8.9.2");
    }
}
