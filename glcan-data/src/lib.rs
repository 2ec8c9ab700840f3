//! # glcan-data
//!
//! Dataset readers and batch loading for the GLCAN workspace.
//!
//! Every reader implements [`Dataset`]: `len` and `get(i)`, returning a [`Sample`] made of a
//! `uint8` image in CHW layout ([`ImageU8`]) and a target whose type depends on the task
//! (a class label, the boxes of a detection image, the HR image of a super-resolution pair).
//! Readers check what they read and report bad input as [`Error`], naming the file
//! and the fault. [`loader::BatchLoader`] turns a dataset into shuffled tensor batches,
//! decoding and augmenting on a background thread.

pub mod augment;
pub mod cifar;
pub mod cifar_pickle;
pub mod coco;
pub mod detection;
pub mod error;
pub mod folder;
pub mod idx;
pub mod image_u8;
pub mod imagenet;
mod jpeg_complete;
pub mod loader;
pub mod mat5;
pub mod resize;
pub mod size_transform;
pub mod sr;
pub mod stl10;
pub mod subset;
pub mod svhn;
pub mod voc;

pub use detection::{BoundingBox, DetectionTarget, ObjectBox};
pub use image_u8::ImageU8;

pub use error::{Error, Result};

/// A class index in `0..num_classes`.
pub type ClassLabel = i64;

/// One example: an image and its target.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample<T> {
    pub image: ImageU8,
    pub target: T,
}

/// A finite, indexable collection of samples. `get` may decode from disk, so it can fail;
/// in-memory readers never do. Implementations are shared across the loader's threads.
pub trait Dataset: Send + Sync {
    /// What each image is labelled with.
    type Target: Send + 'static;

    /// Number of samples.
    fn len(&self) -> usize;

    /// Sample `index` (`index < len()`; an index out of range is an error, not a panic).
    fn get(&self, index: usize) -> Result<Sample<Self::Target>>;

    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A dataset chosen at run time (e.g. from a command line).
pub type DynDataset<T> = Box<dyn Dataset<Target = T>>;

impl<T: Send + 'static> Dataset for DynDataset<T> {
    type Target = T;

    fn len(&self) -> usize {
        self.as_ref().len()
    }

    fn get(&self, index: usize) -> Result<Sample<T>> {
        self.as_ref().get(index)
    }
}

/// Which half of a dataset with an official train/test split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    Train,
    Test,
}

/// How many of `labels` fall in each class `0..num_classes`; labels past the end are not
/// counted (the readers range-check their labels when they open a file).
pub fn count_labels(labels: &[u8], num_classes: usize) -> Vec<usize> {
    let mut counts = vec![0; num_classes];
    for &label in labels {
        if let Some(count) = counts.get_mut(usize::from(label)) {
            *count += 1;
        }
    }
    counts
}

/// The error `get` returns for an index past the end.
pub(crate) fn index_error(what: &str, index: usize, len: usize) -> Error {
    Error::config("index", format!("{what}: sample {index} requested, but it holds {len}"))
}
