//! Networks as chains of cuttable *units* followed by a head.
//!
//! Local learning cuts a network between units, so every model here describes itself as a
//! list of [`UnitSpec`]s (stem, then blocks or layers stage by stage) that can be built one
//! by one under any `nn::Path`: the trainer puts the units of each local module in that
//! module's own variable store, and GLCAN's global branch builds copies of later units.

pub mod blocks;
pub mod densenet;
pub mod edsr;
pub mod fpn;
pub mod init;
pub mod registry;
pub mod resnet_cifar;
pub mod resnet_imagenet;
pub mod vgg;
pub mod wide_resnet;

use tch::nn::{self, ModuleT};

pub use densenet::DenseNetBc;
pub use edsr::Edsr;
pub use init::InitMode;
pub use registry::NetworkName;
pub use resnet_cifar::ResNetCifar;
pub use resnet_imagenet::ResNetImageNet;
pub use vgg::Vgg;
pub use wide_resnet::WideResNet;

/// Where a unit sits: stage 0 is the stem (one unit); stages 1.. hold the residual blocks
/// (or dense layers, or conv layers), numbered from 0 inside their stage. InfoPro's split point `[s, u]` names the unit after
/// which a local module ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct UnitId {
    pub stage: usize,
    pub index: usize,
}

impl UnitId {
    pub const fn new(stage: usize, index: usize) -> Self {
        UnitId { stage, index }
    }
}

impl std::fmt::Display for UnitId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{},{}]", self.stage, self.index)
    }
}

/// What kind of layer stack a unit is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum UnitKind {
    /// CIFAR stem: conv3x3 + BN + ReLU.
    CifarStem,
    /// ImageNet stem: conv7x7/2 + BN + ReLU + max-pool 3x3/2.
    ImageNetStem,
    /// Two 3x3 convolutions with a residual connection (ResNet-18/34 and CIFAR ResNets).
    Basic,
    /// 1x1, 3x3, 1x1 (x4 expansion) with a residual connection (ResNet-50 and deeper).
    Bottleneck,
    /// conv3x3 alone: the stem of the pre-activation networks (WRN, DenseNet-BC).
    PreActStem,
    /// BN-ReLU-conv3x3, BN-ReLU-(dropout)-conv3x3, residual connection (wide ResNets).
    WideBasic,
    /// BN-ReLU-conv1x1 (to `mid_channels`), BN-ReLU-conv3x3, concatenated to the input
    /// (DenseNet-BC); it adds `out_channels - in_channels` channels.
    DenseLayer,
    /// BN-ReLU-conv1x1, 2x2 average pool (DenseNet-BC, between dense blocks).
    DenseTransition,
    /// conv3x3-BN-ReLU, after a 2x2 max-pool when the stride is 2 (VGG with BN).
    VggConv,
}

/// Everything needed to build one unit, and the shape of its output.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct UnitSpec {
    pub id: UnitId,
    pub kind: UnitKind,
    pub in_channels: i64,
    pub out_channels: i64,
    /// Spatial stride of this unit alone (4 for the ImageNet stem: conv/2 then pool/2).
    pub stride: i64,
    /// Inner width of a bottleneck (`out_channels / 4`; a dense layer's: 4 x growth);
    /// equal to `out_channels` otherwise.
    pub mid_channels: i64,
}

impl UnitSpec {
    /// The same unit with every width multiplied by `factor` (at least 1 channel): GLCAN's
    /// reduced-width global branch.
    pub fn scaled(&self, factor: f64) -> UnitSpec {
        let scale = |c: i64| ((c as f64 * factor).round() as i64).max(1);
        UnitSpec {
            in_channels: scale(self.in_channels),
            out_channels: scale(self.out_channels),
            mid_channels: scale(self.mid_channels),
            ..*self
        }
    }

    /// The unit fed by `in_channels` channels instead (to chain scaled units).
    pub fn with_input(&self, in_channels: i64) -> UnitSpec {
        UnitSpec { in_channels, ..*self }
    }
}

/// A network made of units and a classification head.
pub trait UnitNetwork: Send + Sync {
    /// A short name, e.g. `resnet32`.
    fn name(&self) -> String;

    /// The units in forward order.
    fn units(&self) -> &[UnitSpec];

    /// Input size in pixels that the stride bookkeeping assumes (e.g. 32 for CIFAR).
    fn input_size(&self) -> i64;

    /// Number of classes of the head.
    fn num_classes(&self) -> i64;

    /// Builds one unit (possibly a scaled copy of one of [`Self::units`]) under `p`, its
    /// parameters started as `mode` says ([`init`]).
    fn build_unit(&self, p: nn::Path, spec: &UnitSpec, mode: InitMode) -> Box<dyn ModuleT> {
        build_unit(p, spec, mode)
    }

    /// Builds the real task head on top of the last unit: global average pool + linear.
    fn build_head(&self, p: nn::Path, mode: InitMode) -> Box<dyn ModuleT> {
        let last = self.units().last().expect("a network has units");
        Box::new(blocks::ClassifierHead::new(p, last.out_channels, self.num_classes(), mode))
    }

    /// Output resolution (pixels per side) after unit `position` (index into [`Self::units`]).
    fn resolution_after(&self, position: usize) -> i64 {
        // Every stride here comes from padded convolutions/pools: out = ceil(in / stride).
        self.units()[..=position].iter().fold(self.input_size(), |size, unit| (size + unit.stride - 1) / unit.stride)
    }

    /// Index into [`Self::units`] of the unit with this id.
    fn position_of(&self, id: UnitId) -> Option<usize> {
        self.units().iter().position(|u| u.id == id)
    }
}

/// Builds the unit that `spec` describes, by its kind, started as `mode` says.
pub fn build_unit(p: nn::Path, spec: &UnitSpec, mode: InitMode) -> Box<dyn ModuleT> {
    let (c_in, c_out, stride) = (spec.in_channels, spec.out_channels, spec.stride);
    match spec.kind {
        UnitKind::CifarStem => Box::new(blocks::Stem::cifar(p, c_in, c_out, mode)),
        UnitKind::ImageNetStem => Box::new(blocks::Stem::imagenet(p, c_in, c_out, mode)),
        UnitKind::PreActStem => Box::new(blocks::Stem::pre_activation(p, c_in, c_out, mode)),
        UnitKind::Basic => Box::new(blocks::BasicBlock::new(p, c_in, c_out, stride, mode)),
        UnitKind::Bottleneck => Box::new(blocks::Bottleneck::new(p, c_in, spec.mid_channels, c_out, stride, mode)),
        UnitKind::WideBasic => Box::new(wide_resnet::WideBasic::new(p, c_in, c_out, stride, 0.0, mode)),
        UnitKind::DenseLayer => Box::new(densenet::DenseLayer::new(p, c_in, spec.mid_channels, c_out, mode)),
        UnitKind::DenseTransition => Box::new(densenet::Transition::new(p, c_in, c_out, mode)),
        UnitKind::VggConv => Box::new(vgg::VggConv::new(p, c_in, c_out, stride, mode)),
    }
}

/// A whole network built in one variable store: all units, then the head. This is the
/// end-to-end model, and what the smoke tests run.
#[derive(Debug)]
pub struct Chain {
    units: Vec<Box<dyn ModuleT>>,
    head: Box<dyn ModuleT>,
}

impl Chain {
    /// Units under `p / "units" / i`, the head under `p / "head"`, started as `mode` says.
    pub fn build(network: &dyn UnitNetwork, p: nn::Path, mode: InitMode) -> Self {
        let units = network.units().iter().enumerate().map(|(i, spec)| network.build_unit(&p / "units" / i, spec, mode)).collect();
        Chain { units, head: network.build_head(&p / "head", mode) }
    }

    /// Logits for a batch of images.
    pub fn forward(&self, xs: &tch::Tensor, train: bool) -> tch::Tensor {
        let features = self.units.iter().fold(xs.shallow_clone(), |h, unit| unit.forward_t(&h, train));
        self.head.forward_t(&features, train)
    }
}
