//! The memory format of a run's 4-D tensors: PyTorch's default NCHW strides, or
//! channels-last (NHWC strides), which oneDNN's CPU convolutions and ATen's batch norm run
//! faster on (`torch.channels_last`, PyTorch's "channels last" tutorial).
//!
//! tch 0.26 has no memory-format argument, so the conversions live in a C++ shim
//! (`csrc/tensor_layout_shim.cpp`). A network is put in channels-last by converting its
//! conv weights in place ([`to_channels_last_`]) and its input batches ([`channels_last`]);
//! every layer after the first follows the layout of its input, as in PyTorch. The values
//! computed are the same up to float rounding: the kernels sum in another order.

use std::str::FromStr;

use tch::{TchError, Tensor};

use crate::{Error, Result};

/// The C entry points of `csrc/tensor_layout_shim.cpp`; none lets a C++ exception out.
mod ffi {
    use std::ffi::c_int;

    use torch_sys::C_tensor;

    extern "C" {
        pub fn glcan_to_channels_last_(t: *mut C_tensor) -> c_int;
        pub fn glcan_channels_last(t: *const C_tensor, out: *mut *mut C_tensor) -> c_int;
        pub fn glcan_is_channels_last(t: *const C_tensor) -> c_int;
    }
}

/// The `memory_format` setting of a training run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemoryFormat {
    /// NCHW strides, PyTorch's default (and what runs made before the setting used).
    #[default]
    Contiguous,
    /// NHWC strides for inputs, conv weights and, following them, activations.
    ChannelsLast,
}

impl MemoryFormat {
    pub fn name(self) -> &'static str {
        match self {
            MemoryFormat::Contiguous => "contiguous",
            MemoryFormat::ChannelsLast => "channels_last",
        }
    }

    pub fn is_contiguous(&self) -> bool {
        *self == MemoryFormat::Contiguous
    }

    /// `batch` in this format: a channels-last copy of a 4-D batch, or the batch itself.
    pub fn apply(self, batch: &Tensor) -> Tensor {
        match self {
            MemoryFormat::Contiguous => batch.shallow_clone(),
            MemoryFormat::ChannelsLast => channels_last(batch).expect("a defined batch converts to channels-last"),
        }
    }
}

impl FromStr for MemoryFormat {
    type Err = Error;

    fn from_str(name: &str) -> Result<Self> {
        match name {
            "contiguous" => Ok(MemoryFormat::Contiguous),
            "channels_last" | "channels-last" => Ok(MemoryFormat::ChannelsLast),
            other => Err(Error::config("memory_format", format!("unknown value {other:?}: expected contiguous or channels_last"))),
        }
    }
}

impl std::fmt::Display for MemoryFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Gives a 4-D tensor channels-last strides in place, keeping the tensor object (so a
/// variable store, an optimizer and autograd still hold it); other ranks are left alone.
pub fn to_channels_last_(tensor: &mut Tensor) -> Result<()> {
    // SAFETY: a live tch tensor handle; the shim catches every C++ exception.
    match unsafe { ffi::glcan_to_channels_last_(tensor.as_mut_ptr()) } {
        0 => Ok(()),
        _ => Err(shim_error("converting a tensor to channels-last failed (undefined tensor?)")),
    }
}

/// A channels-last version of a 4-D tensor (the tensor itself if it is one already, or if
/// it has another rank).
pub fn channels_last(tensor: &Tensor) -> Result<Tensor> {
    let mut out = std::ptr::null_mut();
    // SAFETY: a live tch tensor handle; on success the shim hands over a new `at::Tensor*`,
    // which `Tensor::from_ptr` owns from then on.
    match unsafe { ffi::glcan_channels_last(tensor.as_ptr(), &mut out) } {
        0 => Ok(unsafe { Tensor::from_ptr(out) }),
        _ => Err(shim_error("copying a tensor to channels-last failed (undefined tensor?)")),
    }
}

/// Whether a 4-D tensor has channels-last strides (false for other ranks).
pub fn is_channels_last(tensor: &Tensor) -> bool {
    // SAFETY: a live tch tensor handle; the shim catches every C++ exception.
    unsafe { ffi::glcan_is_channels_last(tensor.as_ptr()) == 1 }
}

fn shim_error(message: &str) -> Error {
    Error::from(TchError::Torch(message.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{nn, Device, Kind};

    #[test]
    fn names_round_trip_and_bad_ones_are_refused() {
        for format in [MemoryFormat::Contiguous, MemoryFormat::ChannelsLast] {
            assert_eq!(format.name().parse::<MemoryFormat>().unwrap(), format);
        }
        let message = "nhwc".parse::<MemoryFormat>().unwrap_err().to_string();
        assert!(message.contains("memory_format") && message.contains("nhwc"), "{message}");
    }

    #[test]
    fn a_variable_converts_in_place_and_keeps_its_values() {
        let store = nn::VarStore::new(Device::Cpu);
        let conv = nn::conv2d(store.root() / "conv", 3, 8, 3, Default::default());
        let before = conv.ws.copy();
        let mut weight = store.variables()["conv.weight"].shallow_clone();
        assert!(!is_channels_last(&weight));
        to_channels_last_(&mut weight).unwrap();
        // The store's own handle, and the layer's, see the new strides: the same tensor.
        assert!(is_channels_last(&store.variables()["conv.weight"]) && is_channels_last(&conv.ws));
        assert_eq!(conv.ws.stride(), [27, 1, 9, 3]);
        assert!(conv.ws.equal(&before) && conv.ws.requires_grad());
        let mut bias = store.variables()["conv.bias"].shallow_clone();
        to_channels_last_(&mut bias).unwrap();
        assert_eq!(bias.stride(), [1]);
    }

    #[test]
    fn a_batch_copy_keeps_values_and_the_original() {
        let batch = Tensor::randn([2, 3, 4, 5], (Kind::Float, Device::Cpu));
        let converted = MemoryFormat::ChannelsLast.apply(&batch);
        assert!(is_channels_last(&converted) && !is_channels_last(&batch));
        assert!(converted.equal(&batch));
        assert!(!is_channels_last(&MemoryFormat::Contiguous.apply(&batch)));
    }
}
