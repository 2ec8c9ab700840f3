//! A checkpoint's named tensors as read back, for restoring a run's state entry by entry.
//!
//! A resumed run must continue exactly where it stopped, so every piece of state it needs
//! is asked for by name: an entry that is missing or mis-shaped is an error naming the
//! checkpoint file and the entry, never a silent restart of that piece of state.

use std::collections::HashMap;
use std::path::Path;

use tch::Tensor;

use crate::{Error, Result};

/// The entries of one checkpoint file whose names start with a prefix, looked up by the
/// rest of their names.
#[derive(Debug, Clone)]
pub struct SavedState<'a> {
    file: &'a Path,
    entries: &'a HashMap<String, Tensor>,
    prefix: String,
}

impl<'a> SavedState<'a> {
    /// Every entry of `entries`, read from `file` (named in errors).
    pub fn new(file: &'a Path, entries: &'a HashMap<String, Tensor>) -> Self {
        SavedState { file, entries, prefix: String::new() }
    }

    /// A narrower view: the entries under this view's prefix followed by `prefix`.
    pub fn scope(&self, prefix: &str) -> SavedState<'a> {
        SavedState { prefix: format!("{}{prefix}", self.prefix), ..*self }
    }

    /// The entry `name`.
    pub fn get(&self, name: &str) -> Result<&'a Tensor> {
        let full = self.full_name(name);
        self.entries.get(&full).ok_or_else(|| {
            Error::bad_data(self.file, format!("checkpoint lacks entry {full}: it was written by another configuration or version, so this run cannot continue it exactly"))
        })
    }

    /// The entry `name`, which must have shape `shape`.
    pub fn get_shaped(&self, name: &str, shape: &[i64]) -> Result<&'a Tensor> {
        let tensor = self.get(name)?;
        if tensor.size() != shape {
            return Err(self.fault(name, format!("has shape {:?}, the run needs {shape:?}", tensor.size())));
        }
        Ok(tensor)
    }

    /// The single integer held by entry `name` (a counter such as an optimizer's steps).
    pub fn get_count(&self, name: &str) -> Result<i64> {
        self.get_shaped(name, &[1])?.f_int64_value(&[0]).map_err(|e| self.fault(name, format!("is not a count: {e}")))
    }

    /// Copies entry `name` into `destination` in place, outside autograd; the shape must
    /// match, dtype and device follow the destination.
    pub fn copy_into(&self, name: &str, destination: &mut Tensor) -> Result<()> {
        let value = self.get_shaped(name, &destination.size())?;
        tch::no_grad(|| destination.f_copy_(value)).map_err(|e| self.fault(name, format!("cannot be restored: {e}")))
    }

    fn full_name(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    fn fault(&self, name: &str, what: String) -> Error {
        Error::bad_data(self.file, format!("checkpoint entry {} {what}", self.full_name(name)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_and_mis_shaped_entries_name_the_file_and_the_entry() {
        let entries: HashMap<String, Tensor> =
            [("m0/opt/#steps".to_owned(), Tensor::from_slice(&[3i64])), ("m0/w".to_owned(), Tensor::from_slice(&[1.0f32, 2.0]))]
                .into_iter()
                .collect();
        let file = Path::new("run/checkpoint.ot");
        let module = SavedState::new(file, &entries).scope("m0/");
        assert_eq!(module.scope("opt/").get_count("#steps").unwrap(), 3);
        let mut w = Tensor::zeros([2], (tch::Kind::Float, tch::Device::Cpu));
        module.copy_into("w", &mut w).unwrap();
        assert_eq!(Vec::<f32>::try_from(&w).unwrap(), [1.0, 2.0]);

        let missing = module.scope("aux-state/").get("ema.0.weight").unwrap_err().to_string();
        assert!(missing.contains("run/checkpoint.ot") && missing.contains("lacks entry m0/aux-state/ema.0.weight"), "{missing}");
        let mut wrong = Tensor::zeros([3], (tch::Kind::Float, tch::Device::Cpu));
        let shape = module.copy_into("w", &mut wrong).unwrap_err().to_string();
        assert!(shape.contains("run/checkpoint.ot") && shape.contains("m0/w has shape [2]"), "{shape}");
        let count = module.get_count("w").unwrap_err().to_string();
        assert!(count.contains("m0/w"), "{count}");
    }
}
