//! PredSim: "Training Neural Networks with Local Error Signals", Arild Nøkland and Lars Hiller
//! Eidnes, ICML 2019 (<https://arxiv.org/abs/1901.06656>; code:
//! <https://github.com/anokland/local-loss>).
//!
//! Each local module is trained by `(1 - β) · pred + β · sim`, as `LocalLossBlockConv` in the
//! authors' `train.py` computes it:
//! - **pred**: cross-entropy of a linear classifier (weights initialised to zero) on the module
//!   output, average-pooled first with the smallest power-of-two kernel (doubling height, then
//!   width) that brings the flattened size down to `dim_in_decoder` (4096 by default);
//! - **sim**: mean squared error between two similarity matrices over the batch, that of the
//!   module output after a 3x3 convolution (no bias, trained with the aux net) and that of the
//!   one-hot labels. A feature map (more than 3 channels and more than 1 pixel a side) is
//!   first reduced to each channel's standard deviation over its pixels; each row is then
//!   centred and scaled to unit length, and the matrix of their dot products is clamped to
//!   [-1, 1] (the code's "adjusted cosine similarity").
//!
//! β = 0.99 is the code's default (`--beta`).

use tch::nn;
use tch::{Kind, Reduction, Tensor};

use super::{AuxContext, AuxNet, LocalTargets};
use crate::models::init::{self, ConvRule, InitMode};
use crate::{Error, Result};

/// The PredSim aux net's knobs, with the defaults of the authors' code.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PredSimConfig {
    /// Weight β of the similarity-matching term; the prediction term gets 1 - β.
    pub beta: f64,
    /// Largest flattened size the prediction term's average pooling may leave.
    pub dim_in_decoder: i64,
}

impl Default for PredSimConfig {
    fn default() -> Self {
        PredSimConfig { beta: 0.99, dim_in_decoder: 4096 }
    }
}

impl PredSimConfig {
    pub fn validate(&self) -> Result<()> {
        if !(0.0..=1.0).contains(&self.beta) {
            return Err(Error::config("aux.predsim.beta", format!("must be in [0, 1], got {}", self.beta)));
        }
        if self.dim_in_decoder < 1 {
            return Err(Error::config("aux.predsim.dim_in_decoder", format!("must be at least 1, got {}", self.dim_in_decoder)));
        }
        Ok(())
    }
}

/// The prediction term's average pooling over a `size` x `size` map of `channels` channels:
/// kernel, padding and output side, each as (height, width).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PredPool {
    pub kernel: [i64; 2],
    pub padding: [i64; 2],
    pub out: [i64; 2],
}

impl PredPool {
    /// The code's search: double the kernel's height, then its width, while the flattened
    /// size exceeds `target` and the height kernel is below the map's side.
    pub fn resolve(channels: i64, size: i64, target: i64) -> Self {
        let (mut kh, mut kw, mut oh, mut ow) = (1, 1, size, size);
        let ceil_div = |a: i64, b: i64| (a + b - 1) / b;
        while channels * oh * ow > target && kh < size {
            kh *= 2;
            oh = ceil_div(size, kh);
            if channels * oh * ow > target {
                kw *= 2;
                ow = ceil_div(size, kw);
            }
        }
        // Padding so that a stride-`k` pooling gives ceil(size / k) outputs.
        let padding = [(kh * (oh - size / kh)) / 2, (kw * (ow - size / kw)) / 2];
        PredPool { kernel: [kh, kw], padding, out: [oh, ow] }
    }

    pub fn is_identity(&self) -> bool {
        self.kernel == [1, 1]
    }

    pub fn apply(&self, h: &Tensor) -> Tensor {
        if self.is_identity() {
            return h.shallow_clone();
        }
        // PyTorch's AvgPool2d defaults: stride = kernel, zero padding counted in the mean.
        h.avg_pool2d(self.kernel, self.kernel, self.padding, false, true, None)
    }
}

/// The code's adjusted cosine similarity matrix `[B, B]` of a batch `[B, ...]`.
pub fn similarity_matrix(x: &Tensor) -> Tensor {
    let size = x.size();
    let rows = if size.len() == 4 && size[1] > 3 && size[2] > 1 {
        x.view([size[0], size[1], -1]).std_dim(2, true, false)
    } else {
        x.flatten(1, -1)
    };
    let centred = &rows - rows.mean_dim(1, true, Kind::Float);
    let norm = centred.square().sum_dim_intlist(1, true, Kind::Float).sqrt() + 1e-8;
    let unit = centred / norm;
    unit.matmul(&unit.transpose(0, 1)).clamp(-1.0, 1.0)
}

fn conv3x3(p: nn::Path, channels: i64, mode: InitMode) -> nn::Conv2D {
    init::conv2d(p, channels, channels, 3, nn::ConvConfig { padding: 1, bias: false, ..Default::default() }, ConvRule::PyTorch, mode)
}

/// The prediction head starts at zero, as the code sets it.
fn zero_linear(p: nn::Path, c_in: i64, c_out: i64) -> nn::Linear {
    nn::linear(p, c_in, c_out, nn::LinearConfig { ws_init: nn::Init::Const(0.0), ..Default::default() })
}

#[derive(Debug)]
pub struct PredSimAux {
    beta: f64,
    num_classes: i64,
    pool: PredPool,
    classifier: nn::Linear,
    sim_conv: nn::Conv2D,
}

impl PredSimAux {
    pub fn new(p: nn::Path, config: &PredSimConfig, ctx: &AuxContext) -> Result<Self> {
        config.validate()?;
        let c = ctx.channels();
        let pool = PredPool::resolve(c, ctx.resolution(), config.dim_in_decoder);
        Ok(PredSimAux {
            beta: config.beta,
            num_classes: ctx.num_classes(),
            pool,
            classifier: zero_linear(&p / "classifier", c * pool.out[0] * pool.out[1], ctx.num_classes()),
            sim_conv: conv3x3(&p / "sim_conv", c, ctx.init),
        })
    }

    /// The prediction and the similarity-matching terms, unweighted.
    pub fn terms(&self, h: &Tensor, labels: &Tensor) -> (Tensor, Tensor) {
        let logits = self.pool.apply(h).flatten(1, -1).apply(&self.classifier);
        let pred = logits.cross_entropy_for_logits(labels);
        let one_hot = labels.one_hot(self.num_classes).to_kind(Kind::Float);
        let target = similarity_matrix(&one_hot).detach();
        let sim = similarity_matrix(&h.apply(&self.sim_conv)).mse_loss(&target, Reduction::Mean);
        (pred, sim)
    }
}

impl AuxNet for PredSimAux {
    fn loss(&self, h: &Tensor, targets: &LocalTargets, _train: bool) -> Tensor {
        let (pred, sim) = self.terms(h, targets.target);
        pred * (1.0 - self.beta) + sim * self.beta
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing;
    use super::*;
    use tch::Device;

    #[test]
    fn pooling_matches_the_codes_search() {
        // 16 x 32 x 32 = 16384 > 4096: kernel 2 x 2 gives 16 x 16 x 16 = 4096.
        assert_eq!(PredPool::resolve(16, 32, 4096), PredPool { kernel: [2, 2], padding: [0, 0], out: [16, 16] });
        // 64 x 8 x 8 = 4096 already fits.
        assert!(PredPool::resolve(64, 8, 4096).is_identity());
        // Odd side (Fashion-MNIST's 7 x 7 after two down-samplings), small target: kernel 4
        // gives ceil(7 / 4) = 2 rows and columns, padded by 2 so that the pooling does.
        let pool = PredPool::resolve(64, 7, 256);
        assert_eq!(pool, PredPool { kernel: [4, 4], padding: [2, 2], out: [2, 2] });
        let h = Tensor::randn([3, 64, 7, 7], (Kind::Float, Device::Cpu));
        assert_eq!(pool.apply(&h).size(), [3, 64, 2, 2]);
        let pool = PredPool::resolve(16, 28, 4096);
        assert_eq!(pool.apply(&Tensor::zeros([1, 16, 28, 28], (Kind::Float, Device::Cpu))).size(), [1, 16, pool.out[0], pool.out[1]]);
    }

    #[test]
    fn similarity_of_one_hot_labels_is_their_centred_cosine() {
        // Same class: 1. Different classes out of C: the centred rows e_i - 1/C have dot
        // product -1/C and squared norm (C - 1)/C, so cosine -1/(C - 1).
        let labels = Tensor::from_slice(&[0i64, 1, 0]);
        let r = similarity_matrix(&labels.one_hot(4).to_kind(Kind::Float));
        let expected = Tensor::from_slice(&[1.0f32, -1.0 / 3.0, 1.0, -1.0 / 3.0, 1.0, -1.0 / 3.0, 1.0, -1.0 / 3.0, 1.0]).view([3, 3]);
        assert!(r.allclose(&expected, 1e-5, 1e-6, false), "{r}");
    }

    #[test]
    fn similarity_of_feature_maps_uses_each_channels_spread() {
        // Two images whose channels have the same spreads up to a scale: similarity 1;
        // reversed spreads: -1.
        let base = Tensor::randn([1, 1, 4, 4], (Kind::Float, Device::Cpu));
        let scales = |s: [f32; 4]| Tensor::from_slice(&s).view([1, 4, 1, 1]) * &base;
        let x = Tensor::cat(&[scales([1.0, 2.0, 3.0, 4.0]), scales([2.0, 4.0, 6.0, 8.0]), scales([4.0, 3.0, 2.0, 1.0])], 0);
        let r = Vec::<f32>::try_from(similarity_matrix(&x).flatten(0, -1)).unwrap();
        assert!((r[1] - 1.0).abs() < 1e-5 && (r[2] + 1.0).abs() < 1e-5, "{r:?}");
    }

    #[test]
    fn smoke_and_weights() {
        let net = testing::network();
        let vs = nn::VarStore::new(Device::Cpu);
        for last_unit in [0, 4, 8] {
            let ctx = testing::context(&net, last_unit);
            testing::check_loss(&PredSimAux::new(vs.root() / last_unit, &PredSimConfig::default(), &ctx).unwrap(), &ctx);
        }
        // β = 0 is the prediction term alone, β = 1 the similarity term alone.
        let ctx = testing::context(&net, 4);
        let h = Tensor::randn([4, ctx.channels(), ctx.resolution(), ctx.resolution()], (Kind::Float, Device::Cpu));
        let labels = Tensor::from_slice(&[0i64, 1, 2, 1]);
        let targets = LocalTargets { images: &h, raw_images: &h, target: &labels };
        let mut aux = PredSimAux::new(vs.root() / "weights", &PredSimConfig::default(), &ctx).unwrap();
        let (pred, sim) = aux.terms(&h, &labels);
        // The classifier's weights start at zero (its bias keeps the default initialisation).
        assert_eq!(aux.classifier.ws.abs().sum(Kind::Float).double_value(&[]), 0.0);
        assert!(pred.double_value(&[]) > 0.0 && sim.double_value(&[]) > 0.0);
        for beta in [0.0, 0.99, 1.0] {
            aux.beta = beta;
            let expected = (1.0 - beta) * pred.double_value(&[]) + beta * sim.double_value(&[]);
            assert!((aux.loss(&h, &targets, true).double_value(&[]) - expected).abs() < 1e-5);
        }
    }

    #[test]
    fn bad_knobs_name_their_field() {
        for (config, field) in [
            (PredSimConfig { beta: -0.1, ..Default::default() }, "aux.predsim.beta"),
            (PredSimConfig { beta: f64::NAN, ..Default::default() }, "aux.predsim.beta"),
            (PredSimConfig { dim_in_decoder: 0, ..Default::default() }, "aux.predsim.dim_in_decoder"),
        ] {
            let message = config.validate().unwrap_err().to_string();
            assert!(message.contains(field), "{message}");
        }
        assert!(PredSimConfig::default().validate().is_ok());
    }
}
