//! ImageNet-style ResNet-18/34/50/101/152 ("Deep Residual Learning for Image
//! Recognition", He et al. 2016, Table 1, <https://arxiv.org/abs/1512.03385>): a 7x7/2 stem
//! with max-pool, four stages at widths 64/128/256/512 (x4 for bottlenecks), global
//! average pooling and a linear classifier. Used for ImageNet and STL-10 and as the
//! detection backbone.

use super::{UnitId, UnitKind, UnitNetwork, UnitSpec};
use crate::{Error, Result};

/// An ImageNet ResNet described unit by unit.
#[derive(Debug, Clone)]
pub struct ResNetImageNet {
    depth: usize,
    /// Width of the stem and first stage (64 in the paper); later stages double it.
    base_width: i64,
    num_classes: i64,
    input_size: i64,
    units: Vec<UnitSpec>,
}

/// Stage widths relative to the base width (64 in the paper: 64/128/256/512).
const STAGE_MULTIPLIERS: [i64; 4] = [1, 2, 4, 8];

impl ResNetImageNet {
    /// ResNet-`depth`, `depth` in {18, 34, 50, 101, 152}, for 3-channel images of
    /// `input_size` pixels.
    pub fn new(depth: usize, num_classes: i64, input_size: i64) -> Result<Self> {
        Self::with_width(depth, 64, num_classes, input_size)
    }

    /// The same network with every width scaled to `base_width` (stem and first stage;
    /// later stages double it), and also depth 10 (one basic block per stage): the thin
    /// backbones that train a detector on 2 CPU cores.
    pub fn with_width(depth: usize, base_width: i64, num_classes: i64, input_size: i64) -> Result<Self> {
        if base_width < 1 {
            return Err(Error::config("network.width", format!("must be at least 1, got {base_width}")));
        }
        let (blocks, kind) = match depth {
            10 => ([1, 1, 1, 1], UnitKind::Basic),
            18 => ([2, 2, 2, 2], UnitKind::Basic),
            34 => ([3, 4, 6, 3], UnitKind::Basic),
            50 => ([3, 4, 6, 3], UnitKind::Bottleneck),
            101 => ([3, 4, 23, 3], UnitKind::Bottleneck),
            152 => ([3, 8, 36, 3], UnitKind::Bottleneck),
            _ => {
                return Err(Error::config("network.depth", format!("ImageNet ResNets have 10, 18, 34, 50, 101 or 152 layers, not {depth}")))
            }
        };
        if num_classes < 1 || input_size < 1 {
            return Err(Error::config("network", format!("num_classes ({num_classes}) and input_size ({input_size}) must be positive")));
        }
        let expansion = if kind == UnitKind::Bottleneck { 4 } else { 1 };
        let mut units = vec![UnitSpec {
            id: UnitId::new(0, 0),
            kind: UnitKind::ImageNetStem,
            in_channels: 3,
            out_channels: base_width,
            stride: 4,
            mid_channels: base_width,
        }];
        let mut c_in = base_width;
        for (stage, (&count, &multiplier)) in blocks.iter().zip(&STAGE_MULTIPLIERS).enumerate() {
            let width = base_width * multiplier;
            for index in 0..count {
                let stride = if stage > 0 && index == 0 { 2 } else { 1 };
                let out = width * expansion;
                units.push(UnitSpec {
                    id: UnitId::new(stage + 1, index),
                    kind,
                    in_channels: c_in,
                    out_channels: out,
                    stride,
                    mid_channels: width,
                });
                c_in = out;
            }
        }
        Ok(ResNetImageNet { depth, base_width, num_classes, input_size, units })
    }
}

impl UnitNetwork for ResNetImageNet {
    fn name(&self) -> String {
        if self.base_width == 64 {
            format!("resnet{}-imagenet", self.depth)
        } else {
            format!("resnet{}-w{}-imagenet", self.depth, self.base_width)
        }
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
    fn unit_counts_and_widths() {
        for (depth, blocks, out) in [(18, 8, 512), (34, 16, 512), (50, 16, 2048), (101, 33, 2048), (152, 50, 2048)] {
            let net = ResNetImageNet::new(depth, 1000, 224).unwrap();
            assert_eq!(net.units().len(), blocks + 1, "resnet{depth}");
            assert_eq!(net.units().last().unwrap().out_channels, out);
            assert_eq!(net.resolution_after(net.units().len() - 1), 7);
        }
        assert!(ResNetImageNet::new(42, 10, 96).unwrap_err().to_string().contains("42"));
    }

    #[test]
    fn thin_resnet10_has_one_block_per_stage_at_the_given_width() {
        let net = ResNetImageNet::with_width(10, 16, 10, 128).unwrap();
        assert_eq!(net.name(), "resnet10-w16-imagenet");
        let widths: Vec<i64> = net.units().iter().map(|u| u.out_channels).collect();
        assert_eq!(widths, [16, 16, 32, 64, 128]);
        // Strides 4, 4, 8, 16, 32: the detector's C3-C5 are the last three units.
        let sizes: Vec<i64> = (0..5).map(|i| net.resolution_after(i)).collect();
        assert_eq!(sizes, [32, 32, 16, 8, 4]);
        assert!(ResNetImageNet::with_width(18, 0, 10, 128).is_err());
        assert_eq!(ResNetImageNet::new(18, 10, 128).unwrap().name(), "resnet18-imagenet");
    }

    #[test]
    fn forward_shapes_resnet18_and_50() {
        tch::manual_seed(0);
        for depth in [18, 50] {
            let vs = nn::VarStore::new(Device::Cpu);
            let net = ResNetImageNet::new(depth, 10, 64).unwrap();
            let model = Chain::build(&net, vs.root(), crate::models::InitMode::Reference);
            let logits = model.forward(&Tensor::randn([2, 3, 64, 64], (Kind::Float, Device::Cpu)), false);
            assert_eq!(logits.size(), [2, 10]);
            assert!(bool::try_from(logits.isfinite().all()).unwrap());
        }
    }
}
