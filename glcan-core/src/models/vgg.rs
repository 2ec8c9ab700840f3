//! VGG-13 and VGG-19 with batch normalisation, from "Very Deep Convolutional Networks for
//! Large-Scale Image Recognition", Karen Simonyan and Andrew Zisserman, ICLR 2015
//! (<https://arxiv.org/abs/1409.1556>), configurations B and E of Table 1, laid out as
//! torchvision's `vgg13_bn` / `vgg19_bn`:
//!
//! ```text
//! [conv3x3 ─ BN ─ ReLU] x n at 64, max-pool, x n at 128, max-pool, x n at 256, max-pool,
//! x n at 512, max-pool, x n at 512, max-pool ─ adaptive avg-pool 7x7 ─ FC 25088→4096 ─ ReLU ─
//! dropout 0.5 ─ FC 4096→4096 ─ ReLU ─ dropout 0.5 ─ FC 4096→classes
//! ```
//! with n = 2, 2, 2, 2, 2 (VGG-13) or 2, 2, 4, 4, 4 (VGG-19). The convolutions keep their
//! bias, as torchvision's do. The classifier is torchvision's, 4096 wide: the head
//! abstraction takes any module from the last unit's features to logits, so it fits (it
//! holds 123.6 M of VGG-19's 143.7 M parameters at 1000 classes).
//!
//! **Units.** Every conv-BN-ReLU is a unit. The max-pool that closes a resolution opens the
//! next stage's first unit instead (pool, then conv: a stride-2 unit, as a ResNet stage opens
//! with its stride-2 block), and the fifth pool is the head's first layer, so every cut sees
//! a conv-BN-ReLU output: `[0,0]` is the first conv (the stem), `[1,0]` the second conv at
//! full resolution, stages 2 to 5 the later resolutions, each opening with a pooled conv.
//! VGG-13 has 10 units, VGG-19 16. Pools use `ceil_mode`, so an odd side rounds up as
//! [`UnitNetwork::resolution_after`] counts (torchvision floors; the two agree on even sides,
//! e.g. 224, 96, 64 and 32 px).

use tch::nn::{self, ModuleT};
use tch::Tensor;

use super::init::{self, ConvRule, InitMode};
use super::{UnitId, UnitKind, UnitNetwork, UnitSpec};
use crate::{Error, Result};

/// Convolutions per resolution (Table 1, configurations B and E).
const VGG13_CONVS: [usize; 5] = [2, 2, 2, 2, 2];
const VGG19_CONVS: [usize; 5] = [2, 2, 4, 4, 4];
/// The width at each resolution.
const WIDTHS: [i64; 5] = [64, 128, 256, 512, 512];
/// The classifier: adaptive pool to 7x7, then two hidden layers of 4096.
const POOLED_SIDE: i64 = 7;
const HIDDEN: i64 = 4096;
const DROPOUT: f64 = 0.5;

/// A 3x3 convolution with bias, started as torchvision's VGG starts its own.
fn conv(p: nn::Path, c_in: i64, c_out: i64, mode: InitMode) -> nn::Conv2D {
    init::conv2d(p, c_in, c_out, 3, nn::ConvConfig { padding: 1, ..Default::default() }, ConvRule::Vgg, mode)
}

/// 2x2 max-pool, stride 2 (`ceil_mode`: see the module header).
fn max_pool(xs: &Tensor) -> Tensor {
    xs.max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], true)
}

/// VGG-13 or VGG-19 (with BN) described unit by unit.
#[derive(Debug, Clone)]
pub struct Vgg {
    depth: usize,
    num_classes: i64,
    input_size: i64,
    units: Vec<UnitSpec>,
}

impl Vgg {
    /// VGG-`depth` (13 or 19) for `in_channels`-channel images of `input_size` pixels (224
    /// for ImageNet).
    pub fn new(depth: usize, in_channels: i64, num_classes: i64, input_size: i64) -> Result<Self> {
        let convs = match depth {
            13 => VGG13_CONVS,
            19 => VGG19_CONVS,
            _ => return Err(Error::config("network.depth", format!("VGG has 13 or 19 layers here, not {depth}"))),
        };
        for (field, value) in [("in_channels", in_channels), ("num_classes", num_classes), ("input_size", input_size)] {
            if value < 1 {
                return Err(Error::config(format!("network.{field}"), format!("must be positive, got {value}")));
            }
        }
        let mut units = Vec::new();
        let mut c_in = in_channels;
        for (resolution, (&count, &width)) in convs.iter().zip(&WIDTHS).enumerate() {
            for layer in 0..count {
                // The first resolution's two convs are the stem [0,0] and [1,0]; each later
                // resolution is one stage.
                let id = match resolution {
                    0 => UnitId::new(layer, 0),
                    _ => UnitId::new(resolution + 1, layer),
                };
                let stride = if resolution > 0 && layer == 0 { 2 } else { 1 };
                units.push(UnitSpec { id, kind: UnitKind::VggConv, in_channels: c_in, out_channels: width, stride, mid_channels: width });
                c_in = width;
            }
        }
        Ok(Vgg { depth, num_classes, input_size, units })
    }
}

impl UnitNetwork for Vgg {
    fn name(&self) -> String {
        format!("vgg{}", self.depth)
    }

    fn units(&self) -> &[UnitSpec] {
        &self.units
    }

    fn input_size(&self) -> i64 {
        self.input_size
    }

    fn num_classes(&self) -> i64 {
        self.num_classes
    }

    /// torchvision's classifier, after the fifth max-pool.
    fn build_head(&self, p: nn::Path, mode: InitMode) -> Box<dyn ModuleT> {
        let c = self.units.last().expect("a network has units").out_channels;
        Box::new(Classifier::new(p, c, self.num_classes, mode))
    }
}

/// A conv3x3-BN-ReLU layer, after a 2x2 max-pool when its stride is 2.
#[derive(Debug)]
pub struct VggConv {
    pool: bool,
    conv: nn::Conv2D,
    bn: nn::BatchNorm,
}

impl VggConv {
    pub fn new(p: nn::Path, c_in: i64, c_out: i64, stride: i64, mode: InitMode) -> Self {
        VggConv { pool: stride == 2, conv: conv(&p / "conv", c_in, c_out, mode), bn: init::batch_norm2d(&p / "bn", c_out, mode) }
    }
}

impl ModuleT for VggConv {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let xs = if self.pool { max_pool(xs) } else { xs.shallow_clone() };
        xs.apply(&self.conv).apply_t(&self.bn, train).relu()
    }
}

/// Max-pool, adaptive average pool to 7x7, and three linear layers with ReLU and dropout.
#[derive(Debug)]
struct Classifier {
    fc1: nn::Linear,
    fc2: nn::Linear,
    fc3: nn::Linear,
}

impl Classifier {
    /// torchvision draws these N(0, 0.01²) with bias 0; `init::linear` keeps `nn.Linear`'s
    /// default instead, one rule for every classifier here.
    fn new(p: nn::Path, c_in: i64, num_classes: i64, mode: InitMode) -> Self {
        Classifier {
            fc1: init::linear(&p / "fc1", c_in * POOLED_SIDE * POOLED_SIDE, HIDDEN, mode),
            fc2: init::linear(&p / "fc2", HIDDEN, HIDDEN, mode),
            fc3: init::linear(&p / "fc3", HIDDEN, num_classes, mode),
        }
    }
}

impl ModuleT for Classifier {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        max_pool(xs)
            .adaptive_avg_pool2d([POOLED_SIDE, POOLED_SIDE])
            .flatten(1, -1)
            .apply(&self.fc1)
            .relu()
            .dropout(DROPOUT, train)
            .apply(&self.fc2)
            .relu()
            .dropout(DROPOUT, train)
            .apply(&self.fc3)
    }
}
