//! The DGL aux net: Decoupled Greedy Learning, Belilovsky, Eickenberg and Oyallon, ICML 2020
//! (<https://arxiv.org/abs/1901.08164>). Its CIFAR aux net first averages the module output
//! down to a small grid (spatial reduction), then applies a few 1x1 convolutions with BN and
//! ReLU and a small MLP, trained with cross-entropy.
//!
//! Tasks other than classification (detection, super-resolution) hand the aux nets a task
//! head; DGL's aux net is then the plain local baseline those suites compare against:
//! `conv_layers` conv3x3 + ReLU layers at the module's width and resolution, then the task
//! head.
//!
//! DGL's code (github.com/eugenium/DGL, `auxillary_classifier2`) sets no init of its own:
//! every layer starts at PyTorch's default ([`ConvRule::PyTorch`], `nn.Linear`'s, BN 1/0).

use tch::nn::{self, ModuleT};
use tch::Tensor;

use super::task_head::TaskHead;
use super::{AuxContext, AuxNet, ConvBnRelu, LocalTargets};
use crate::models::init::{self, ConvRule};

/// Shape of the DGL aux net.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DglConfig {
    /// Side of the grid the features are averaged to before the 1x1 convolutions.
    pub pool_to: i64,
    /// Number of 1x1 conv + BN + ReLU layers (at the module's width).
    pub conv_layers: usize,
    /// Width of the MLP's hidden layer.
    pub mlp_hidden: i64,
}

impl Default for DglConfig {
    fn default() -> Self {
        DglConfig { pool_to: 2, conv_layers: 2, mlp_hidden: 256 }
    }
}

#[derive(Debug)]
pub enum DglAux {
    /// DGL's classification aux net.
    Classifier { pool_to: i64, convs: Vec<ConvBnRelu>, hidden: nn::Linear, out: nn::Linear },
    /// The plain local baseline of the other tasks: conv3x3 + ReLU layers, the task head.
    Plain { convs: Vec<nn::Conv2D>, head: Box<dyn TaskHead> },
}

impl DglAux {
    pub fn new(p: nn::Path, config: &DglConfig, ctx: &AuxContext) -> Self {
        let c = ctx.channels();
        if ctx.task_head.is_some() {
            let conv = nn::ConvConfig { padding: 1, ..Default::default() };
            let convs =
                (0..config.conv_layers).map(|i| init::conv2d(&p / "convs" / i, c, c, 3, conv, ConvRule::PyTorch, ctx.init)).collect();
            return DglAux::Plain { convs, head: ctx.build_task_head(&p / "head", c) };
        }
        let pool_to = config.pool_to.clamp(1, ctx.resolution().max(1));
        let convs = (0..config.conv_layers).map(|i| ConvBnRelu::new(&p / "convs" / i, c, c, 1, 1, ConvRule::PyTorch, ctx.init)).collect();
        DglAux::Classifier {
            pool_to,
            convs,
            hidden: init::linear(&p / "hidden", c * pool_to * pool_to, config.mlp_hidden, ctx.init),
            out: init::linear(&p / "out", config.mlp_hidden, ctx.num_classes(), ctx.init),
        }
    }
}

impl AuxNet for DglAux {
    fn loss(&self, h: &Tensor, targets: &LocalTargets, train: bool) -> Tensor {
        match self {
            DglAux::Classifier { pool_to, convs, hidden, out } => {
                let pooled = h.adaptive_avg_pool2d([*pool_to, *pool_to]);
                let features = convs.iter().fold(pooled, |x, conv| conv.forward_t(&x, train));
                features.flatten(1, -1).apply(hidden).relu().apply(out).cross_entropy_for_logits(targets.target)
            }
            DglAux::Plain { convs, head } => {
                let features = convs.iter().fold(h.shallow_clone(), |x, conv| x.apply(conv).relu());
                head.loss(&features, targets, train)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing;
    use super::*;

    #[test]
    fn smoke() {
        let net = testing::network();
        let vs = nn::VarStore::new(tch::Device::Cpu);
        for last_unit in [0, 4, 8] {
            let ctx = testing::context(&net, last_unit);
            testing::check_loss(&DglAux::new(vs.root() / last_unit, &DglConfig::default(), &ctx), &ctx);
        }
    }

    #[test]
    fn with_a_task_head_it_is_convolutions_then_that_head() {
        let net = testing::network();
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let classifier = |p: nn::Path, channels: i64, mode: crate::models::InitMode| -> Box<dyn TaskHead> {
            Box::new(super::super::task_head::ClassifierHead::new(p, channels, 10, mode))
        };
        let ctx = AuxContext { task_head: Some(&classifier), ..testing::context(&net, 4) };
        let aux = DglAux::new(vs.root(), &DglConfig::default(), &ctx);
        assert!(matches!(&aux, DglAux::Plain { convs, .. } if convs.len() == 2));
        testing::check_loss(&aux, &ctx);
    }
}
