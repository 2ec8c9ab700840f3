//! Criterion benchmarks of glcan-data: one file per topic, listed here.
use criterion::criterion_main;

mod augment;
mod loader;

criterion_main!(augment::benches, loader::benches);
