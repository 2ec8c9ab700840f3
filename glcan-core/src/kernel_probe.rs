//! A fingerprint of the machine's numerics: the bits that libtorch's CPU kernels produce on
//! fixed inputs, independent of this workspace's code.
//!
//! Seeded training on the CPU is deterministic on one machine, and on another machine only
//! when its kernels compute the same bits (same instruction set, same thread count, same
//! blocking). The regression check compares runs seed by seed, exactly, only when the
//! baseline's and the current machine's fingerprints agree; otherwise it falls back to the
//! seed-to-seed band (see `reports compare`). The probe runs the kinds of operations a
//! training step of our networks runs (convolutions forward and backward at strides 1 and 2,
//! 1x1 and 3x3, batch norm in training mode, a linear layer, activations, pooling,
//! up-sampling, losses, reductions, the optimizer's element-wise updates) on inputs made
//! without any random generator, and hashes every output's bytes.

use tch::{Kind, Tensor};

/// The fingerprint (16 hex digits) of this process's kernels at its current thread count.
pub fn fingerprint() -> String {
    let mut hash = Fnv1a::new();
    for output in outputs() {
        hash.tensor(&output);
    }
    format!("{:016x}", hash.0)
}

/// Values in [-1, 1] that depend on every index, made without a random generator.
fn input(shape: &[i64]) -> Tensor {
    let n: i64 = shape.iter().product();
    (Tensor::arange(n, (Kind::Float, tch::Device::Cpu)) * 0.7311).sin().reshape(shape)
}

/// Every probed operation's outputs, gradients included.
fn outputs() -> Vec<Tensor> {
    let mut outputs = Vec::new();
    tch::with_grad(|| {
        for (c_in, c_out, kernel, stride, size) in
            [(3i64, 16i64, 3i64, 1i64, 32i64), (16, 32, 3, 2, 16), (32, 64, 1, 1, 8), (64, 64, 3, 1, 8)]
        {
            let x = input(&[8, c_in, size, size]).set_requires_grad(true);
            let w = (input(&[c_out, c_in, kernel, kernel]) * 0.1).set_requires_grad(true);
            let y = x.conv2d(&w, None::<Tensor>, [stride, stride], [kernel / 2, kernel / 2], [1, 1], 1);
            let gamma = Tensor::ones([c_out], (Kind::Float, tch::Device::Cpu)).set_requires_grad(true);
            let beta = Tensor::zeros([c_out], (Kind::Float, tch::Device::Cpu)).set_requires_grad(true);
            let z = y.batch_norm(Some(&gamma), Some(&beta), None::<&Tensor>, None::<&Tensor>, true, 0.1, 1e-5, false).relu();
            let pooled = z.max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false).avg_pool2d([2, 2], [2, 2], [0, 0], false, true, None::<i64>);
            let up = z.upsample_bilinear2d([size * 2 / stride, size * 2 / stride], false, None, None).upsample_nearest2d(
                [size / stride, size / stride],
                None,
                None,
            );
            let loss = pooled.square().mean(Kind::Float)
                + up.sigmoid().binary_cross_entropy_with_logits(
                    &up.sigmoid().detach(),
                    None::<Tensor>,
                    None::<Tensor>,
                    tch::Reduction::Mean,
                );
            loss.backward();
            outputs.extend([z.detach(), loss.detach(), x.grad(), w.grad(), gamma.grad()]);
        }
        let features = input(&[64, 256]).set_requires_grad(true);
        let weight = (input(&[10, 256]) * 0.05).set_requires_grad(true);
        let logits = features.linear(&weight, None::<Tensor>);
        let targets = Tensor::arange(64, (Kind::Int64, tch::Device::Cpu)).remainder(10);
        let loss = logits.log_softmax(-1, Kind::Float).nll_loss(&targets);
        loss.backward();
        // Adam's element-wise update of one parameter.
        let grad = weight.grad();
        let m = &grad * 0.1;
        let v = grad.square() * 0.001;
        let update = m / (v.sqrt() + 1e-8) * 1e-3;
        outputs.extend([logits.detach(), loss.detach(), features.grad(), grad, update, weight.detach().sum(Kind::Float)]);
    });
    outputs
}

/// 64-bit FNV-1a over tensors' shapes and bytes: stable across runs and machines.
struct Fnv1a(u64);

impl Fnv1a {
    fn new() -> Self {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }

    fn bytes(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn tensor(&mut self, tensor: &Tensor) {
        let tensor = tensor.to_kind(Kind::Float).contiguous();
        for dim in tensor.size() {
            self.bytes(&dim.to_le_bytes());
        }
        let numel = tensor.numel();
        let mut data = vec![0u8; numel * 4];
        tensor.copy_data_u8(&mut data, numel);
        self.bytes(&data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fingerprint_is_stable_within_a_process_and_sees_one_bit() {
        let first = fingerprint();
        assert_eq!(first.len(), 16);
        assert_eq!(first, fingerprint(), "the same kernels on the same inputs give the same bits");
        let mut a = Fnv1a::new();
        a.tensor(&Tensor::from_slice(&[1.0f32, 2.0]));
        let mut b = Fnv1a::new();
        b.tensor(&Tensor::from_slice(&[1.0f32, f32::from_bits(2.0f32.to_bits() + 1)]));
        assert_ne!(a.0, b.0, "one ulp apart hashes differently");
    }
}
