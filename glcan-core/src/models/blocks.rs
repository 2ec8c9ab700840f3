//! The building blocks of the ResNets (He et al. 2016, <https://arxiv.org/abs/1512.03385>)
//! as structs, so that the trainer can reach each one, and the stem and head that the
//! pre-activation networks (wide ResNets, DenseNets) share.

use tch::nn::{self, ModuleT};
use tch::Tensor;

use super::init::{self, ConvRule, InitMode};

/// A bias-free convolution, started as InfoPro's and torchvision's ResNets start theirs.
fn conv(p: nn::Path, c_in: i64, c_out: i64, kernel: i64, stride: i64, mode: InitMode) -> nn::Conv2D {
    let config = nn::ConvConfig { stride, padding: kernel / 2, bias: false, ..Default::default() };
    init::conv2d(p, c_in, c_out, kernel, config, ConvRule::ResNet, mode)
}

fn bn(p: nn::Path, channels: i64, mode: InitMode) -> nn::BatchNorm {
    init::batch_norm2d(p, channels, mode)
}

/// Conv + BN + ReLU stem; the ImageNet variant adds a 3x3/2 max-pool, the pre-activation
/// variant is the convolution alone.
#[derive(Debug)]
pub struct Stem {
    conv: nn::Conv2D,
    bn: Option<nn::BatchNorm>,
    max_pool: bool,
}

impl Stem {
    /// CIFAR stem: conv3x3, stride 1.
    pub fn cifar(p: nn::Path, c_in: i64, c_out: i64, mode: InitMode) -> Self {
        Stem { conv: conv(&p / "conv", c_in, c_out, 3, 1, mode), bn: Some(bn(&p / "bn", c_out, mode)), max_pool: false }
    }

    /// Pre-activation stem: conv3x3 alone, stride 1; the next unit opens with BN + ReLU.
    pub fn pre_activation(p: nn::Path, c_in: i64, c_out: i64, mode: InitMode) -> Self {
        Stem { conv: conv(&p / "conv", c_in, c_out, 3, 1, mode), bn: None, max_pool: false }
    }

    /// ImageNet stem: conv7x7/2 then max-pool 3x3/2.
    pub fn imagenet(p: nn::Path, c_in: i64, c_out: i64, mode: InitMode) -> Self {
        Stem { conv: conv(&p / "conv", c_in, c_out, 7, 2, mode), bn: Some(bn(&p / "bn", c_out, mode)), max_pool: true }
    }
}

impl ModuleT for Stem {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let ys = xs.apply(&self.conv);
        let Some(bn) = &self.bn else { return ys };
        let ys = ys.apply_t(bn, train).relu();
        if self.max_pool {
            ys.max_pool2d([3, 3], [2, 2], [1, 1], [1, 1], false)
        } else {
            ys
        }
    }
}

/// 1x1 convolution + BN on the residual path when the shape changes (option B of the paper).
#[derive(Debug)]
struct Projection {
    conv: nn::Conv2D,
    bn: nn::BatchNorm,
}

impl Projection {
    fn new_if_needed(p: nn::Path, c_in: i64, c_out: i64, stride: i64, mode: InitMode) -> Option<Self> {
        (stride != 1 || c_in != c_out)
            .then(|| Projection { conv: conv(&p / "conv", c_in, c_out, 1, stride, mode), bn: bn(&p / "bn", c_out, mode) })
    }

    fn shortcut(this: &Option<Self>, xs: &Tensor, train: bool) -> Tensor {
        match this {
            Some(projection) => xs.apply(&projection.conv).apply_t(&projection.bn, train),
            None => xs.shallow_clone(),
        }
    }
}

/// Two 3x3 convolutions and a residual connection.
#[derive(Debug)]
pub struct BasicBlock {
    conv1: nn::Conv2D,
    bn1: nn::BatchNorm,
    conv2: nn::Conv2D,
    bn2: nn::BatchNorm,
    projection: Option<Projection>,
}

impl BasicBlock {
    pub fn new(p: nn::Path, c_in: i64, c_out: i64, stride: i64, mode: InitMode) -> Self {
        BasicBlock {
            conv1: conv(&p / "conv1", c_in, c_out, 3, stride, mode),
            bn1: bn(&p / "bn1", c_out, mode),
            conv2: conv(&p / "conv2", c_out, c_out, 3, 1, mode),
            bn2: bn(&p / "bn2", c_out, mode),
            projection: Projection::new_if_needed(&p / "shortcut", c_in, c_out, stride, mode),
        }
    }
}

impl ModuleT for BasicBlock {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let ys = xs.apply(&self.conv1).apply_t(&self.bn1, train).relu().apply(&self.conv2).apply_t(&self.bn2, train);
        (ys + Projection::shortcut(&self.projection, xs, train)).relu()
    }
}

/// 1x1 reduce, 3x3 (carrying the stride), 1x1 expand, and a residual connection.
#[derive(Debug)]
pub struct Bottleneck {
    conv1: nn::Conv2D,
    bn1: nn::BatchNorm,
    conv2: nn::Conv2D,
    bn2: nn::BatchNorm,
    conv3: nn::Conv2D,
    bn3: nn::BatchNorm,
    projection: Option<Projection>,
}

impl Bottleneck {
    pub fn new(p: nn::Path, c_in: i64, c_mid: i64, c_out: i64, stride: i64, mode: InitMode) -> Self {
        Bottleneck {
            conv1: conv(&p / "conv1", c_in, c_mid, 1, 1, mode),
            bn1: bn(&p / "bn1", c_mid, mode),
            conv2: conv(&p / "conv2", c_mid, c_mid, 3, stride, mode),
            bn2: bn(&p / "bn2", c_mid, mode),
            conv3: conv(&p / "conv3", c_mid, c_out, 1, 1, mode),
            bn3: bn(&p / "bn3", c_out, mode),
            projection: Projection::new_if_needed(&p / "shortcut", c_in, c_out, stride, mode),
        }
    }
}

impl ModuleT for Bottleneck {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let ys = xs
            .apply(&self.conv1)
            .apply_t(&self.bn1, train)
            .relu()
            .apply(&self.conv2)
            .apply_t(&self.bn2, train)
            .relu()
            .apply(&self.conv3)
            .apply_t(&self.bn3, train);
        (ys + Projection::shortcut(&self.projection, xs, train)).relu()
    }
}

/// Global average pool, flatten, linear: the classification head of every ResNet (its
/// linear layer keeps `nn.Linear`'s default in InfoPro's code and torchvision's).
#[derive(Debug)]
pub struct ClassifierHead {
    fc: nn::Linear,
}

impl ClassifierHead {
    pub fn new(p: nn::Path, c_in: i64, num_classes: i64, mode: InitMode) -> Self {
        ClassifierHead { fc: init::linear(&p / "fc", c_in, num_classes, mode) }
    }
}

impl ModuleT for ClassifierHead {
    fn forward_t(&self, xs: &Tensor, _train: bool) -> Tensor {
        xs.adaptive_avg_pool2d([1, 1]).flatten(1, -1).apply(&self.fc)
    }
}

/// BN, ReLU, global average pool, flatten, linear: the head of the pre-activation networks,
/// whose last unit's output is not yet normalised.
#[derive(Debug)]
pub struct PreActHead {
    bn: nn::BatchNorm,
    fc: nn::Linear,
}

impl PreActHead {
    pub fn new(p: nn::Path, c_in: i64, num_classes: i64, mode: InitMode) -> Self {
        PreActHead { bn: bn(&p / "bn", c_in, mode), fc: init::linear(&p / "fc", c_in, num_classes, mode) }
    }
}

impl ModuleT for PreActHead {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        xs.apply_t(&self.bn, train).relu().adaptive_avg_pool2d([1, 1]).flatten(1, -1).apply(&self.fc)
    }
}
