//! One shuffled epoch of real Fashion-MNIST training images (60000, batches of 128) through
//! the batch loader: reading, collating and normalising into float tensors. Goal: under
//! 1 s per epoch on a 2-core machine. Needs `make data`.
use std::path::{Path, PathBuf};
use std::sync::Arc;

use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use glcan_data::augment::{Augmentation, Normalization};
use glcan_data::idx::IdxDataset;
use glcan_data::loader::{BatchLoader, ClassificationCollate, LoaderConfig};
use glcan_data::{Dataset, Split};

fn fashion_epoch(c: &mut Criterion) {
    let dir = data_root().join("fashion-mnist");
    let train = Arc::new(IdxDataset::open_split(&dir, Split::Train).unwrap_or_else(|e| panic!("{e} (run `make data` first)")));
    let images = train.len() as u64;
    let mut group = c.benchmark_group("loader");
    group.sample_size(10).throughput(Throughput::Elements(images));
    for (augmentation, name) in [(Augmentation::NONE, "plain"), (Augmentation::pad_crop_flip(4), "pad_crop_flip")] {
        let collate = ClassificationCollate::new(augmentation, Normalization::fashion_mnist());
        let loader = BatchLoader::new(train.clone(), collate, LoaderConfig::train(128, 0)).unwrap();
        let mut epoch = 0;
        group.bench_function(BenchmarkId::new(format!("fashion_mnist_epoch_{name}"), "cpu/b128/60000"), |b| {
            b.iter(|| {
                epoch += 1;
                loader.epoch(epoch).map(|batch| batch.unwrap().labels.size()[0]).sum::<i64>()
            })
        });
    }
    group.finish();
}

/// The folder `make data` fills: `$GLCAN_DATA_DIR`, else `data/` at the workspace root (the
/// rule of `glcan_core::paths::data_root`, which this crate cannot depend on).
fn data_root() -> PathBuf {
    match std::env::var_os("GLCAN_DATA_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../data"),
    }
}

criterion_group!(benches, fashion_epoch);
