//! One local-learning training step per method: ResNet-32 cut into K = 4 modules (E2E: one
//! module), a batch of 64 random 3x32x32 images, on the CPU. Compare methods within one
//! run; absolute times depend on the machine.
use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use glcan_core::aux::{LocalTargets, Method};
use glcan_core::models::ResNetCifar;
use glcan_core::train::{Classification, LocalNetwork, TrainConfig};
use tch::{Device, Kind, Tensor};

const BATCH: i64 = 64;

fn train_step(c: &mut Criterion) {
    let network = ResNetCifar::new(32, 3, 10, 32).unwrap();
    let images = Tensor::randn([BATCH, 3, 32, 32], (Kind::Float, Device::Cpu));
    let raw = Tensor::rand([BATCH, 3, 32, 32], (Kind::Float, Device::Cpu));
    let labels = Tensor::randint(10, [BATCH], (Kind::Int64, Device::Cpu));
    let targets = LocalTargets { images: &images, raw_images: &raw, target: &labels };
    let mut group = c.benchmark_group("train_step");
    group.sample_size(10).throughput(Throughput::Elements(BATCH as u64));
    for method in Method::ALL {
        let k = method.module_counts(&[4])[0];
        tch::manual_seed(0);
        let mut net =
            LocalNetwork::build(&network, &Classification, &TrainConfig::new(method, k, 1, BATCH as usize, 0.01), 3, 32, Device::Cpu)
                .unwrap();
        group.bench_function(BenchmarkId::new(method.name(), format!("cpu/resnet32/k{k}/b{BATCH}")), |b| {
            b.iter(|| net.train_step(&images, &targets, 0.01).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, train_step);
