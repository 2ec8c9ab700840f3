//! The building blocks of the ResNets (He et al. 2016, <https://arxiv.org/abs/1512.03385>)
//! as structs, so that the trainer can reach each one, and the stem and head that the
//! pre-activation networks (wide ResNets, DenseNets) share.

use tch::nn::{self, ModuleT};
use tch::Tensor;

fn conv(p: nn::Path, c_in: i64, c_out: i64, kernel: i64, stride: i64) -> nn::Conv2D {
    let config = nn::ConvConfig { stride, padding: kernel / 2, bias: false, ..Default::default() };
    nn::conv2d(p, c_in, c_out, kernel, config)
}

fn batch_norm(p: nn::Path, channels: i64) -> nn::BatchNorm {
    nn::batch_norm2d(p, channels, Default::default())
}

fn linear(p: nn::Path, c_in: i64, c_out: i64) -> nn::Linear {
    nn::linear(p, c_in, c_out, Default::default())
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
    pub fn cifar(p: nn::Path, c_in: i64, c_out: i64) -> Self {
        Stem { conv: conv(&p / "conv", c_in, c_out, 3, 1), bn: Some(batch_norm(&p / "bn", c_out)), max_pool: false }
    }

    /// Pre-activation stem: conv3x3 alone, stride 1; the next unit opens with BN + ReLU.
    pub fn pre_activation(p: nn::Path, c_in: i64, c_out: i64) -> Self {
        Stem { conv: conv(&p / "conv", c_in, c_out, 3, 1), bn: None, max_pool: false }
    }

    /// ImageNet stem: conv7x7/2 then max-pool 3x3/2.
    pub fn imagenet(p: nn::Path, c_in: i64, c_out: i64) -> Self {
        Stem { conv: conv(&p / "conv", c_in, c_out, 7, 2), bn: Some(batch_norm(&p / "bn", c_out)), max_pool: true }
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
    fn new_if_needed(p: nn::Path, c_in: i64, c_out: i64, stride: i64) -> Option<Self> {
        (stride != 1 || c_in != c_out)
            .then(|| Projection { conv: conv(&p / "conv", c_in, c_out, 1, stride), bn: batch_norm(&p / "bn", c_out) })
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
    pub fn new(p: nn::Path, c_in: i64, c_out: i64, stride: i64) -> Self {
        BasicBlock {
            conv1: conv(&p / "conv1", c_in, c_out, 3, stride),
            bn1: batch_norm(&p / "bn1", c_out),
            conv2: conv(&p / "conv2", c_out, c_out, 3, 1),
            bn2: batch_norm(&p / "bn2", c_out),
            projection: Projection::new_if_needed(&p / "shortcut", c_in, c_out, stride),
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
    pub fn new(p: nn::Path, c_in: i64, c_mid: i64, c_out: i64, stride: i64) -> Self {
        Bottleneck {
            conv1: conv(&p / "conv1", c_in, c_mid, 1, 1),
            bn1: batch_norm(&p / "bn1", c_mid),
            conv2: conv(&p / "conv2", c_mid, c_mid, 3, stride),
            bn2: batch_norm(&p / "bn2", c_mid),
            conv3: conv(&p / "conv3", c_mid, c_out, 1, 1),
            bn3: batch_norm(&p / "bn3", c_out),
            projection: Projection::new_if_needed(&p / "shortcut", c_in, c_out, stride),
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

/// Global average pool, flatten, linear: the classification head of every ResNet.
#[derive(Debug)]
pub struct ClassifierHead {
    fc: nn::Linear,
}

impl ClassifierHead {
    pub fn new(p: nn::Path, c_in: i64, num_classes: i64) -> Self {
        ClassifierHead { fc: linear(&p / "fc", c_in, num_classes) }
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
    pub fn new(p: nn::Path, c_in: i64, num_classes: i64) -> Self {
        PreActHead { bn: batch_norm(&p / "bn", c_in), fc: linear(&p / "fc", c_in, num_classes) }
    }
}

impl ModuleT for PreActHead {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        xs.apply_t(&self.bn, train).relu().adaptive_avg_pool2d([1, 1]).flatten(1, -1).apply(&self.fc)
    }
}
