//! The detector's layers: RetinaNet's class and box subnets (shared over pyramid levels),
//! a feature pyramid (Lin et al. 2017, FPN) over the backbone's last three stages, the real
//! head that combines them, and the one-level detection head every aux net ends in.

use tch::nn;
use tch::{Kind, Tensor};

use super::anchors;
use super::loss::detection_loss;
use super::DetectorConfig;
use glcan_core::aux::task_head::TaskHead;
use glcan_core::aux::LocalTargets;
use glcan_core::models::fpn;
use glcan_core::models::init::{self, ConvRule, InitMode};
use glcan_core::train::NetworkHead;

/// Class prior of the class subnet's bias at initialisation (RetinaNet's pi = 0.01): the
/// focal loss starts from "background everywhere" instead of drowning in easy negatives.
const PRIOR: f64 = 0.01;

/// A subnet conv as RetinaNet's code starts it: N(0, 0.01²) weights, constant bias.
fn conv3x3(p: nn::Path, c_in: i64, c_out: i64, bias: f64, mode: InitMode) -> nn::Conv2D {
    init::conv2d(p, c_in, c_out, 3, nn::ConvConfig { padding: 1, ..Default::default() }, ConvRule::RetinaHead { bias }, mode)
}

/// conv3x3 + ReLU layers, then a conv3x3 to `out` channels.
#[derive(Debug)]
struct Subnet {
    convs: Vec<nn::Conv2D>,
    out: nn::Conv2D,
}

impl Subnet {
    fn new(p: nn::Path, c_in: i64, width: i64, layers: usize, out: i64, out_bias: f64, mode: InitMode) -> Self {
        let convs = (0..layers).map(|i| conv3x3(&p / i, if i == 0 { c_in } else { width }, width, 0.0, mode)).collect();
        let last_in = if layers == 0 { c_in } else { width };
        Subnet { convs, out: conv3x3(&p / "out", last_in, out, out_bias, mode) }
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        self.convs.iter().fold(x.shallow_clone(), |h, conv| h.apply(conv).relu()).apply(&self.out)
    }
}

/// RetinaNet's class and box subnets for `anchors_per_cell` anchors.
#[derive(Debug)]
pub struct RetinaSubnets {
    class: Subnet,
    boxes: Subnet,
    num_classes: i64,
    anchors_per_cell: i64,
}

impl RetinaSubnets {
    pub fn new(p: nn::Path, c_in: i64, width: i64, layers: usize, num_classes: i64, anchors_per_cell: i64, mode: InitMode) -> Self {
        let prior_bias = -((1.0 - PRIOR) / PRIOR).ln();
        RetinaSubnets {
            class: Subnet::new(&p / "class", c_in, width, layers, anchors_per_cell * num_classes, prior_bias, mode),
            boxes: Subnet::new(&p / "box", c_in, width, layers, anchors_per_cell * 4, 0.0, mode),
            num_classes,
            anchors_per_cell,
        }
    }

    /// Class logits `[B, H*W*A, C]` and box deltas `[B, H*W*A, 4]` of one level, in the
    /// anchor order of [`anchors::grid`].
    pub fn forward(&self, x: &Tensor) -> (Tensor, Tensor) {
        let flat = |t: Tensor, per_anchor: i64| {
            let size = t.size();
            t.view([size[0], self.anchors_per_cell, per_anchor, size[2], size[3]])
                .permute([0, 3, 4, 1, 2])
                .reshape([size[0], -1, per_anchor])
        };
        (flat(self.class.forward(x), self.num_classes), flat(self.boxes.forward(x), 4))
    }
}

/// The real head: FPN over C3-C5 and the shared subnets on P3-P5. Its output `[B, N, C + 8]`
/// holds, per anchor, the C class logits, the 4 box deltas and the anchor itself, so that
/// whoever decodes it needs nothing else.
#[derive(Debug)]
pub struct RetinaNetHead {
    laterals: Vec<nn::Conv2D>,
    smooth: Vec<nn::Conv2D>,
    subnets: RetinaSubnets,
    /// Stride of each pyramid level, finest first.
    strides: Vec<i64>,
    config: DetectorConfig,
}

impl RetinaNetHead {
    /// `channels`: of C3, C4, C5 (finest first); `strides`: theirs. The pyramid's convs start
    /// as torchvision's FPN starts them ([`ConvRule::Fpn`]), the subnets as RetinaNet's.
    pub fn new(p: nn::Path, channels: &[i64], strides: &[i64], num_classes: i64, config: &DetectorConfig, mode: InitMode) -> Self {
        let width = config.fpn_width;
        let fpn_conv = |p: nn::Path, c_in: i64, kernel: i64| {
            init::conv2d(p, c_in, width, kernel, nn::ConvConfig { padding: kernel / 2, ..Default::default() }, ConvRule::Fpn, mode)
        };
        let laterals = channels.iter().enumerate().map(|(i, &c)| fpn_conv(&p / "lateral" / i, c, 1)).collect();
        let smooth = (0..channels.len()).map(|i| fpn_conv(&p / "smooth" / i, width, 3)).collect();
        let per_cell = anchors::per_cell(&anchors::level_sizes(config.anchor_scale, 1));
        RetinaNetHead {
            laterals,
            smooth,
            subnets: RetinaSubnets::new(&p / "subnets", width, width, config.head_convs, num_classes, per_cell, mode),
            strides: strides.to_vec(),
            config: config.clone(),
        }
    }
}

impl NetworkHead for RetinaNetHead {
    fn forward(&self, features: &[Tensor], _train: bool) -> Tensor {
        let pyramid = fpn::top_down(features, &self.laterals);
        let batch = features[0].size()[0];
        let (mut logits, mut deltas, mut anchor_sets) = (Vec::new(), Vec::new(), Vec::new());
        for ((p, smooth), &stride) in pyramid.iter().zip(&self.smooth).zip(&self.strides) {
            let p = p.apply(smooth);
            let (l, d) = self.subnets.forward(&p);
            let size = p.size();
            anchor_sets.push(anchors::grid(size[2], size[3], stride, &anchors::level_sizes(self.config.anchor_scale, stride), p.device()));
            logits.push(l);
            deltas.push(d);
        }
        let anchors = Tensor::cat(&anchor_sets, 0).unsqueeze(0).expand([batch, -1, 4], false);
        Tensor::cat(&[Tensor::cat(&logits, 1), Tensor::cat(&deltas, 1), anchors.to_kind(logits[0].kind())], 2)
    }

    fn loss(&self, output: &Tensor, targets: &LocalTargets) -> Tensor {
        let c = output.size()[2] - 8;
        let anchors = output.get(0).narrow(1, c + 4, 4).detach();
        detection_loss(&output.narrow(2, 0, c), &output.narrow(2, c, 4), &anchors, targets.target, &self.config.loss).to_kind(Kind::Float)
    }
}

/// The detection head an aux net ends in: the subnets at the module's one level, with
/// anchors of every pyramid level's base size so that it sees objects of all sizes. Its
/// stride comes from the image and feature sizes; features finer than the pyramid's finest
/// level (a module ending before C3) are average-pooled to that level first, as the
/// pyramid has no finer level to put a head on.
#[derive(Debug)]
pub struct AuxDetectionHead {
    subnets: RetinaSubnets,
    sizes: Vec<f64>,
    min_stride: i64,
    config: DetectorConfig,
}

impl AuxDetectionHead {
    /// `sizes`: the anchor sizes (one per scale); `min_stride`: of the finest pyramid level.
    pub fn new(
        p: nn::Path,
        channels: i64,
        num_classes: i64,
        sizes: Vec<f64>,
        min_stride: i64,
        config: &DetectorConfig,
        mode: InitMode,
    ) -> Self {
        let per_cell = anchors::per_cell(&sizes);
        let subnets = RetinaSubnets::new(p, channels, config.fpn_width, config.aux_head_convs, num_classes, per_cell, mode);
        AuxDetectionHead { subnets, sizes, min_stride, config: config.clone() }
    }
}

impl TaskHead for AuxDetectionHead {
    fn loss(&self, features: &Tensor, targets: &LocalTargets, _train: bool) -> Tensor {
        let image = targets.images.size();
        let stride = ((image[2] as f64 / features.size()[2] as f64).round() as i64).max(1);
        let features = if stride < self.min_stride {
            let factor = self.min_stride / stride;
            features.avg_pool2d([factor, factor], [factor, factor], [0, 0], true, true, None::<i64>)
        } else {
            features.shallow_clone()
        };
        let stride = stride.max(self.min_stride);
        let size = features.size();
        let anchors = anchors::grid(size[2], size[3], stride, &self.sizes, features.device());
        let (logits, deltas) = self.subnets.forward(&features);
        detection_loss(&logits, &deltas, &anchors, targets.target, &self.config.loss).to_kind(Kind::Float)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    #[test]
    fn an_aux_head_below_the_finest_level_pools_up_to_it_and_trains() {
        let vs = nn::VarStore::new(Device::Cpu);
        let config = DetectorConfig::default();
        let head = AuxDetectionHead::new(vs.root(), 4, 3, vec![16.0, 32.0, 64.0], 8, &config, InitMode::Reference);
        let images = Tensor::zeros([2, 3, 64, 64], (Kind::Float, Device::Cpu));
        // Stride 4 features: a grid of 16x16 pooled to 8x8 (stride 8).
        let features = Tensor::randn([2, 4, 16, 16], (Kind::Float, Device::Cpu)).set_requires_grad(true);
        let target = Tensor::from_slice(&[8.0f32, 8.0, 40.0, 30.0, 2.0, 0.0, 0.0, 0.0, 0.0, -1.0]).view([2, 1, 5]);
        let loss = head.loss(&features, &LocalTargets { images: &images, raw_images: &images, target: &target }, true);
        assert!(loss.double_value(&[]).is_finite());
        loss.backward();
        assert!(features.grad().abs().sum(Kind::Float).double_value(&[]) > 0.0);
        // Its anchors: 8x8 cells x 9 at stride 8, as the output of the class subnet says.
        let pooled = features.avg_pool2d([2, 2], [2, 2], [0, 0], true, true, None::<i64>);
        assert_eq!(head.subnets.forward(&pooled).0.size(), [2, 8 * 8 * 9, 3]);
    }
}
