//! Shuffled mini-batches from any [`Dataset`], assembled on background threads.
//!
//! Each epoch draws a permutation from `(seed, epoch)`. Batch `b` is read, augmented and
//! turned into tensors by worker `b % workers`, with a random generator seeded from
//! `(seed, epoch, b)`: the batches, and so the whole run, are identical whatever the number
//! of workers or the timing of the threads. Batches come out in order; each worker keeps up
//! to `prefetch` finished batches ahead of the trainer.

use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tch::Tensor;

use super::augment::{Augmentation, Normalization};
use super::size_transform::SizeTransform;
use super::{ClassLabel, Dataset, Sample};
use crate::{Error, Result};

/// How a [`BatchLoader`] walks its dataset.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LoaderConfig {
    pub batch_size: usize,
    /// Visit samples in a fresh random order each epoch (training) or in index order (evaluation).
    pub shuffle: bool,
    /// Skip the last batch when it is smaller than `batch_size`.
    pub drop_last: bool,
    pub seed: u64,
    /// Background threads that read and collate batches.
    pub workers: usize,
    /// Finished batches each worker may hold before the trainer takes them.
    pub prefetch: usize,
}

impl LoaderConfig {
    /// Shuffled, last partial batch dropped: the training loader.
    pub fn train(batch_size: usize, seed: u64) -> Self {
        LoaderConfig { batch_size, shuffle: true, drop_last: true, seed, workers: 1, prefetch: 4 }
    }

    /// In order, every sample once: the evaluation loader.
    pub fn eval(batch_size: usize) -> Self {
        LoaderConfig { batch_size, shuffle: false, drop_last: false, seed: 0, workers: 1, prefetch: 4 }
    }

    fn validate(&self) -> Result<()> {
        for (field, value) in [("batch_size", self.batch_size), ("workers", self.workers), ("prefetch", self.prefetch)] {
            if value == 0 {
                return Err(Error::config(format!("loader.{field}"), "must be at least 1"));
            }
        }
        Ok(())
    }
}

/// Turns the samples of one batch into the batch type the trainer consumes.
pub trait Collate<T>: Send + Sync + 'static {
    type Batch: Send + 'static;

    /// `rng` is seeded for this batch alone; random augmentation draws from it.
    fn collate(&self, samples: Vec<Sample<T>>, rng: &mut ChaCha8Rng) -> Result<Self::Batch>;
}

/// A dataset, a collate function and a [`LoaderConfig`].
pub struct BatchLoader<D: Dataset, C: Collate<D::Target>> {
    dataset: Arc<D>,
    collate: Arc<C>,
    config: LoaderConfig,
}

impl<D: Dataset + 'static, C: Collate<D::Target>> BatchLoader<D, C> {
    pub fn new(dataset: Arc<D>, collate: C, config: LoaderConfig) -> Result<Self> {
        config.validate()?;
        if dataset.is_empty() {
            return Err(Error::config("dataset", "holds no samples"));
        }
        Ok(BatchLoader { dataset, collate: Arc::new(collate), config })
    }

    pub fn dataset(&self) -> &D {
        &self.dataset
    }

    pub fn config(&self) -> &LoaderConfig {
        &self.config
    }

    /// Batches in one epoch.
    pub fn batches_per_epoch(&self) -> usize {
        let (n, b) = (self.dataset.len(), self.config.batch_size);
        if self.config.drop_last {
            n / b
        } else {
            n.div_ceil(b)
        }
    }

    /// The sample order of `epoch`.
    pub fn order(&self, epoch: u64) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.dataset.len()).collect();
        if self.config.shuffle {
            order.shuffle(&mut ChaCha8Rng::seed_from_u64(mix(self.config.seed, epoch, u64::MAX)));
        }
        order
    }

    /// Starts the workers for `epoch` and returns its batches in order.
    pub fn epoch(&self, epoch: u64) -> Epoch<C::Batch> {
        let order = Arc::new(self.order(epoch));
        let batches = self.batches_per_epoch();
        let workers = self.config.workers.min(batches.max(1));
        let mut receivers = Vec::with_capacity(workers);
        let mut handles = Vec::with_capacity(workers);
        for worker in 0..workers {
            let (sender, receiver) = sync_channel(self.config.prefetch);
            let (dataset, collate, order) = (self.dataset.clone(), self.collate.clone(), order.clone());
            let (batch_size, seed) = (self.config.batch_size, self.config.seed);
            receivers.push(receiver);
            handles.push(std::thread::spawn(move || {
                for batch in (worker..batches).step_by(workers) {
                    let indices = &order[batch * batch_size..((batch + 1) * batch_size).min(order.len())];
                    let mut rng = ChaCha8Rng::seed_from_u64(mix(seed, epoch, batch as u64));
                    let result = indices
                        .iter()
                        .map(|&i| dataset.get(i))
                        .collect::<Result<Vec<_>>>()
                        .and_then(|samples| collate.collate(samples, &mut rng));
                    // A closed channel means the trainer dropped the epoch early: stop quietly.
                    if sender.send(result).is_err() {
                        return;
                    }
                }
            }));
        }
        Epoch { receivers, handles, next: 0, total: batches }
    }
}

/// The batches of one epoch, in order; dropping it stops the workers.
pub struct Epoch<B> {
    receivers: Vec<Receiver<Result<B>>>,
    handles: Vec<JoinHandle<()>>,
    next: usize,
    total: usize,
}

impl<B> Epoch<B> {
    /// Number of batches this epoch yields in all.
    pub fn len(&self) -> usize {
        self.total
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }
}

impl<B> Iterator for Epoch<B> {
    type Item = Result<B>;

    fn next(&mut self) -> Option<Result<B>> {
        if self.next >= self.total {
            return None;
        }
        let worker = self.next % self.receivers.len();
        self.next += 1;
        match self.receivers[worker].recv() {
            Ok(batch) => Some(batch),
            Err(_) => Some(Err(Error::config("loader", "a loading thread stopped unexpectedly (it panicked)"))),
        }
    }
}

impl<B> Drop for Epoch<B> {
    fn drop(&mut self) {
        // Closing the channels first unblocks workers waiting to send.
        self.receivers.clear();
        for handle in self.handles.drain(..) {
            let _ = handle.join();
        }
    }
}

/// A seed for `(seed, epoch, batch)`, well mixed (SplitMix64 finaliser) so that nearby
/// triples give unrelated streams.
fn mix(seed: u64, epoch: u64, batch: u64) -> u64 {
    let mut z = seed ^ epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ batch.wrapping_mul(0xD1B5_4A32_D192_ED03);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A classification batch: `images` `[B, C, H, W]` float32, normalised; `labels` `[B]` int64.
#[derive(Debug)]
pub struct ClassificationBatch {
    pub images: Tensor,
    pub labels: Tensor,
}

/// Brings each image to the common size (when a size transform is set), augments it, then
/// normalises the whole batch into one float tensor.
#[derive(Debug, Clone)]
pub struct ClassificationCollate {
    /// For datasets whose images differ in size (ImageNet); `None` keeps the sizes.
    pub size: Option<SizeTransform>,
    pub augmentation: Augmentation,
    pub normalization: Normalization,
}

impl ClassificationCollate {
    /// Same-size images: augmentation and normalisation only.
    pub fn new(augmentation: Augmentation, normalization: Normalization) -> Self {
        ClassificationCollate { size: None, augmentation, normalization }
    }
}

impl Collate<ClassLabel> for ClassificationCollate {
    type Batch = ClassificationBatch;

    fn collate(&self, samples: Vec<Sample<ClassLabel>>, rng: &mut ChaCha8Rng) -> Result<ClassificationBatch> {
        let mut images = Vec::with_capacity(samples.len());
        let mut labels = Vec::with_capacity(samples.len());
        for sample in samples {
            let image = match &self.size {
                Some(transform) => transform.apply(&sample.image, rng),
                None => sample.image,
            };
            images.push(if self.augmentation.is_identity() { image } else { self.augmentation.apply(&image, rng) });
            labels.push(sample.target);
        }
        let first = images.first().ok_or_else(|| Error::config("loader", "empty batch"))?;
        let shape = (first.channels(), first.height(), first.width());
        if shape.0 != self.normalization.channels() {
            return Err(Error::config(
                "normalization",
                format!("{} channel statistics for images with {} channels", self.normalization.channels(), shape.0),
            ));
        }
        let mut pixels = Vec::with_capacity(images.len() * shape.0 * shape.1 * shape.2);
        for image in &images {
            let this = (image.channels(), image.height(), image.width());
            if this != shape {
                return Err(Error::config(
                    "loader",
                    format!("images of one batch differ in size: {shape:?} and {this:?} (set a size transform)"),
                ));
            }
            self.normalization.extend_normalized(image, &mut pixels);
        }
        let dims = [images.len() as i64, shape.0 as i64, shape.1 as i64, shape.2 as i64];
        Ok(ClassificationBatch { images: Tensor::from_slice(&pixels).view(dims), labels: Tensor::from_slice(&labels) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ImageU8;

    /// Sample i is a 1x2x2 image filled with i, labelled i.
    struct Counting(usize);

    impl Dataset for Counting {
        type Target = ClassLabel;

        fn len(&self) -> usize {
            self.0
        }

        fn get(&self, index: usize) -> Result<Sample<ClassLabel>> {
            if index >= self.0 {
                return Err(crate::index_error("counting", index, self.0));
            }
            Ok(Sample { image: ImageU8::from_chw(1, 2, 2, vec![index as u8; 4]), target: index as ClassLabel })
        }
    }

    fn collate() -> ClassificationCollate {
        ClassificationCollate::new(Augmentation::NONE, Normalization::new(vec![0.0], vec![1.0 / 255.0]).unwrap())
    }

    fn labels_of(loader: &BatchLoader<Counting, ClassificationCollate>, epoch: u64) -> Vec<Vec<i64>> {
        loader.epoch(epoch).map(|b| Vec::<i64>::try_from(b.unwrap().labels).unwrap()).collect()
    }

    #[test]
    fn eval_order_covers_everything_once_with_a_short_last_batch() {
        let loader = BatchLoader::new(Arc::new(Counting(10)), collate(), LoaderConfig::eval(4)).unwrap();
        assert_eq!(labels_of(&loader, 0), vec![vec![0, 1, 2, 3], vec![4, 5, 6, 7], vec![8, 9]]);
        let batch = loader.epoch(0).next().unwrap().unwrap();
        assert_eq!(batch.images.size(), [4, 1, 2, 2]);
        // With mean 0 and std 1/255 the floats equal the bytes.
        assert_eq!(batch.images.double_value(&[3, 0, 1, 1]), 3.0);
    }

    #[test]
    fn shuffle_is_a_seeded_permutation_that_changes_per_epoch() {
        let config = LoaderConfig { workers: 3, ..LoaderConfig::train(4, 42) };
        let loader = BatchLoader::new(Arc::new(Counting(10)), collate(), config.clone()).unwrap();
        let epoch0 = labels_of(&loader, 0);
        assert_eq!(epoch0.len(), 2, "drop_last keeps 2 full batches of 4");
        let mut seen: Vec<i64> = loader.order(0).iter().map(|&i| i as i64).collect();
        assert_eq!(epoch0.concat(), seen[..8]);
        seen.sort();
        assert_eq!(seen, (0..10).collect::<Vec<_>>());
        assert_ne!(loader.order(0), loader.order(1));
        // Same seed, different worker count: same batches.
        let single = BatchLoader::new(Arc::new(Counting(10)), collate(), LoaderConfig { workers: 1, ..config }).unwrap();
        assert_eq!(labels_of(&single, 0), epoch0);
    }

    #[test]
    fn dropping_an_epoch_early_stops_its_workers() {
        let config = LoaderConfig { prefetch: 1, workers: 2, ..LoaderConfig::train(1, 0) };
        let loader = BatchLoader::new(Arc::new(Counting(100)), collate(), config).unwrap();
        let mut epoch = loader.epoch(0);
        assert!(epoch.next().unwrap().is_ok());
        drop(epoch); // must return, not hang
    }

    #[test]
    fn read_errors_reach_the_trainer() {
        struct Failing;
        impl Dataset for Failing {
            type Target = ClassLabel;
            fn len(&self) -> usize {
                3
            }
            fn get(&self, index: usize) -> Result<Sample<ClassLabel>> {
                Err(Error::bad_data(format!("img{index}.png"), "truncated"))
            }
        }
        let loader = BatchLoader::new(Arc::new(Failing), collate(), LoaderConfig::eval(2)).unwrap();
        let message = loader.epoch(0).next().unwrap().unwrap_err().to_string();
        assert!(message.contains("img0.png: truncated"), "{message}");
    }

    #[test]
    fn bad_config_is_rejected() {
        let error = BatchLoader::new(Arc::new(Counting(3)), collate(), LoaderConfig::eval(0)).err().unwrap();
        assert!(error.to_string().contains("loader.batch_size"));
        assert!(BatchLoader::new(Arc::new(Counting(0)), collate(), LoaderConfig::eval(2)).is_err());
    }
}
