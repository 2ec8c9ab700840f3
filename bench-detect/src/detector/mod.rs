//! A one-stage detector in the manner of RetinaNet (Lin et al. 2017,
//! <https://arxiv.org/abs/1708.02002>) on any ResNet of glcan-core: FPN over the last three
//! stages (C3-C5), class and box subnets with 3 scales x 3 ratios of anchors per level,
//! focal loss and smooth-L1, score threshold and per-class NMS at inference.
//!
//! As a [`Task`] it plugs into glcan-core's local trainer: the real head reads C3-C5 (the
//! ones from earlier modules arrive detached), and every aux net (DGL's plain conv stack,
//! GLCAN's fused branches) ends in a one-level detection head ([`head::AuxDetectionHead`]).

pub mod anchors;
pub mod boxes;
pub mod decode;
pub mod head;
pub mod loss;
pub mod nms;
pub mod random_targets;

use tch::nn;

use glcan_core::aux::task_head::{TaskHead, TaskHeadFactory};
use glcan_core::aux::Method;
use glcan_core::models::{InitMode, UnitNetwork};
use glcan_core::train::{NetworkHead, Task};

/// The detector's knobs; defaults are RetinaNet's where it has one, scaled down for small
/// images and 2 CPU cores otherwise.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DetectorConfig {
    /// Channels of the FPN levels and the subnets (RetinaNet: 256).
    pub fpn_width: i64,
    /// conv3x3 + ReLU layers of each subnet of the real head (RetinaNet: 4).
    pub head_convs: usize,
    /// Same, for the aux nets' one-level heads.
    pub aux_head_convs: usize,
    /// Anchor base size in strides: a level of stride s gets anchors of `anchor_scale * s`
    /// times 2^0, 2^(1/3), 2^(2/3) (RetinaNet: 4).
    pub anchor_scale: f64,
    pub loss: loss::LossConfig,
    /// Detections below this score are dropped before NMS (RetinaNet: 0.05).
    pub score_threshold: f64,
    pub nms_iou: f64,
    /// Best-scoring candidates per image kept before NMS (RetinaNet: 1000 per level).
    pub candidates: usize,
    /// Detections per image after NMS (COCO's limit: 100).
    pub max_detections: usize,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        DetectorConfig {
            fpn_width: 64,
            head_convs: 2,
            aux_head_convs: 1,
            anchor_scale: 4.0,
            loss: loss::LossConfig::default(),
            score_threshold: 0.05,
            nms_iou: 0.5,
            candidates: 1000,
            max_detections: 100,
        }
    }
}

impl DetectorConfig {
    pub fn validate(&self) -> glcan_core::Result<()> {
        use glcan_core::Error;
        if self.fpn_width < 1 {
            return Err(Error::config("detector.fpn_width", "must be at least 1"));
        }
        if !(self.anchor_scale.is_finite() && self.anchor_scale > 0.0) {
            return Err(Error::config("detector.anchor_scale", format!("must be positive, got {}", self.anchor_scale)));
        }
        if !(0.0..=1.0).contains(&self.score_threshold) || !(0.0..=1.0).contains(&self.nms_iou) {
            return Err(Error::config("detector", "score_threshold and nms_iou must lie in [0, 1]"));
        }
        let l = &self.loss;
        if !(0.0 < l.negative_iou && l.negative_iou <= l.positive_iou && l.positive_iou <= 1.0) {
            return Err(Error::config("detector.loss", "need 0 < negative_iou <= positive_iou <= 1"));
        }
        if self.candidates == 0 || self.max_detections == 0 {
            return Err(Error::config("detector", "candidates and max_detections must be at least 1"));
        }
        Ok(())
    }
}

/// Unit positions of the last unit of each of the network's last three stages (C3, C4,
/// C5 for a ResNet), and their strides (the product of the unit strides up to them).
pub fn pyramid_taps(network: &dyn UnitNetwork) -> glcan_core::Result<(Vec<usize>, Vec<i64>)> {
    let units = network.units();
    let mut last_of_stage: Vec<usize> = Vec::new();
    for (i, unit) in units.iter().enumerate() {
        match last_of_stage.last_mut() {
            Some(last) if units[*last].id.stage == unit.id.stage => *last = i,
            _ => last_of_stage.push(i),
        }
    }
    if last_of_stage.len() < 4 {
        return Err(glcan_core::Error::config(
            "network",
            format!("{} has {} stages; the detector needs a stem and 3 more", network.name(), last_of_stage.len()),
        ));
    }
    let taps = last_of_stage[last_of_stage.len() - 3..].to_vec();
    let strides = taps.iter().map(|&t| units[..=t].iter().map(|u| u.stride).product()).collect();
    Ok((taps, strides))
}

/// The methods this task trains: those whose aux nets end in the task's detection head
/// (Greedy SL's and InfoPro's classify whole images, and a detection image has no one class).
pub const METHODS: [Method; 3] = Method::TASK_HEADED;

/// Object detection over `num_classes` classes, as a [`Task`] of the local trainer.
pub struct DetectionTask {
    config: DetectorConfig,
    num_classes: i64,
    taps: Vec<usize>,
    strides: Vec<i64>,
    aux_head: Box<TaskHeadFactory>,
}

/// Objects per image in the made-up targets of the memory- and time-balanced splits
/// (the anchor matching's cost grows with them; COCO averages about 7).
const MADE_UP_OBJECTS: i64 = 8;

impl DetectionTask {
    pub fn new(network: &dyn UnitNetwork, num_classes: i64, config: &DetectorConfig) -> glcan_core::Result<Self> {
        config.validate()?;
        let (taps, strides) = pyramid_taps(network)?;
        // One anchor size per pyramid level (its base), so that the one-level aux heads
        // cover the sizes the whole pyramid covers.
        let sizes: Vec<f64> = strides.iter().map(|&s| config.anchor_scale * s as f64).collect();
        let aux_config = config.clone();
        let min_stride = strides[0];
        let aux_head: Box<TaskHeadFactory> = Box::new(move |p: nn::Path, channels: i64, mode: InitMode| -> Box<dyn TaskHead> {
            Box::new(head::AuxDetectionHead::new(p, channels, num_classes, sizes.clone(), min_stride, &aux_config, mode))
        });
        Ok(DetectionTask { config: config.clone(), num_classes, taps, strides, aux_head })
    }

    pub fn num_classes(&self) -> i64 {
        self.num_classes
    }

    pub fn config(&self) -> &DetectorConfig {
        &self.config
    }
}

impl Task for DetectionTask {
    fn head_inputs(&self, _network: &dyn UnitNetwork) -> Vec<usize> {
        self.taps.clone()
    }

    fn build_head(&self, network: &dyn UnitNetwork, p: nn::Path, mode: InitMode) -> Box<dyn NetworkHead> {
        let channels: Vec<i64> = self.taps.iter().map(|&t| network.units()[t].out_channels).collect();
        Box::new(head::RetinaNetHead::new(p, &channels, &self.strides, self.num_classes, &self.config, mode))
    }

    fn aux_task_head(&self) -> Option<&TaskHeadFactory> {
        Some(self.aux_head.as_ref())
    }

    fn timing_target(&self, network: &dyn UnitNetwork, batch: i64, device: tch::Device) -> Option<tch::Tensor> {
        let side = network.input_size();
        Some(random_targets::random_ground_truth(batch, MADE_UP_OBJECTS, side, side, self.num_classes, device))
    }
}
