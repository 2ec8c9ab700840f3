//! Pad-crop-flip augmentation and normalisation of one CIFAR-sized batch (128 x 3x32x32).
use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use glcan_data::augment::{Augmentation, Normalization};
use glcan_data::ImageU8;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn augment_batch(c: &mut Criterion) {
    const BATCH: usize = 128;
    let images: Vec<ImageU8> =
        (0..BATCH).map(|i| ImageU8::from_chw(3, 32, 32, (0..3072).map(|v| ((v * 7 + i) % 256) as u8).collect())).collect();
    let augmentation = Augmentation::pad_crop_flip(4);
    let normalization = Normalization::cifar10();
    let mut group = c.benchmark_group("augment");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function(BenchmarkId::new("pad_crop_flip_normalize", "cpu/b128/3x32x32"), |b| {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let mut floats = Vec::with_capacity(BATCH * 3072);
        b.iter(|| {
            floats.clear();
            for image in &images {
                normalization.extend_normalized(&augmentation.apply(image, &mut rng), &mut floats);
            }
            floats.len()
        })
    });
    group.finish();
}

criterion_group!(benches, augment_batch);
