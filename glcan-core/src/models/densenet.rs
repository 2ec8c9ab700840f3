//! DenseNet-BC for CIFAR, from "Densely Connected Convolutional Networks", Gao Huang,
//! Zhuang Liu, Laurens van der Maaten and Kilian Q. Weinberger, CVPR 2017
//! (<https://arxiv.org/abs/1608.06993>), Section 3 and Table 2: the BC variant (bottleneck
//! layers and compression 0.5) at depth 100 and growth rate k = 12 (DenseNet-BC-100-12,
//! 0.8 M parameters), as the authors' CIFAR code builds it.
//!
//! ```text
//! conv3x3 (C→2k) ─ block 1 ─ transition ─ block 2 ─ transition ─ block 3 ─ BN ─ ReLU ─ GAP ─ FC
//! block    = 16 dense layers; layer = [BN ─ ReLU ─ conv1x1 (→4k) ─ BN ─ ReLU ─ conv3x3 (→k)], concatenated to its input
//! transition = BN ─ ReLU ─ conv1x1 (c → c/2) ─ avg-pool 2x2/2
//! ```
//! Widths: 24 after the stem, 216 after block 1, 108 + 192 = 300 after block 2, 150 + 192 =
//! 342 after block 3. No dropout (the paper uses 0.2 only without augmentation).
//!
//! **Units.** Every dense layer and every transition is a unit, so a split may fall after
//! any of them: `[0,0]` the stem; `[1,0..15]` block 1; stage 2 opens with the first
//! transition `[2,0]` (the down-sampling unit, as a ResNet stage opens with its stride-2
//! block) followed by block 2 `[2,1..16]`; stage 3 likewise. 51 units in all. Each spec
//! holds the channels after the unit, so an aux net attached at any cut knows its input.
//! The final BN + ReLU belong to the head, as in the pre-activation design.
//!
//! A width-scaled copy of a dense layer (GLCAN's reduced global branch) may be asked for
//! fewer output channels than it receives; it then outputs its new features alone, at the
//! width asked, instead of concatenating them to its input.

use tch::nn::{self, ModuleT};
use tch::Tensor;

use super::blocks::PreActHead;
use super::init::{self, ConvRule, InitMode};
use super::{UnitId, UnitKind, UnitNetwork, UnitSpec};
use crate::{Error, Result};

/// The hyper-parameters of DenseNet-BC-100-12.
const DEPTH: usize = 100;
const GROWTH: i64 = 12;
/// Dense layers per block: (depth - 4) / 6 for the BC variant (two convolutions a layer).
const LAYERS_PER_BLOCK: usize = (DEPTH - 4) / 6;
const BLOCKS: usize = 3;
/// The bottleneck's width is 4k.
const BOTTLENECK: i64 = 4;

/// A bias-free convolution, started as torchvision's DenseNet starts its own.
fn conv(p: nn::Path, c_in: i64, c_out: i64, kernel: i64, mode: InitMode) -> nn::Conv2D {
    let config = nn::ConvConfig { padding: kernel / 2, bias: false, ..Default::default() };
    init::conv2d(p, c_in, c_out, kernel, config, ConvRule::DenseNet, mode)
}

/// DenseNet-BC-100-12 described unit by unit.
#[derive(Debug, Clone)]
pub struct DenseNetBc {
    num_classes: i64,
    input_size: i64,
    units: Vec<UnitSpec>,
}

impl DenseNetBc {
    /// DenseNet-BC-100-12 for `in_channels`-channel images of `input_size` pixels.
    pub fn new(in_channels: i64, num_classes: i64, input_size: i64) -> Result<Self> {
        for (field, value) in [("in_channels", in_channels), ("num_classes", num_classes), ("input_size", input_size)] {
            if value < 1 {
                return Err(Error::config(format!("network.{field}"), format!("must be positive, got {value}")));
            }
        }
        let mut c = 2 * GROWTH;
        let mut units =
            vec![UnitSpec { id: UnitId::new(0, 0), kind: UnitKind::PreActStem, in_channels, out_channels: c, stride: 1, mid_channels: c }];
        for block in 0..BLOCKS {
            let stage = block + 1;
            let mut index = 0;
            if block > 0 {
                let out = c / 2; // compression 0.5, rounded down as the paper's code does
                units.push(UnitSpec {
                    id: UnitId::new(stage, 0),
                    kind: UnitKind::DenseTransition,
                    in_channels: c,
                    out_channels: out,
                    stride: 2,
                    mid_channels: out,
                });
                c = out;
                index = 1;
            }
            for layer in 0..LAYERS_PER_BLOCK {
                units.push(UnitSpec {
                    id: UnitId::new(stage, index + layer),
                    kind: UnitKind::DenseLayer,
                    in_channels: c,
                    out_channels: c + GROWTH,
                    stride: 1,
                    mid_channels: BOTTLENECK * GROWTH,
                });
                c += GROWTH;
            }
        }
        Ok(DenseNetBc { num_classes, input_size, units })
    }
}

impl UnitNetwork for DenseNetBc {
    fn name(&self) -> String {
        "densenet-bc-100".to_owned()
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

    /// BN + ReLU (the last dense layer's output is not normalised), GAP, linear.
    fn build_head(&self, p: nn::Path, mode: InitMode) -> Box<dyn ModuleT> {
        let c = self.units.last().expect("a network has units").out_channels;
        Box::new(PreActHead::new(p, c, self.num_classes, mode))
    }
}

/// A bottleneck dense layer: BN-ReLU-conv1x1 to `mid` channels, BN-ReLU-conv3x3 to the
/// new features, concatenated to the input.
#[derive(Debug)]
pub struct DenseLayer {
    bn1: nn::BatchNorm,
    conv1: nn::Conv2D,
    bn2: nn::BatchNorm,
    conv2: nn::Conv2D,
    /// Whether the output is the input with the new features after it (always in the real
    /// network); a narrowed copy outputs the new features only.
    concatenate: bool,
}

impl DenseLayer {
    pub fn new(p: nn::Path, c_in: i64, c_mid: i64, c_out: i64, mode: InitMode) -> Self {
        let concatenate = c_out > c_in;
        let new_features = if concatenate { c_out - c_in } else { c_out };
        DenseLayer {
            bn1: init::batch_norm2d(&p / "norm1", c_in, mode),
            conv1: conv(&p / "conv1", c_in, c_mid, 1, mode),
            bn2: init::batch_norm2d(&p / "norm2", c_mid, mode),
            conv2: conv(&p / "conv2", c_mid, new_features, 3, mode),
            concatenate,
        }
    }
}

impl ModuleT for DenseLayer {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let ys = xs.apply_t(&self.bn1, train).relu().apply(&self.conv1).apply_t(&self.bn2, train).relu().apply(&self.conv2);
        if self.concatenate {
            Tensor::cat(&[xs, &ys], 1)
        } else {
            ys
        }
    }
}

/// BN-ReLU-conv1x1 then a 2x2 average pool, stride 2.
#[derive(Debug)]
pub struct Transition {
    bn: nn::BatchNorm,
    conv: nn::Conv2D,
}

impl Transition {
    pub fn new(p: nn::Path, c_in: i64, c_out: i64, mode: InitMode) -> Self {
        Transition { bn: init::batch_norm2d(&p / "norm", c_in, mode), conv: conv(&p / "conv", c_in, c_out, 1, mode) }
    }
}

impl ModuleT for Transition {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        // ceil_mode: an odd side rounds up, as `UnitNetwork::resolution_after` counts.
        xs.apply_t(&self.bn, train).relu().apply(&self.conv).avg_pool2d([2, 2], [2, 2], [0, 0], true, true, None::<i64>)
    }
}
