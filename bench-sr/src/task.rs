//! Super-resolution as a [`Task`] of the one trainer: the real head is EDSR's own up-sampler,
//! tail conv and `add_mean` (the HR image), and every aux net ends in an up-sampler of the
//! same kind that also predicts the HR image. Both are trained with EDSR's L1 loss on the
//! `[0, 255]` scale against the HR batch (`LocalTargets::target`).
//!
//! The aux up-sampler head ([`UpsamplerHead`]) first projects its input (the carried
//! `[features | skip]` tensor of the module, or GLCAN's fused branches) to `n_feats` channels
//! with a 1x1 convolution, then runs a fresh EDSR tail: so "conv head + up-sampler" (the plain
//! local baseline, method `dgl`) and GLCAN (local + global branches fused before the
//! up-sampler) differ only in what comes before this head.
//!
//! [`InputSkip::Bicubic`] (off in EDSR, on in the CPU quick preset) makes every head predict
//! the residual to a bicubic up-scaling of the LR input, as VDSR does: the HR estimate is
//! `up(lr) + tail(features) - mean`. A network that starts at bicubic quality learns in the
//! few hundred steps a 2-core machine affords; EDSR itself needs thousands to get there.

use glcan_core::aux::task_head::{TaskHead, TaskHeadFactory};
use glcan_core::aux::{LocalTargets, Method};
use glcan_core::models::edsr::{conv, EdsrConfig, Tail, DIV2K_RGB_MEAN};
use glcan_core::models::{InitMode, UnitNetwork};
use glcan_core::train::{NetworkHead, Task};
use tch::nn::{self, ModuleT};
use tch::{Device, Kind, Tensor};

/// The methods this task trains: those whose aux nets end in the task's up-sampler head
/// (Greedy SL's and InfoPro's classify, and an HR image has no class).
pub const METHODS: [Method; 3] = Method::TASK_HEADED;

/// EDSR's training loss: mean absolute error against the HR images.
pub fn l1_loss(output: &Tensor, target: &Tensor) -> Tensor {
    (output - target).abs().mean(Kind::Float)
}

/// What the heads' output is added to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InputSkip {
    /// Nothing: the head's output is the HR image (EDSR).
    #[default]
    None,
    /// Bicubic up-scaling of the LR input (libtorch's `upsample_bicubic2d`, a = -0.75):
    /// the head predicts the residual.
    Bicubic,
}

impl InputSkip {
    /// The HR estimate from a head's output (`tail(features)`, which ends in `add_mean`) and
    /// the LR input `[B, 3, h, w]` on `[0, 255]`.
    pub fn estimate(self, output: &Tensor, lr: &Tensor, scale: usize, rgb_range: f64) -> Tensor {
        match self {
            InputSkip::None => output.shallow_clone(),
            InputSkip::Bicubic => {
                let size = lr.size();
                let s = scale as i64;
                let up = lr.detach().upsample_bicubic2d([size[2] * s, size[3] * s], false, None, None);
                let mean =
                    Tensor::from_slice(&DIV2K_RGB_MEAN.map(|m| (m * rgb_range) as f32)).view([1, 3, 1, 1]).to_device(output.device());
                up + output - mean
            }
        }
    }
}

/// The super-resolution task for an EDSR of `config`.
pub struct SuperResolution {
    config: EdsrConfig,
    skip: InputSkip,
    aux_head: Box<TaskHeadFactory>,
}

impl SuperResolution {
    /// The task for an EDSR of `config`; the aux nets' up-sampler heads run at
    /// `aux_head_feats` features (`None`: EDSR's `n_feats`; fewer shrink the aux nets'
    /// activations, which at HR resolution can outweigh a local module's own).
    pub fn new(config: &EdsrConfig, skip: InputSkip, aux_head_feats: Option<i64>) -> Self {
        let head_config = EdsrConfig { n_feats: aux_head_feats.unwrap_or(config.n_feats), ..config.clone() };
        let aux_head = move |p: nn::Path, channels: i64, mode: InitMode| -> Box<dyn TaskHead> {
            Box::new(UpsamplerHead::new(p, channels, &head_config, skip, mode))
        };
        SuperResolution { config: config.clone(), skip, aux_head: Box::new(aux_head) }
    }
}

impl Task for SuperResolution {
    fn build_head(&self, network: &dyn UnitNetwork, p: nn::Path, mode: InitMode) -> Box<dyn NetworkHead> {
        Box::new(HrHead { tail: network.build_head(p, mode), config: self.config.clone(), skip: self.skip })
    }

    fn aux_task_head(&self) -> Option<&TaskHeadFactory> {
        Some(self.aux_head.as_ref())
    }

    /// Random HR patches for LR patches of the network's input size (the L1 loss costs the
    /// same for any values).
    fn timing_target(&self, network: &dyn UnitNetwork, batch: i64, device: Device) -> Option<Tensor> {
        let side = network.input_size() * self.config.scale as i64;
        Some(Tensor::rand([batch, 3, side, side], (Kind::Float, device)) * self.config.rgb_range)
    }
}

/// EDSR's tail on the body's features; its loss sees the HR estimate.
#[derive(Debug)]
struct HrHead {
    tail: Box<dyn ModuleT>,
    config: EdsrConfig,
    skip: InputSkip,
}

impl NetworkHead for HrHead {
    fn forward(&self, features: &[Tensor], train: bool) -> Tensor {
        self.tail.forward_t(&features[0], train)
    }

    fn loss(&self, output: &Tensor, targets: &LocalTargets) -> Tensor {
        l1_loss(&self.skip.estimate(output, targets.images, self.config.scale, self.config.rgb_range), targets.target)
    }
}

/// An aux net's task head: 1x1 projection to `config.n_feats`, EDSR's up-sampler and tail conv,
/// `add_mean`; L1 of the HR estimate against the HR batch.
#[derive(Debug)]
pub struct UpsamplerHead {
    projection: nn::Conv2D,
    tail: Tail,
    scale: usize,
    rgb_range: f64,
    skip: InputSkip,
}

impl UpsamplerHead {
    pub fn new(p: nn::Path, channels: i64, config: &EdsrConfig, skip: InputSkip, mode: InitMode) -> Self {
        UpsamplerHead {
            projection: conv(&p / "projection", channels, config.n_feats, 1, mode),
            tail: Tail::new(&p / "tail", config, mode),
            scale: config.scale,
            rgb_range: config.rgb_range,
            skip,
        }
    }

    /// The HR estimate for `features` of the LR batch `lr`.
    pub fn forward(&self, features: &Tensor, lr: &Tensor, train: bool) -> Tensor {
        let output = self.tail.forward_t(&features.apply(&self.projection), train);
        self.skip.estimate(&output, lr, self.scale, self.rgb_range)
    }
}

impl TaskHead for UpsamplerHead {
    fn loss(&self, features: &Tensor, targets: &LocalTargets, train: bool) -> Tensor {
        l1_loss(&self.forward(features, targets.images, train), targets.target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    #[test]
    fn the_aux_head_predicts_an_hr_image_and_its_l1() {
        let vs = nn::VarStore::new(Device::Cpu);
        let config = EdsrConfig { n_resblocks: 1, n_feats: 4, ..EdsrConfig::baseline(3) };
        let head = UpsamplerHead::new(vs.root(), 10, &config, InputSkip::None, InitMode::Reference);
        let features = Tensor::randn([2, 10, 5, 4], (Kind::Float, Device::Cpu)).set_requires_grad(true);
        let lr = Tensor::zeros([2, 3, 5, 4], (Kind::Float, Device::Cpu));
        assert_eq!(head.forward(&features, &lr, true).size(), [2, 3, 15, 12]);
        let hr = Tensor::zeros([2, 3, 15, 12], (Kind::Float, Device::Cpu));
        let targets = LocalTargets { images: &lr, raw_images: &lr, target: &hr };
        let loss = head.loss(&features, &targets, true);
        loss.backward();
        assert!(features.grad().abs().sum(Kind::Float).double_value(&[]) > 0.0, "the loss reaches the module output");
        // L1 of a known difference: |[1, -3]| averages to 2.
        let value = l1_loss(&Tensor::from_slice(&[1.0f32, -3.0]), &Tensor::from_slice(&[0.0f32, 0.0])).double_value(&[]);
        assert_eq!(value, 2.0);
    }

    #[test]
    fn with_the_bicubic_skip_a_mean_output_gives_the_bicubic_image() {
        // A tail output equal to the mean (a zero residual) leaves bicubic up-scaling.
        let lr = Tensor::rand([1, 3, 6, 5], (Kind::Float, Device::Cpu)) * 255.0;
        let mean = Tensor::from_slice(&DIV2K_RGB_MEAN.map(|m| (m * 255.0) as f32)).view([1, 3, 1, 1]);
        let output = Tensor::zeros([1, 3, 12, 10], (Kind::Float, Device::Cpu)) + &mean;
        let estimate = InputSkip::Bicubic.estimate(&output, &lr, 2, 255.0);
        let bicubic = lr.upsample_bicubic2d([12, 10], false, None, None);
        assert!(estimate.allclose(&bicubic, 1e-4, 1e-3, false));
        assert!(InputSkip::None.estimate(&output, &lr, 2, 255.0).equal(&output));
    }
}
