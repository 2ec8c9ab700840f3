//! WRN-28-10 for CIFAR, from "Wide Residual Networks", Sergey Zagoruyko and Nikos
//! Komodakis, BMVC 2016 (<https://arxiv.org/abs/1605.07146>), Table 1 and Section 2, as the
//! authors' code builds it: a conv3x3 stem (16 channels), three stages of (28 - 4) / 6 = 4
//! pre-activation wide basic blocks at widths 16k, 32k, 64k with k = 10 (160, 320, 640;
//! stride 2 entering stages 2 and 3), then BN, ReLU, global average pool and a linear
//! classifier: 36.5 M parameters.
//!
//! A wide basic block is `BN ─ ReLU ─ conv3x3 (stride) ─ BN ─ ReLU ─ dropout ─ conv3x3`, added to
//! the input; where the shape changes, the shortcut is a 1x1 convolution of the
//! pre-activated input (BN ─ ReLU applied once, shared by both paths). Dropout is off by
//! default (the paper's CIFAR rows are given with and without 0.3).
//!
//! **Units.** `[0,0]` the stem, `[s,0..3]` the blocks of stage s: 13 units. The final BN +
//! ReLU belong to the head, as in the pre-activation design.

use tch::nn::{self, ModuleT};
use tch::Tensor;

use super::blocks::PreActHead;
use super::init::{self, ConvRule, InitMode};
use super::{UnitId, UnitKind, UnitNetwork, UnitSpec};
use crate::{Error, Result};

/// Width of the stem, and of stage 1 before widening.
const BASE_WIDTH: i64 = 16;

/// A bias-free convolution; the wide ResNets' code draws N(0, 2/fan_out) as the ResNets'.
fn conv(p: nn::Path, c_in: i64, c_out: i64, kernel: i64, stride: i64, mode: InitMode) -> nn::Conv2D {
    let config = nn::ConvConfig { stride, padding: kernel / 2, bias: false, ..Default::default() };
    init::conv2d(p, c_in, c_out, kernel, config, ConvRule::ResNet, mode)
}

/// A wide ResNet described unit by unit.
#[derive(Debug, Clone)]
pub struct WideResNet {
    depth: usize,
    widen: i64,
    /// Dropout probability between a block's two convolutions.
    dropout: f64,
    num_classes: i64,
    input_size: i64,
    units: Vec<UnitSpec>,
}

impl WideResNet {
    /// WRN-`depth`-`widen` (depth = 6n + 4) for `in_channels`-channel images of
    /// `input_size` pixels, without dropout.
    pub fn new(depth: usize, widen: i64, in_channels: i64, num_classes: i64, input_size: i64) -> Result<Self> {
        if depth < 10 || !(depth - 4).is_multiple_of(6) {
            return Err(Error::config("network.depth", format!("a wide ResNet has 6n + 4 layers (16, 22, 28, 40, ...), not {depth}")));
        }
        for (field, value) in [("widen", widen), ("in_channels", in_channels), ("num_classes", num_classes), ("input_size", input_size)] {
            if value < 1 {
                return Err(Error::config(format!("network.{field}"), format!("must be positive, got {value}")));
            }
        }
        let blocks_per_stage = (depth - 4) / 6;
        let mut units = vec![UnitSpec {
            id: UnitId::new(0, 0),
            kind: UnitKind::PreActStem,
            in_channels,
            out_channels: BASE_WIDTH,
            stride: 1,
            mid_channels: BASE_WIDTH,
        }];
        let mut c_in = BASE_WIDTH;
        for stage in 0..3 {
            let width = BASE_WIDTH * widen * (1 << stage);
            for index in 0..blocks_per_stage {
                let stride = if stage > 0 && index == 0 { 2 } else { 1 };
                units.push(UnitSpec {
                    id: UnitId::new(stage + 1, index),
                    kind: UnitKind::WideBasic,
                    in_channels: c_in,
                    out_channels: width,
                    stride,
                    mid_channels: width,
                });
                c_in = width;
            }
        }
        Ok(WideResNet { depth, widen, dropout: 0.0, num_classes, input_size, units })
    }

    /// The same network with dropout `p` between each block's convolutions (0.3 in the
    /// paper's dropout rows).
    pub fn with_dropout(self, p: f64) -> Result<Self> {
        if !(0.0..1.0).contains(&p) {
            return Err(Error::config("network.dropout", format!("must be in [0, 1), got {p}")));
        }
        Ok(WideResNet { dropout: p, ..self })
    }
}

impl UnitNetwork for WideResNet {
    fn name(&self) -> String {
        format!("wrn-{}-{}", self.depth, self.widen)
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

    /// The stem, or a block with this network's dropout.
    fn build_unit(&self, p: nn::Path, spec: &UnitSpec, mode: InitMode) -> Box<dyn ModuleT> {
        match spec.kind {
            UnitKind::WideBasic => Box::new(WideBasic::new(p, spec.in_channels, spec.out_channels, spec.stride, self.dropout, mode)),
            _ => super::build_unit(p, spec, mode),
        }
    }

    fn build_head(&self, p: nn::Path, mode: InitMode) -> Box<dyn ModuleT> {
        let c = self.units.last().expect("a network has units").out_channels;
        Box::new(PreActHead::new(p, c, self.num_classes, mode))
    }
}

/// A pre-activation wide basic block.
#[derive(Debug)]
pub struct WideBasic {
    bn1: nn::BatchNorm,
    conv1: nn::Conv2D,
    bn2: nn::BatchNorm,
    conv2: nn::Conv2D,
    /// 1x1 convolution of the pre-activated input when the shape changes.
    shortcut: Option<nn::Conv2D>,
    dropout: f64,
}

impl WideBasic {
    pub fn new(p: nn::Path, c_in: i64, c_out: i64, stride: i64, dropout: f64, mode: InitMode) -> Self {
        WideBasic {
            bn1: init::batch_norm2d(&p / "bn1", c_in, mode),
            conv1: conv(&p / "conv1", c_in, c_out, 3, stride, mode),
            bn2: init::batch_norm2d(&p / "bn2", c_out, mode),
            conv2: conv(&p / "conv2", c_out, c_out, 3, 1, mode),
            shortcut: (stride != 1 || c_in != c_out).then(|| conv(&p / "shortcut", c_in, c_out, 1, stride, mode)),
            dropout,
        }
    }
}

impl ModuleT for WideBasic {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let activated = xs.apply_t(&self.bn1, train).relu();
        let ys = activated.apply(&self.conv1).apply_t(&self.bn2, train).relu().dropout(self.dropout, train).apply(&self.conv2);
        let shortcut = match &self.shortcut {
            Some(projection) => activated.apply(projection),
            None => xs.shallow_clone(),
        };
        ys + shortcut
    }
}
