//! Auxiliary networks: the local objective of every module but the last.
//!
//! Module k's output `h` goes into its aux net, which returns a scalar loss; the gradient of
//! that loss trains module k (and the aux net) only, because module k + 1 receives `h`
//! detached. The methods differ only in this aux net:
//!
//! | method | aux net | file |
//! |---|---|---|
//! | Greedy SL | GAP + linear, CE | [`greedy`] |
//! | DGL | 1x1 conv stack on 2x2 pooled features + linear, CE | [`dgl`] |
//! | InfoPro | image decoder (BCE) + "1c2f" head (CE or SupCon) | [`infopro`] |
//! | PredSim | pooled linear classifier (CE) + similarity matching (MSE) | [`predsim`] |
//! | AugLocal | uniformly sampled copies of the later units + pool + linear, CE | [`auglocal`] |
//! | GLCAN | local branch + global branch, fused, task head | [`glcan`] |

pub mod auglocal;
pub mod dgl;
pub mod glcan;
pub mod greedy;
pub mod infopro;
pub mod predsim;
pub mod task_head;

use tch::nn::{self, ModuleT};
use tch::Tensor;

use crate::models::init::{self, ConvRule, InitMode};
use crate::models::{UnitNetwork, UnitSpec};
use crate::{Error, Result};

/// The local-learning method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// Plain end-to-end backpropagation (K = 1).
    E2e,
    GreedySl,
    Dgl,
    /// InfoPro with a cross-entropy information term.
    InfoproSoftmax,
    /// InfoPro with a supervised-contrastive information term.
    InfoproContrast,
    Glcan,
    /// Prediction plus similarity matching (Nøkland & Eidnes 2019).
    #[serde(rename = "predsim")]
    PredSim,
    /// Aux nets made of sampled later units (Ma et al. 2024).
    #[serde(rename = "auglocal")]
    AugLocal,
}

impl Method {
    pub const ALL: [Method; 8] = [
        Method::E2e,
        Method::GreedySl,
        Method::Dgl,
        Method::InfoproSoftmax,
        Method::InfoproContrast,
        Method::Glcan,
        Method::PredSim,
        Method::AugLocal,
    ];

    /// The name used in configs, result rows and command lines.
    pub fn name(self) -> &'static str {
        match self {
            Method::E2e => "e2e",
            Method::GreedySl => "greedy-sl",
            Method::Dgl => "dgl",
            Method::InfoproSoftmax => "infopro-softmax",
            Method::InfoproContrast => "infopro-contrast",
            Method::Glcan => "glcan",
            Method::PredSim => "predsim",
            Method::AugLocal => "auglocal",
        }
    }

    /// The numbers of local modules a grid listing `ks` trains this method at: E2E trains
    /// the network as one module, so always K = 1; a local method each listed K.
    pub fn module_counts(self, ks: &[usize]) -> Vec<usize> {
        if self == Method::E2e {
            vec![1]
        } else {
            ks.to_vec()
        }
    }

    /// The methods whose aux nets end in the task's own head ([`AuxContext::build_task_head`]),
    /// so that they train any task; Greedy SL, InfoPro, PredSim and AugLocal build classifiers
    /// over class labels (PredSim's similarity target is the one-hot labels too) and run on
    /// classification only.
    pub const TASK_HEADED: [Method; 3] = [Method::E2e, Method::Dgl, Method::Glcan];

    /// `Ok` when `suite` (a binary, e.g. `bench-sr`) runs this method, one of `runs`; an error
    /// naming the method and listing `runs` otherwise, for a config check to give before any
    /// data loads.
    pub fn check_suite(self, suite: &str, runs: &[Method]) -> Result<()> {
        if runs.contains(&self) {
            return Ok(());
        }
        let names: Vec<_> = runs.iter().map(|m| m.name()).collect();
        let why = if Method::TASK_HEADED.contains(&self) { String::new() } else { format!(" ({self}'s aux net needs class labels)") };
        Err(Error::config("method", format!("{suite} does not run {self}{why}; it runs {}", names.join(", "))))
    }

    pub fn from_name(name: &str) -> Result<Method> {
        Method::ALL.into_iter().find(|m| m.name() == name).ok_or_else(|| {
            let names: Vec<_> = Method::ALL.iter().map(|m| m.name()).collect();
            Error::config("method", format!("unknown method {name:?}; expected one of {}", names.join(", ")))
        })
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What a local loss may look at besides the module's output.
pub struct LocalTargets<'a> {
    /// The network input (normalised), `[B, C, H, W]`.
    pub images: &'a Tensor,
    /// The same images on the [0, 1] scale: InfoPro's reconstruction target.
    pub raw_images: &'a Tensor,
    /// What the task scores against: class labels `[B]` (int64) for classification, the HR
    /// images for super-resolution, the padded ground-truth boxes for detection.
    pub target: &'a Tensor,
}

/// A module's auxiliary network.
pub trait AuxNet: std::fmt::Debug + Send {
    /// The local loss (a scalar) for module output `h`.
    fn loss(&self, h: &Tensor, targets: &LocalTargets, train: bool) -> Tensor;

    /// Called after every optimizer step (GLCAN's EMA global branch follows the real units).
    fn after_step(&mut self) {}

    /// The real units' variables that [`Self::after_step`] reads (GLCAN's EMA global
    /// branch), as (unit position, variable name inside the unit), in a fixed order. The
    /// snapshot it reads is fixed by the schedule: the weights and statistics of the owning
    /// module as they stand after that module's step on the previous batch.
    fn followed_variables(&self) -> Vec<(usize, String)> {
        Vec::new()
    }

    /// Makes [`Self::after_step`] read `sources` (one per [`Self::followed_variables`],
    /// same order) instead of the tensors it reads now: the pipelined schedule hands it
    /// private snapshots, since the owning module trains on another thread meanwhile.
    fn set_followed_sources(&mut self, _sources: Vec<Tensor>) {}

    /// Tensors the aux net keeps outside its module's variable store that later steps
    /// depend on (GLCAN's EMA global branch), by name: shallow copies, so a checkpoint saves
    /// them and a resume restores them in place.
    fn private_state(&self) -> Vec<(String, Tensor)> {
        Vec::new()
    }
}

/// Where an aux net sits, and what it may see of the rest of the network.
pub struct AuxContext<'a> {
    pub network: &'a dyn UnitNetwork,
    /// 0-based index of the module, `< num_modules - 1`.
    pub module: usize,
    pub num_modules: usize,
    /// Position (into `network.units()`) of the module's last unit.
    pub last_unit: usize,
    /// Image channels and size of the network input (for reconstruction).
    pub image_channels: i64,
    pub image_size: i64,
    /// Variables of the real units, by unit position, for GLCAN's copy and EMA options
    /// (`None` when the trainer does not provide them).
    pub real_unit_variables: Option<&'a dyn Fn(usize) -> Vec<(String, Tensor)>>,
    /// The task head aux nets end in (GLCAN); `None`: a classifier over the network's classes.
    pub task_head: Option<&'a task_head::TaskHeadFactory>,
    /// How the aux net's parameters start (the run's `init`).
    pub init: InitMode,
}

impl AuxContext<'_> {
    /// The spec of the module's last unit: its output shape is the aux net's input.
    pub fn last_spec(&self) -> &UnitSpec {
        &self.network.units()[self.last_unit]
    }

    /// Channels of the module output.
    pub fn channels(&self) -> i64 {
        self.last_spec().out_channels
    }

    /// Spatial size of the module output.
    pub fn resolution(&self) -> i64 {
        self.network.resolution_after(self.last_unit)
    }

    pub fn num_classes(&self) -> i64 {
        self.network.num_classes()
    }

    /// A task head for features of `channels` channels under `p`.
    pub fn build_task_head(&self, p: nn::Path, channels: i64) -> Box<dyn task_head::TaskHead> {
        match self.task_head {
            Some(factory) => factory(p, channels, self.init),
            None => Box::new(task_head::ClassifierHead::new(p, channels, self.num_classes(), self.init)),
        }
    }
}

/// The knobs of every aux net; defaults are the papers' (or, for GLCAN, our recipe's).
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuxConfig {
    pub dgl: dgl::DglConfig,
    pub infopro: infopro::InfoProConfig,
    pub glcan: glcan::GlcanConfig,
    pub predsim: predsim::PredSimConfig,
    pub auglocal: auglocal::AugLocalConfig,
}

impl AuxConfig {
    /// Checks every aux net's options, so that a bad value fails a grid's check before any
    /// data loads rather than every run of that method one by one.
    pub fn validate(&self) -> Result<()> {
        self.glcan.validate()?;
        self.predsim.validate()?;
        self.auglocal.validate()
    }
}

/// Builds the aux net of `method` for the module described by `ctx` under `p`.
pub fn build(method: Method, config: &AuxConfig, p: nn::Path, ctx: &AuxContext) -> Result<Box<dyn AuxNet>> {
    // A task with its own aux head (detection, SR) has no class labels to classify.
    if ctx.task_head.is_some() && !Method::TASK_HEADED.contains(&method) {
        let names: Vec<_> = Method::TASK_HEADED.iter().map(|m| m.name()).collect();
        return Err(Error::config(
            "method",
            format!("{method} needs class labels, which this task does not have; it runs {}", names.join(", ")),
        ));
    }
    Ok(match method {
        Method::E2e => return Err(Error::config("method", "e2e trains one module and has no aux net")),
        Method::GreedySl => Box::new(greedy::GreedyAux::new(p, ctx)),
        Method::Dgl => Box::new(dgl::DglAux::new(p, &config.dgl, ctx)),
        Method::InfoproSoftmax => Box::new(infopro::InfoProAux::new(p, &config.infopro, infopro::InfoTerm::Softmax, ctx)?),
        Method::InfoproContrast => Box::new(infopro::InfoProAux::new(p, &config.infopro, infopro::InfoTerm::Contrast, ctx)?),
        Method::Glcan => Box::new(glcan::GlcanAux::new(p, &config.glcan, ctx)?),
        Method::PredSim => Box::new(predsim::PredSimAux::new(p, &config.predsim, ctx)?),
        Method::AugLocal => Box::new(auglocal::AugLocalAux::new(p, &config.auglocal, ctx)?),
    })
}

/// Conv + BN + ReLU, the brick of several aux nets.
#[derive(Debug)]
pub struct ConvBnRelu {
    conv: nn::Conv2D,
    bn: nn::BatchNorm,
}

impl ConvBnRelu {
    /// A bias-free conv started by `rule` (the aux net's paper's code), then BN, under `mode`.
    pub fn new(p: nn::Path, c_in: i64, c_out: i64, kernel: i64, stride: i64, rule: ConvRule, mode: InitMode) -> Self {
        let config = nn::ConvConfig { stride, padding: kernel / 2, bias: false, ..Default::default() };
        ConvBnRelu {
            conv: init::conv2d(&p / "conv", c_in, c_out, kernel, config, rule, mode),
            bn: init::batch_norm2d(&p / "bn", c_out, mode),
        }
    }
}

impl ModuleT for ConvBnRelu {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        xs.apply(&self.conv).apply_t(&self.bn, train).relu()
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! A ResNet-20 context and a batch, shared by the aux nets' smoke tests.
    use super::*;
    use crate::models::ResNetCifar;
    use tch::{Device, Kind};

    pub fn network() -> ResNetCifar {
        ResNetCifar::new(20, 3, 10, 32).unwrap()
    }

    pub fn context(network: &ResNetCifar, last_unit: usize) -> AuxContext<'_> {
        AuxContext {
            network,
            module: 0,
            num_modules: 3,
            last_unit,
            image_channels: 3,
            image_size: 32,
            real_unit_variables: None,
            task_head: None,
            init: InitMode::Reference,
        }
    }

    /// Runs the aux net on a random module output and checks the loss is a finite scalar
    /// that back-propagates into `h`.
    pub fn check_loss(aux: &dyn AuxNet, ctx: &AuxContext) {
        let (c, r) = (ctx.channels(), ctx.resolution());
        let h = Tensor::randn([4, c, r, r], (Kind::Float, Device::Cpu)).set_requires_grad(true);
        let images = Tensor::randn([4, 3, 32, 32], (Kind::Float, Device::Cpu));
        let raw = Tensor::rand([4, 3, 32, 32], (Kind::Float, Device::Cpu));
        let labels = Tensor::from_slice(&[0i64, 1, 2, 1]);
        let loss = aux.loss(&h, &LocalTargets { images: &images, raw_images: &raw, target: &labels }, true);
        assert_eq!(loss.size(), Vec::<i64>::new(), "the loss is a scalar");
        assert!(loss.double_value(&[]).is_finite());
        loss.backward();
        assert!(h.grad().abs().sum(Kind::Float).double_value(&[]) > 0.0, "the loss reaches the module output");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_names_round_trip() {
        for method in Method::ALL {
            assert_eq!(Method::from_name(method.name()).unwrap(), method);
            // Configs and result rows spell the method as the command line does.
            assert_eq!(serde_json::to_string(&method).unwrap(), format!("\"{}\"", method.name()));
        }
        assert!(Method::from_name("infopro").unwrap_err().to_string().contains("infopro-softmax"));
    }

    #[test]
    fn aux_config_validation_names_the_bad_knob() {
        let mut config = AuxConfig::default();
        assert!(config.validate().is_ok());
        config.predsim.beta = 2.0;
        assert!(config.validate().unwrap_err().to_string().contains("aux.predsim.beta"));
        config = AuxConfig::default();
        config.auglocal.width_factor = -1.0;
        assert!(config.validate().unwrap_err().to_string().contains("aux.auglocal.width_factor"));
    }

    #[test]
    fn a_suite_refuses_a_method_it_does_not_run() {
        assert!(Method::Glcan.check_suite("bench-sr", &Method::TASK_HEADED).is_ok());
        let message = Method::GreedySl.check_suite("bench-sr", &Method::TASK_HEADED).unwrap_err().to_string();
        assert_eq!(
            message,
            "invalid method: bench-sr does not run greedy-sl (greedy-sl's aux net needs class labels); it runs e2e, dgl, glcan"
        );
        let message = Method::AugLocal.check_suite("bench-detect", &Method::TASK_HEADED).unwrap_err().to_string();
        assert!(message.contains("auglocal's aux net needs class labels"), "{message}");
        let message = Method::PredSim.check_suite("bench-sr", &Method::TASK_HEADED).unwrap_err().to_string();
        assert!(message.contains("predsim's aux net needs class labels"), "{message}");
        let message = Method::Dgl.check_suite("demo", &[Method::E2e]).unwrap_err().to_string();
        assert_eq!(message, "invalid method: demo does not run dgl; it runs e2e");
    }

    #[test]
    fn a_task_without_class_labels_refuses_classifier_aux_nets() {
        let network = testing::network();
        let factory = |p: nn::Path, channels: i64, mode: InitMode| -> Box<dyn task_head::TaskHead> {
            Box::new(task_head::ClassifierHead::new(p, channels, 3, mode))
        };
        let ctx = AuxContext { task_head: Some(&factory), ..testing::context(&network, 3) };
        let vs = nn::VarStore::new(tch::Device::Cpu);
        for method in [Method::GreedySl, Method::InfoproSoftmax, Method::InfoproContrast, Method::PredSim, Method::AugLocal] {
            let message = build(method, &AuxConfig::default(), vs.root(), &ctx).unwrap_err().to_string();
            assert!(message.contains(&format!("{method} needs class labels")) && message.contains("it runs e2e, dgl, glcan"), "{message}");
        }
        assert!(build(Method::Dgl, &AuxConfig::default(), vs.root() / "dgl", &ctx).is_ok());
    }
}
