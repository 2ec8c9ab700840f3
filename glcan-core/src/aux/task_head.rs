//! Task heads: the part of an aux net that is "of the same kind as the real head" and is
//! trained with the task loss. GLCAN's recipe ends every aux net in one, so the detection
//! and super-resolution suites reuse it by handing the trainer their own head factory.

use tch::nn;
use tch::Tensor;

use super::LocalTargets;

/// Turns features into the task's loss.
pub trait TaskHead: std::fmt::Debug + Send {
    /// The task loss (a scalar) of `features` `[B, C, H, W]`.
    fn loss(&self, features: &Tensor, targets: &LocalTargets, train: bool) -> Tensor;
}

/// Builds a task head under a path for features of a given number of channels.
pub type TaskHeadFactory = dyn Fn(nn::Path, i64) -> Box<dyn TaskHead> + Sync;

/// Classification: global average pooling, a linear layer, cross-entropy.
#[derive(Debug)]
pub struct ClassifierHead {
    fc: nn::Linear,
}

impl ClassifierHead {
    pub fn new(p: nn::Path, channels: i64, num_classes: i64) -> Self {
        ClassifierHead { fc: nn::linear(&p / "fc", channels, num_classes, Default::default()) }
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
