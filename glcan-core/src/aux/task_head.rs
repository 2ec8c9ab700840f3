//! Task heads: the part of an aux net that is "of the same kind as the real head" and is
//! trained with the task loss. GLCAN's recipe ends every aux net in one, so the detection
//! and super-resolution suites reuse it by handing the trainer their own head factory.

use tch::nn;
use tch::Tensor;

use super::LocalTargets;
use crate::models::init::{self, InitMode};

/// Turns features into the task's loss.
pub trait TaskHead: std::fmt::Debug + Send {
    /// The task loss (a scalar) of `features` `[B, C, H, W]`.
    fn loss(&self, features: &Tensor, targets: &LocalTargets, train: bool) -> Tensor;
}

/// Builds a task head under a path for features of a given number of channels, its
/// parameters started as the run's `init` says.
pub type TaskHeadFactory = dyn Fn(nn::Path, i64, InitMode) -> Box<dyn TaskHead> + Sync;

/// Classification: global average pooling, a linear layer (`nn.Linear`'s default, as
/// InfoPro's Greedy SL head "0c1f" keeps it), cross-entropy.
#[derive(Debug)]
pub struct ClassifierHead {
    fc: nn::Linear,
}

impl ClassifierHead {
    pub fn new(p: nn::Path, channels: i64, num_classes: i64, mode: InitMode) -> Self {
        ClassifierHead { fc: init::linear(&p / "fc", channels, num_classes, mode) }
    }

    pub fn logits(&self, features: &Tensor) -> Tensor {
        features.adaptive_avg_pool2d([1, 1]).flatten(1, -1).apply(&self.fc)
    }
}

impl TaskHead for ClassifierHead {
    fn loss(&self, features: &Tensor, targets: &LocalTargets, _train: bool) -> Tensor {
        self.logits(features).cross_entropy_for_logits(targets.target)
    }
}
