//! InfoPro: "Revisiting Locally Supervised Learning: an Alternative to End-to-end
//! Training", Wang, Ni, Song, Yang and Huang, ICLR 2021 (<https://arxiv.org/abs/2101.10832>).
//!
//! Each local module keeps information about the input (a decoder reconstructs the image,
//! binary cross-entropy) while gaining task information (a "1c2f" head: cross-entropy, or
//! the supervised contrastive loss at temperature 0.07). The two terms are weighted by
//! λ1 (reconstruction) and λ2 (task), interpolated linearly from the first local module to
//! the last: λ = λ_first (1 - r) + λ_last r with r = k / (K - 2) (r = 0 when K = 2).
//! InfoPro tuned λ per network, K and dataset; [`weights_for`] holds every published value.
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
    /// Which of InfoPro's published command sets the default λ come from. Left out of the
    /// serialisation when `cifar10`, so runs written before the setting keep their hashes.
    #[serde(skip_serializing_if = "Recipe::is_cifar10")]
    pub recipe: Recipe,
    /// λ1 at the first and the last local module; `None`: the published value for the
    /// network, K and recipe ([`weights_for`]).
    pub lambda_recon: Option<[f64; 2]>,
    /// λ2 at the first and the last local module; `None`: the published value.
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
        InfoProConfig {
            recipe: Recipe::default(),
            lambda_recon: None,
            lambda_task: None,
            temperature: 0.07,
            feature_dim: 128,
            decoder_width: 12,
        }
    }
}

/// InfoPro's command sets, one per dataset and split kind: its λ differ with both.
/// "Balanced" is InfoPro* (the memory-balanced split points, `split = "published_balanced"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Recipe {
    #[default]
    Cifar10,
    Cifar10Balanced,
    Stl10,
    Stl10Balanced,
    Svhn,
    ImagenetBalanced,
}

impl Recipe {
    pub fn is_cifar10(&self) -> bool {
        *self == Recipe::Cifar10
    }
}

/// `(λ1 first, λ1 last, λ2 first, λ2 last)` of one network, K and recipe.
type Row = (&'static str, usize, Recipe, [f64; 4]);

/// Every λ InfoPro published, from blackfeather-wang/InfoPro-Pytorch (commit a38362a):
/// `Experiments on CIFAR-SVHN-STL10/comand.sh` (`--ixx_1 --ixx_2` are λ1 at the first and
/// the last local module, `--ixy_1 --ixy_2` λ2; all with `--local_loss_mode contrast`), and
/// for ImageNet `Experiments on ImageNet/README.md` (K = 2, one local module: `--ixx_r`,
/// `--ixy_r`). InfoPro publishes no separate λ for its softmax variant; it uses these too.
const PUBLISHED: [Row; 24] = [
    ("resnet32", 2, Recipe::Cifar10, [5.0, 0.0, 1.0, 0.0]),
    ("resnet32", 4, Recipe::Cifar10, [6.0, 1.0, 0.0, 2.0]),
    ("resnet32", 8, Recipe::Cifar10, [5.0, 0.0, 0.0, 2.0]),
    ("resnet32", 16, Recipe::Cifar10, [5.0, 0.2, 0.05, 0.5]),
    ("resnet110", 2, Recipe::Cifar10, [5.0, 0.0, 0.5, 0.0]),
    ("resnet110", 4, Recipe::Cifar10, [1.0, 0.0, 0.0, 1.0]),
    ("resnet110", 8, Recipe::Cifar10, [5.0, 0.0, 0.0, 1.0]),
    ("resnet110", 16, Recipe::Cifar10, [5.0, 0.5, 0.0, 1.0]),
    ("resnet110", 2, Recipe::Cifar10Balanced, [5.0, 0.0, 0.1, 0.0]),
    ("resnet110", 3, Recipe::Cifar10Balanced, [5.0, 5.0, 0.0, 0.1]),
    ("resnet110", 4, Recipe::Cifar10Balanced, [5.0, 5.0, 0.0, 0.1]),
    ("resnet110", 2, Recipe::Stl10, [10.0, 0.0, 1.0, 0.0]),
    ("resnet110", 4, Recipe::Stl10, [20.0, 5.0, 0.2, 2.0]),
    ("resnet110", 8, Recipe::Stl10, [20.0, 5.0, 0.2, 1.0]),
    ("resnet110", 16, Recipe::Stl10, [20.0, 10.0, 0.5, 0.1]),
    ("resnet110", 2, Recipe::Stl10Balanced, [20.0, 0.0, 1.0, 0.0]),
    ("resnet110", 3, Recipe::Stl10Balanced, [20.0, 5.0, 0.5, 2.0]),
    ("resnet110", 4, Recipe::Stl10Balanced, [20.0, 10.0, 0.5, 1.0]),
    ("resnet110", 2, Recipe::Svhn, [1.0, 0.0, 0.1, 0.0]),
    ("resnet110", 4, Recipe::Svhn, [5.0, 0.5, 0.0, 1.0]),
    ("resnet110", 8, Recipe::Svhn, [5.0, 0.5, 0.0, 2.0]),
    ("resnet110", 16, Recipe::Svhn, [5.0, 0.5, 0.2, 1.0]),
    // One local module, so only the first values count; InfoPro's ResNeXt-101 32x8d row
    // (5, 0.75) has no network here.
    ("resnet101-imagenet", 2, Recipe::ImagenetBalanced, [5.0, 0.0, 0.75, 0.0]),
    ("resnet152-imagenet", 2, Recipe::ImagenetBalanced, [5.0, 0.0, 1.0, 0.0]),
];

/// Where the default λ of a network, K and recipe come from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Weights {
    /// `(λ1 first, λ1 last, λ2 first, λ2 last)`.
    pub values: [f64; 4],
    /// `false`: InfoPro published nothing for this network, K and recipe, and the values
    /// are the fallback of [`weights_for`].
    pub published: bool,
}

/// The λ InfoPro published for `network` (its [`crate::models::UnitNetwork::name`]), K and
/// `recipe`. Where it published none (every network but its ResNets, or another K), the
/// values are ResNet-32's on CIFAR-10 at this K, or its K = 8 row for K other than 2, 4, 8,
/// 16: the paper's main network, the closest published setting we have. (ResNet-32 and
/// ResNet-110 at K = 3 have published split points but no published λ outside InfoPro*.)
pub fn weights_for(network: &str, k: usize, recipe: Recipe) -> Weights {
    let find = |network: &str, k: usize, recipe: Recipe| {
        PUBLISHED.iter().find(|row| row.0 == network && row.1 == k && row.2 == recipe).map(|row| row.3)
    };
    match find(network, k, recipe) {
        Some(values) => Weights { values, published: true },
        None => {
            let values = find("resnet32", k, Recipe::Cifar10)
                .or_else(|| find("resnet32", 8, Recipe::Cifar10))
                .expect("ResNet-32 K = 8 is published");
            Weights { values, published: false }
        }
    }
}

/// (λ1, λ2) of local module `module` (0-based) out of `num_modules`, on `network`.
pub fn module_weights(config: &InfoProConfig, network: &str, module: usize, num_modules: usize) -> (f64, f64) {
    let published = weights_for(network, num_modules, config.recipe).values;
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
        let (lambda_recon, lambda_task) = module_weights(config, &ctx.network.name(), ctx.module, ctx.num_modules);
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
        assert_eq!(module_weights(&config, "resnet32", 0, 2), (5.0, 1.0));
        // K = 4: local modules 0, 1, 2 with ratios 0, 1/2, 1.
        assert_eq!(module_weights(&config, "resnet32", 0, 4), (6.0, 0.0));
        assert_eq!(module_weights(&config, "resnet32", 1, 4), (3.5, 1.0));
        assert_eq!(module_weights(&config, "resnet32", 2, 4), (1.0, 2.0));
        let custom = InfoProConfig { lambda_recon: Some([1.0, 3.0]), lambda_task: Some([2.0, 2.0]), ..config };
        assert_eq!(module_weights(&custom, "resnet32", 3, 8), (2.0, 2.0));
    }

    #[test]
    fn weights_follow_the_network_k_and_recipe() {
        // ResNet-110 differs from ResNet-32 at the same K (comand.sh, CIFAR-10).
        assert_eq!(weights_for("resnet110", 2, Recipe::Cifar10), Weights { values: [5.0, 0.0, 0.5, 0.0], published: true });
        assert_eq!(weights_for("resnet110", 4, Recipe::Cifar10).values, [1.0, 0.0, 0.0, 1.0]);
        assert_eq!(weights_for("resnet110", 3, Recipe::Cifar10Balanced).values, [5.0, 5.0, 0.0, 0.1]);
        assert_eq!(weights_for("resnet110", 16, Recipe::Stl10).values, [20.0, 10.0, 0.5, 0.1]);
        assert_eq!(weights_for("resnet152-imagenet", 2, Recipe::ImagenetBalanced).values, [5.0, 0.0, 1.0, 0.0]);
        let config = InfoProConfig::default();
        assert_eq!(module_weights(&config, "resnet110", 0, 8), (5.0, 0.0));
        assert_eq!(module_weights(&config, "resnet110", 6, 8), (0.0, 1.0));
        // Unpublished: ResNet-32's CIFAR-10 row at K, or at K = 8.
        assert_eq!(weights_for("wrn-28-10", 4, Recipe::Cifar10), Weights { values: [6.0, 1.0, 0.0, 2.0], published: false });
        assert_eq!(weights_for("resnet32", 3, Recipe::Cifar10), Weights { values: [5.0, 0.0, 0.0, 2.0], published: false });
        assert!(!weights_for("resnet32", 2, Recipe::Stl10).published);
        let stl = InfoProConfig { recipe: Recipe::Stl10, ..config };
        assert_eq!(module_weights(&stl, "resnet110", 0, 2), (10.0, 1.0));
        let table: InfoProConfig = toml::from_str("recipe = \"cifar10-balanced\"\n").unwrap();
        assert_eq!(table.recipe, Recipe::Cifar10Balanced);
        assert!(toml::from_str::<InfoProConfig>("recipe = \"cifar100\"\n").is_err());
        // The default recipe is left out of a run's config, whose hash predates the setting.
        assert!(!toml::to_string(&InfoProConfig::default()).unwrap().contains("recipe"));
        assert!(toml::to_string(&stl).unwrap().contains("recipe = \"stl10\""));
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
