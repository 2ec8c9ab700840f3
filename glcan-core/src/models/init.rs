//! Where every layer's parameters start: the one place that owns the rule.
//!
//! Two modes ([`InitMode`]): `reference` (the default) starts each layer where the paper's
//! PyTorch code starts it; `tch` keeps what this project did before the setting existed
//! (tch's defaults, plus the two rules our code had already set by hand: EDSR's and
//! RetinaNet's head), so that older results can be rebuilt bit for bit. Network and aux-net
//! files say only which [`ConvRule`] their paper's code uses; linear and BatchNorm layers
//! have one rule each.
//!
//! The defaults differ in ways that move results (by 1-3 points for InfoPro on CIFAR-10):
//!
//! | layer | PyTorch `nn.*` default | tch 0.26 default |
//! |---|---|---|
//! | conv, linear weight | U(±1/sqrt(fan_in)) (`kaiming_uniform_(a = sqrt 5)`) | U(±sqrt(6/fan_in)) (He-uniform, ReLU gain) |
//! | conv bias | U(±1/sqrt(fan_in)) | 0 |
//! | linear bias | U(±1/sqrt(fan_in)) | U(±1/sqrt(fan_in)) |
//! | BatchNorm weight, bias | 1, 0 | U(0, 1), 0 |

use std::fmt;
use std::str::FromStr;

use tch::nn::{self, init::FanInOut, init::NonLinearity, init::NormalOrUniform, Init};

use crate::{Error, Result};

/// The `init` setting of presets, configs and CLIs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum InitMode {
    /// As the papers' code: He-normal (fan_out) ResNets, PyTorch's defaults elsewhere,
    /// BatchNorm at weight 1 and bias 0.
    #[default]
    Reference,
    /// As this project before the setting: tch's defaults (BatchNorm weights U(0, 1)).
    Tch,
}

impl InitMode {
    pub fn name(self) -> &'static str {
        match self {
            InitMode::Reference => "reference",
            InitMode::Tch => "tch",
        }
    }
}

impl FromStr for InitMode {
    type Err = Error;

    fn from_str(name: &str) -> Result<Self> {
        match name {
            "reference" => Ok(InitMode::Reference),
            "tch" => Ok(InitMode::Tch),
            other => Err(Error::config("init", format!("unknown value {other:?}: expected reference or tch"))),
        }
    }
}

impl TryFrom<String> for InitMode {
    type Error = Error;

    fn try_from(name: String) -> Result<Self> {
        name.parse()
    }
}

impl From<InitMode> for String {
    fn from(mode: InitMode) -> String {
        mode.name().to_owned()
    }
}

impl fmt::Display for InitMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How a convolution starts under `reference`, named after the code it follows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ConvRule {
    /// The ResNets of InfoPro's code and torchvision: weights N(0, 2/fan_out) (He-normal,
    /// `mode = "fan_out"`, ReLU). Their loop redraws weights only, so a bias (InfoPro's
    /// decoder has one) keeps `nn.Conv2d`'s U(±1/sqrt(fan_in)). `tch`: tch's default.
    ResNet,
    /// `nn.Conv2d`'s own default: weight and bias U(±1/sqrt(fan_in)). `tch`: tch's default.
    PyTorch,
    /// torchvision's DenseNet (`kaiming_normal_` with its default `fan_in`): weights
    /// N(0, 2/fan_in); its convolutions have no bias. `tch`: tch's default.
    DenseNet,
    /// torchvision's VGG: weights N(0, 2/fan_out) as the ResNets, bias 0. `tch`: tch's default.
    Vgg,
    /// torchvision's FPN (`kaiming_uniform_(a = 1)`): weights U(±sqrt(3/fan_in)), bias 0.
    /// `tch`: tch's default.
    Fpn,
    /// EDSR's code keeps `nn.Conv2d`'s default. Ours always did, so `tch` keeps it too.
    Edsr,
    /// RetinaNet's head: weights N(0, 0.01²), bias `bias` (the class prior on the class
    /// output, 0 elsewhere). Ours always did, so `tch` keeps it too.
    RetinaHead { bias: f64 },
}

impl ConvRule {
    /// The (weight, bias) inits of a convolution with `fan_in` inputs per output under `mode`;
    /// `None`: tch's defaults.
    fn inits(self, mode: InitMode, fan_in: i64) -> Option<(Init, Init)> {
        let pytorch = || {
            let bound = 1.0 / (fan_in as f64).sqrt();
            Init::Uniform { lo: -bound, up: bound }
        };
        match (self, mode) {
            (ConvRule::Edsr, _) => Some((pytorch(), pytorch())),
            (ConvRule::RetinaHead { bias }, _) => Some((Init::Randn { mean: 0.0, stdev: 0.01 }, Init::Const(bias))),
            (_, InitMode::Tch) => None,
            (ConvRule::ResNet, InitMode::Reference) => {
                Some((Init::Kaiming { dist: NormalOrUniform::Normal, fan: FanInOut::FanOut, non_linearity: NonLinearity::ReLU }, pytorch()))
            }
            (ConvRule::PyTorch, InitMode::Reference) => Some((pytorch(), pytorch())),
            (ConvRule::DenseNet, InitMode::Reference) => {
                Some((Init::Kaiming { dist: NormalOrUniform::Normal, fan: FanInOut::FanIn, non_linearity: NonLinearity::ReLU }, pytorch()))
            }
            (ConvRule::Vgg, InitMode::Reference) => Some((
                Init::Kaiming { dist: NormalOrUniform::Normal, fan: FanInOut::FanOut, non_linearity: NonLinearity::ReLU },
                Init::Const(0.0),
            )),
            // Gain sqrt(2 / (1 + a²)) = 1 for a = 1: bound sqrt(3 / fan_in).
            (ConvRule::Fpn, InitMode::Reference) => Some((
                Init::Kaiming { dist: NormalOrUniform::Uniform, fan: FanInOut::FanIn, non_linearity: NonLinearity::Linear },
                Init::Const(0.0),
            )),
        }
    }
}

/// A 2-D convolution as `config` shapes it (stride, padding, bias), started by `rule` under
/// `mode`; `config`'s own inits are replaced.
pub fn conv2d(p: nn::Path, c_in: i64, c_out: i64, kernel: i64, config: nn::ConvConfig, rule: ConvRule, mode: InitMode) -> nn::Conv2D {
    let fan_in = c_in / config.groups * kernel * kernel;
    let config = match rule.inits(mode, fan_in) {
        Some((ws_init, bs_init)) => nn::ConvConfig { ws_init, bs_init, ..config },
        None => nn::ConvConfig { ws_init: nn::ConvConfig::default().ws_init, bs_init: nn::ConvConfig::default().bs_init, ..config },
    };
    nn::conv2d(p, c_in, c_out, kernel, config)
}

/// A linear layer: `nn.Linear`'s default under `reference` (every paper's code here keeps
/// it: InfoPro's, DGL's, torchvision's classifier), tch's under `tch`.
pub fn linear(p: nn::Path, in_dim: i64, out_dim: i64, mode: InitMode) -> nn::Linear {
    let config = match mode {
        InitMode::Reference => {
            let bound = 1.0 / (in_dim as f64).sqrt();
            let uniform = Init::Uniform { lo: -bound, up: bound };
            nn::LinearConfig { ws_init: uniform, bs_init: Some(uniform), bias: true }
        }
        InitMode::Tch => Default::default(),
    };
    nn::linear(p, in_dim, out_dim, config)
}

/// A 2-D BatchNorm: weight 1 and bias 0 under `reference` (PyTorch's default, and what
/// InfoPro's and torchvision's loops set again), tch's U(0, 1) weights under `tch`.
pub fn batch_norm2d(p: nn::Path, channels: i64, mode: InitMode) -> nn::BatchNorm {
    let config = match mode {
        InitMode::Reference => nn::BatchNormConfig { ws_init: Init::Const(1.0), bs_init: Init::Const(0.0), ..Default::default() },
        InitMode::Tch => Default::default(),
    };
    nn::batch_norm2d(p, channels, config)
}

/// A 1-D BatchNorm (over features), by the same rule as [`batch_norm2d`].
pub fn batch_norm1d(p: nn::Path, features: i64, mode: InitMode) -> nn::BatchNorm {
    let config = match mode {
        InitMode::Reference => nn::BatchNormConfig { ws_init: Init::Const(1.0), bs_init: Init::Const(0.0), ..Default::default() },
        InitMode::Tch => Default::default(),
    };
    nn::batch_norm1d(p, features, config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind, Tensor};

    fn stats(t: &Tensor) -> (f64, f64, f64, f64) {
        let t = t.to_kind(Kind::Double);
        (t.mean(Kind::Double).double_value(&[]), t.std(true).double_value(&[]), t.min().double_value(&[]), t.max().double_value(&[]))
    }

    #[test]
    fn names_round_trip_and_a_bad_one_names_the_field() {
        for mode in [InitMode::Reference, InitMode::Tch] {
            assert_eq!(mode.name().parse::<InitMode>().unwrap(), mode);
        }
        assert_eq!(InitMode::default(), InitMode::Reference);
        let message = "foo".parse::<InitMode>().unwrap_err().to_string();
        assert_eq!(message, "invalid init: unknown value \"foo\": expected reference or tch");
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Preset {
            init: InitMode,
        }
        let from_toml = toml::from_str::<Preset>("init = \"foo\"\n").unwrap_err().to_string();
        assert!(from_toml.contains("invalid init") && from_toml.contains("\"foo\""), "{from_toml}");
    }

    #[test]
    fn each_rule_draws_its_distribution() {
        tch::manual_seed(0);
        let vs = nn::VarStore::new(Device::Cpu);
        let with_bias = nn::ConvConfig { padding: 1, ..Default::default() };
        let (c_in, c_out, k) = (64, 128, 3);
        let fan_in = (c_in * k * k) as f64;
        let fan_out = (c_out * k * k) as f64;
        let build = |name: &str, rule| conv2d(vs.root() / name, c_in, c_out, k, with_bias, rule, InitMode::Reference);

        let resnet = build("resnet", ConvRule::ResNet);
        let (mean, std, _, _) = stats(&resnet.ws);
        assert!(mean.abs() < 0.002 && (std / (2.0 / fan_out).sqrt() - 1.0).abs() < 0.02, "He-normal fan_out: mean {mean}, std {std}");

        let uniform_check = |t: &Tensor, bound: f64, what: &str| {
            let (mean, std, lo, hi) = stats(t);
            assert!(lo >= -bound && hi <= bound, "{what}: [{lo}, {hi}] outside ±{bound}");
            assert!(lo < -0.9 * bound && hi > 0.9 * bound, "{what}: [{lo}, {hi}] does not fill ±{bound}");
            // U(-b, b) has std b/sqrt(3).
            assert!(mean.abs() < 0.05 * bound && (std / (bound / 3f64.sqrt()) - 1.0).abs() < 0.05, "{what}: mean {mean}, std {std}");
        };
        let pytorch = build("pytorch", ConvRule::PyTorch);
        uniform_check(&pytorch.ws, 1.0 / fan_in.sqrt(), "PyTorch conv weight");
        let fpn = build("fpn", ConvRule::Fpn);
        uniform_check(&fpn.ws, (3.0 / fan_in).sqrt(), "FPN conv weight");
        assert_eq!(stats(fpn.bs.as_ref().unwrap()), (0.0, 0.0, 0.0, 0.0));

        let head = build("head", ConvRule::RetinaHead { bias: -4.0 });
        let (mean, std, _, _) = stats(&head.ws);
        assert!(mean.abs() < 0.001 && (std / 0.01 - 1.0).abs() < 0.02, "RetinaNet head: mean {mean}, std {std}");
        assert_eq!(stats(head.bs.as_ref().unwrap()).2, -4.0);
    }

    #[test]
    fn tch_mode_draws_what_tch_draws() {
        let config = nn::ConvConfig { padding: 1, ..Default::default() };
        let draw = |ours: bool| {
            tch::manual_seed(7);
            let vs = nn::VarStore::new(Device::Cpu);
            let (conv, linear, bn) = if ours {
                (
                    conv2d(vs.root() / "c", 8, 16, 3, config, ConvRule::ResNet, InitMode::Tch),
                    linear(vs.root() / "l", 16, 10, InitMode::Tch),
                    batch_norm2d(vs.root() / "b", 16, InitMode::Tch),
                )
            } else {
                (
                    nn::conv2d(vs.root() / "c", 8, 16, 3, config),
                    nn::linear(vs.root() / "l", 16, 10, Default::default()),
                    nn::batch_norm2d(vs.root() / "b", 16, Default::default()),
                )
            };
            [conv.ws, conv.bs.unwrap(), linear.ws, linear.bs.unwrap(), bn.ws.unwrap(), bn.bs.unwrap()]
        };
        for (ours, theirs) in draw(true).iter().zip(draw(false).iter()) {
            assert!(ours.equal(theirs));
        }
        // And a reference draw is another one.
        tch::manual_seed(7);
        let vs = nn::VarStore::new(Device::Cpu);
        let reference = conv2d(vs.root() / "c", 8, 16, 3, config, ConvRule::ResNet, InitMode::Reference);
        assert!(!reference.ws.equal(&draw(false)[0]));
    }
}
