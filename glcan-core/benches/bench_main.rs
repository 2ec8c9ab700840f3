//! Criterion benchmarks of glcan-core: one file per topic, listed here.
use criterion::criterion_main;

mod augment;

criterion_main!(augment::benches);
