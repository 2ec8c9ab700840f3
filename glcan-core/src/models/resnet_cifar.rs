//! CIFAR-style ResNet-n, n = 6m + 2 (ResNet-20/32/56/110), from "Deep Residual Learning
//! for Image Recognition", He et al. 2016, §4.2 (<https://arxiv.org/abs/1512.03385>): a 3x3
//! stem, then three stages of m BasicBlocks at widths 16/32/64 (stride 2 entering stages 2
//! and 3), global average pooling and a linear classifier. This is the network of the
//! InfoPro paper's CIFAR-10 tables. Shortcuts that change shape use a 1x1 projection.

use super::{UnitId, UnitKind, UnitNetwork, UnitSpec};
use crate::{Error, Result};

/// A CIFAR ResNet described unit by unit.
#[derive(Debug, Clone)]
pub struct ResNetCifar {
    depth: usize,
    in_channels: i64,
    num_classes: i64,
    input_size: i64,
    units: Vec<UnitSpec>,
}

/// The stage widths of the paper.
pub const CIFAR_WIDTHS: [i64; 3] = [16, 32, 64];

impl ResNetCifar {
    /// ResNet-`depth` for `in_channels`-channel images of `input_size` pixels (28 for the
    /// MNISTs, 32 for CIFAR/SVHN, 96 for STL-10). `depth` must be 6m + 2 with m >= 1.
    pub fn new(depth: usize, in_channels: i64, num_classes: i64, input_size: i64) -> Result<Self> {
        if depth < 8 || !(depth - 2).is_multiple_of(6) {
            return Err(Error::config("network.depth", format!("a CIFAR ResNet has 6m + 2 layers (20, 32, 56, 110, ...), not {depth}")));
        }
        for (field, value) in [("in_channels", in_channels), ("num_classes", num_classes), ("input_size", input_size)] {
            if value < 1 {
                return Err(Error::config(format!("network.{field}"), format!("must be positive, got {value}")));
            }
        }
        let blocks_per_stage = (depth - 2) / 6;
        let mut units = vec![UnitSpec {
            id: UnitId::new(0, 0),
            kind: UnitKind::CifarStem,
            in_channels,
            out_channels: CIFAR_WIDTHS[0],
            stride: 1,
            mid_channels: CIFAR_WIDTHS[0],
        }];
        let mut c_in = CIFAR_WIDTHS[0];
        for (stage, &width) in CIFAR_WIDTHS.iter().enumerate() {
            for index in 0..blocks_per_stage {
                let stride = if stage > 0 && index == 0 { 2 } else { 1 };
                units.push(UnitSpec {
                    id: UnitId::new(stage + 1, index),
                    kind: UnitKind::Basic,
                    in_channels: c_in,
                    out_channels: width,
                    stride,
                    mid_channels: width,
                });
                c_in = width;
            }
        }
        Ok(ResNetCifar { depth, in_channels, num_classes, input_size, units })
    }

    pub fn depth(&self) -> usize {
        self.depth
    }

    pub fn in_channels(&self) -> i64 {
        self.in_channels
    }
}

impl UnitNetwork for ResNetCifar {
    fn name(&self) -> String {
        format!("resnet{}", self.depth)
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::Chain;
    use tch::{nn, Device, Kind, Tensor};

    #[test]
    fn unit_counts_follow_6m_plus_2() {
        for (depth, units) in [(20, 1 + 9), (32, 1 + 15), (56, 1 + 27), (110, 1 + 54)] {
            assert_eq!(ResNetCifar::new(depth, 3, 10, 32).unwrap().units().len(), units);
        }
        let net = ResNetCifar::new(32, 3, 10, 32).unwrap();
        assert_eq!(net.units()[6].id, UnitId::new(2, 0));
        assert_eq!(net.units()[6].stride, 2);
        assert_eq!(net.resolution_after(15), 8);
    }

    #[test]
    fn bad_depths_are_rejected_by_name() {
        for depth in [0, 7, 33] {
            let message = ResNetCifar::new(depth, 3, 10, 32).unwrap_err().to_string();
            assert!(message.contains("network.depth") && message.contains(&depth.to_string()), "{message}");
        }
        assert!(ResNetCifar::new(20, 0, 10, 32).is_err());
    }

    #[test]
    fn forward_shapes_for_one_and_three_channels() {
        tch::manual_seed(0);
        for (channels, size) in [(1, 28), (3, 32)] {
            let vs = nn::VarStore::new(Device::Cpu);
            let net = ResNetCifar::new(20, channels, 10, size).unwrap();
            let model = Chain::build(&net, vs.root(), crate::models::InitMode::Reference);
            let xs = Tensor::randn([2, channels, size, size], (Kind::Float, Device::Cpu));
            let logits = model.forward(&xs, true);
            assert_eq!(logits.size(), [2, 10]);
            assert!(bool::try_from(logits.isfinite().all()).unwrap());
        }
    }
}
