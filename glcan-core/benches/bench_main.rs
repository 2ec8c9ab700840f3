//! Criterion benchmarks of glcan-core: one file per topic, listed here.
use criterion::criterion_main;

mod augment;
mod loader;
mod train_step;

criterion_main!(augment::benches, loader::benches, train_step::benches);
