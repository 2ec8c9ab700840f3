//! InfoPro: "Revisiting Locally Supervised Learning: an Alternative to End-to-end
//! Training", Wang, Ni, Song, Yang and Huang, ICLR 2021 (<https://arxiv.org/abs/2101.10832>).
//!
//! Each local module keeps information about the input (a decoder reconstructs the image,
//! binary cross-entropy) while gaining task information (a "1c2f" head: cross-entropy, or
//! the supervised contrastive loss at temperature 0.07). The two terms are weighted by
//! λ1 (reconstruction) and λ2 (task), interpolated linearly from the first local module to
//! the last: λ = λ_first (1 - r) + λ_last r with r = k / (K - 2) (r = 0 when K = 2).
//!
//! Initialisation: InfoPro's ResNet builds the decoders and aux classifiers as its own
//! submodules, so its He-normal (fan_out) loop over every `nn.Conv2d` and its BN 1/0 reach
//! them too ([`ConvRule::ResNet`]); the linear layers keep `nn.Linear`'s default.

use tch::nn::{self, ModuleT};
use tch::{Kind, Tensor};

use super::{AuxContext, AuxNet, ConvBnRelu, LocalTargets};
use crate::losses::supervised_contrastive;
use crate::models::init::{self, ConvRule};
use crate::{Error, Result};

/// Which task term InfoPro uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InfoTerm {
    Softmax,
    Contrast,
}

/// Weights and shapes of the InfoPro aux net.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InfoProConfig {
    /// λ1 at the first and the last local module; `None`: the published value for K.
    pub lambda_recon: Option<[f64; 2]>,
    /// λ2 at the first and the last local module; `None`: the published value for K.
    pub lambda_task: Option<[f64; 2]>,
    /// Temperature of the contrastive term.
    pub temperature: f64,
    /// Width of the 1c2f head's hidden layer (and of the contrastive features).
    pub feature_dim: i64,
    /// Channels of the decoder's hidden layer.
    pub decoder_width: i64,
}

impl Default for InfoProConfig {
    fn default() -> Self {
        InfoProConfig { lambda_recon: None, lambda_task: None, temperature: 0.07, feature_dim: 128, decoder_width: 12 }
    }
}

/// The weights InfoPro (Contrast) published for ResNet-32 on CIFAR-10, by K:
/// `(λ1 first, λ1 last, λ2 first, λ2 last)`. Other K use the K = 8 row.
pub fn published_weights(k: usize) -> [f64; 4] {
    match k {
        2 => [5.0, 0.0, 1.0, 0.0],
        4 => [6.0, 1.0, 0.0, 2.0],
        16 => [5.0, 0.2, 0.05, 0.5],
        _ => [5.0, 0.0, 0.0, 2.0],
    }
}

/// (λ1, λ2) of local module `module` (0-based) out of `num_modules`.
pub fn module_weights(config: &InfoProConfig, module: usize, num_modules: usize) -> (f64, f64) {
    let published = published_weights(num_modules);
    let recon = config.lambda_recon.unwrap_or([published[0], published[1]]);
    let task = config.lambda_task.unwrap_or([published[2], published[3]]);
    let ratio = if num_modules > 2 { module as f64 / (num_modules - 2) as f64 } else { 0.0 };
    let mix = |w: [f64; 2]| w[0] * (1.0 - ratio) + w[1] * ratio;
    (mix(recon), mix(task))
}

#[derive(Debug)]
pub struct InfoProAux {
    term: InfoTerm,
    lambda_recon: f64,
    lambda_task: f64,
    temperature: f64,
    image_size: i64,
    decoder_hidden: ConvBnRelu,
    decoder_out: nn::Conv2D,
    head_conv: ConvBnRelu,
    head_hidden: nn::Linear,
    head_out: nn::Linear,
}

impl InfoProAux {
    pub fn new(p: nn::Path, config: &InfoProConfig, term: InfoTerm, ctx: &AuxContext) -> Result<Self> {
        if config.temperature.is_nan() || config.temperature <= 0.0 {
            return Err(Error::config("aux.infopro.temperature", format!("must be positive, got {}", config.temperature)));
        }
        let c = ctx.channels();
        // "1c2f": one conv (doubling the width with stride 2 while below 64 channels), two FCs.
        let (c_head, stride) = if c < 64 && ctx.resolution() >= 2 { (2 * c, 2) } else { (c, 1) };
        let out_dim = match term {
            InfoTerm::Softmax => ctx.num_classes(),
            InfoTerm::Contrast => config.feature_dim,
        };
        let (lambda_recon, lambda_task) = module_weights(config, ctx.module, ctx.num_modules);
        Ok(InfoProAux {
            term,
            lambda_recon,
            lambda_task,
            temperature: config.temperature,
            image_size: ctx.image_size,
            decoder_hidden: ConvBnRelu::new(&p / "decoder" / "hidden", c, config.decoder_width, 3, 1, ConvRule::ResNet, ctx.init),
            decoder_out: init::conv2d(
                &p / "decoder" / "out",
                config.decoder_width,
                ctx.image_channels,
                3,
                nn::ConvConfig { padding: 1, ..Default::default() },
                ConvRule::ResNet,
                ctx.init,
            ),
            head_conv: ConvBnRelu::new(&p / "head" / "conv", c, c_head, 3, stride, ConvRule::ResNet, ctx.init),
            head_hidden: init::linear(&p / "head" / "hidden", c_head, config.feature_dim, ctx.init),
            head_out: init::linear(&p / "head" / "out", config.feature_dim, out_dim, ctx.init),
        })
    }

    /// (λ1, λ2) of this module.
    pub fn weights(&self) -> (f64, f64) {
        (self.lambda_recon, self.lambda_task)
    }
}

impl AuxNet for InfoProAux {
    fn loss(&self, h: &Tensor, targets: &LocalTargets, train: bool) -> Tensor {
        let mut loss = Tensor::zeros([], (Kind::Float, h.device()));
        if self.lambda_recon != 0.0 {
            let upsampled = h.upsample_bilinear2d([self.image_size, self.image_size], false, None, None);
            let reconstruction = self.decoder_hidden.forward_t(&upsampled, train).apply(&self.decoder_out).sigmoid();
            let recon_loss = reconstruction.binary_cross_entropy::<Tensor>(targets.raw_images, None, tch::Reduction::Mean);
            loss += recon_loss * self.lambda_recon;
        }
        if self.lambda_task != 0.0 {
            let features = self.head_conv.forward_t(h, train).adaptive_avg_pool2d([1, 1]).flatten(1, -1);
            let out = features.apply(&self.head_hidden).relu().apply(&self.head_out);
            let task_loss = match self.term {
                InfoTerm::Softmax => out.cross_entropy_for_logits(targets.target),
                InfoTerm::Contrast => supervised_contrastive(&out, targets.target, self.temperature),
            };
            loss += task_loss * self.lambda_task;
        }
        loss
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing;
    use super::*;

    #[test]
    fn weights_interpolate_over_depth() {
        let config = InfoProConfig::default();
        assert_eq!(module_weights(&config, 0, 2), (5.0, 1.0));
        // K = 4: local modules 0, 1, 2 with ratios 0, 1/2, 1.
        assert_eq!(module_weights(&config, 0, 4), (6.0, 0.0));
        assert_eq!(module_weights(&config, 1, 4), (3.5, 1.0));
        assert_eq!(module_weights(&config, 2, 4), (1.0, 2.0));
        let custom = InfoProConfig { lambda_recon: Some([1.0, 3.0]), lambda_task: Some([2.0, 2.0]), ..config };
        assert_eq!(module_weights(&custom, 3, 8), (2.0, 2.0));
    }

    #[test]
    fn smoke_softmax_and_contrast() {
        let net = testing::network();
        let vs = nn::VarStore::new(tch::Device::Cpu);
        for (i, term) in [InfoTerm::Softmax, InfoTerm::Contrast].into_iter().enumerate() {
            for last_unit in [0, 4, 8] {
                // Module 1 of 3 has both terms non-zero with the K = 8 defaults' interpolation.
                let ctx = testing::context(&net, last_unit);
                let config = InfoProConfig { lambda_recon: Some([1.0, 1.0]), lambda_task: Some([1.0, 1.0]), ..Default::default() };
                let aux = InfoProAux::new(vs.root() / i / last_unit, &config, term, &ctx).unwrap();
                testing::check_loss(&aux, &ctx);
            }
        }
    }

    #[test]
    fn non_positive_temperature_is_rejected() {
        let net = testing::network();
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let config = InfoProConfig { temperature: 0.0, ..Default::default() };
        let error = InfoProAux::new(vs.root(), &config, InfoTerm::Contrast, &testing::context(&net, 0)).unwrap_err();
        assert!(error.to_string().contains("aux.infopro.temperature"));
    }
}
