//! Criterion benchmarks of glcan-core: one file per topic, listed here. The loader and
//! augmentation benchmarks live with the data code, in glcan-data.
use criterion::criterion_main;

mod train_step;

criterion_main!(train_step::benches);
