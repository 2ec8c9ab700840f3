//! AugLocal: "Scaling Supervised Local Learning with Augmented Auxiliary Networks", Chenxiang
//! Ma, Jibin Wu, Chenyang Si and Kay Chen Tan, ICLR 2024 (<https://arxiv.org/abs/2402.17318>;
//! code: <https://github.com/ChenxiangMA/AugLocal>).
//!
//! The aux net of a local module is a small copy of the network that follows it: `d` of the
//! later units, sampled uniformly between the module's last unit and the network's last unit,
//! built afresh (own weights, never shared with the real units) at `width_factor` times their
//! width, then global average pooling and a linear classifier trained with cross-entropy.
//! The depth shrinks with the module's position (the "pyramidal depth"), so early modules,
//! which are far from the head, get deeper aux nets.
//!
//! The rules below are those of the authors' released code (`networks/auxiliary_nets.py`,
//! `unifSamp`, and `networks/resnet.py`), which uses Python's `round` (ties to even):
//! - sampled units after unit `l` of `n`: all of them when `d >= n - 1 - l`, otherwise
//!   `round(l + (n - 1 - l) / d * i)` for `i = 1..=d`, so the last unit is always sampled;
//! - depth of local module `k` of `K`, with `r = k τ / (K - 2)` (0 when K = 2):
//!   `d_k = max(d_min, round(d (1 - r) + d_min r))`; defaults `d_min = 1`, `τ = 0.5`;
//! - a sampled unit down-samples by 2 while the real units it stands for (those since the
//!   previous sampled unit) have down-sampled more than the aux net so far: the code's rule
//!   (it reads the channel doubling, which coincides with the stride in these ResNets);
//! - the classifier is pooling + linear, with a BatchNorm1d before the linear layer when the
//!   depth is 1.

use tch::nn::{self, ModuleT};
use tch::Tensor;

use super::{AuxContext, AuxNet, LocalTargets};
use crate::models::init;
use crate::models::UnitSpec;
use crate::{Error, Result};

/// The AugLocal aux net's knobs, with the defaults of the authors' code and README.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AugLocalConfig {
    /// Depth `d` (number of sampled units) of the first local module's aux net; the README's
    /// ResNet-32 command uses 2.
    pub depth: usize,
    /// The smallest depth `d_min`: the last local module's target depth and a floor for all.
    pub min_depth: usize,
    /// Decay `τ` of the pyramidal depth in [0, 1]; 0 gives every module depth `d`.
    pub decay: f64,
    /// Width of the sampled units relative to the real ones (1: the released code's default).
    pub width_factor: f64,
}

impl Default for AugLocalConfig {
    fn default() -> Self {
        AugLocalConfig { depth: 2, min_depth: 1, decay: 0.5, width_factor: 1.0 }
    }
}

impl AugLocalConfig {
    pub fn validate(&self) -> Result<()> {
        if self.depth == 0 {
            return Err(Error::config("aux.auglocal.depth", "must be at least 1"));
        }
        if self.min_depth == 0 || self.min_depth > self.depth {
            return Err(Error::config("aux.auglocal.min_depth", format!("must be in [1, depth = {}], got {}", self.depth, self.min_depth)));
        }
        if !(0.0..=1.0).contains(&self.decay) {
            return Err(Error::config("aux.auglocal.decay", format!("must be in [0, 1], got {}", self.decay)));
        }
        if !(self.width_factor.is_finite() && self.width_factor > 0.0 && self.width_factor <= 4.0) {
            return Err(Error::config("aux.auglocal.width_factor", format!("must be in (0, 4], got {}", self.width_factor)));
        }
        Ok(())
    }
}

/// The pyramidal depth of local module `module` (0-based) out of `num_modules`.
pub fn pyramid_depth(config: &AugLocalConfig, module: usize, num_modules: usize) -> usize {
    let ratio = if num_modules > 2 { module as f64 * config.decay / (num_modules - 2) as f64 } else { 0.0 };
    let (d, d_min) = (config.depth as f64, config.min_depth as f64);
    let depth = (d * (1.0 - ratio) + d_min * ratio).round_ties_even() as usize;
    depth.max(config.min_depth)
}

/// Positions of the units sampled after `last_unit` in a network of `num_units` units.
pub fn sampled_units(num_units: usize, last_unit: usize, depth: usize) -> Vec<usize> {
    let remaining = num_units - 1 - last_unit;
    if depth >= remaining {
        return (last_unit + 1..num_units).collect();
    }
    let step = remaining as f64 / depth as f64;
    (1..=depth).map(|i| (last_unit as f64 + step * i as f64).round_ties_even() as usize).collect()
}

/// The specs of the sampled units as the aux net builds them: scaled by `width`, chained from
/// the module's `in_channels`, with the strides the code's down-sampling rule gives.
pub fn sampled_specs(units: &[UnitSpec], last_unit: usize, sampled: &[usize], in_channels: i64, width: f64) -> Vec<UnitSpec> {
    let mut c_in = in_channels;
    // Down-sampling the real units did that the aux net has not done yet.
    let mut pending = 1;
    let mut specs = Vec::with_capacity(sampled.len());
    for (j, unit) in units.iter().enumerate().skip(last_unit + 1) {
        pending *= unit.stride;
        if sampled.contains(&j) {
            let stride = if pending >= 2 { 2 } else { 1 };
            pending /= stride;
            let spec = UnitSpec { stride, ..unit.scaled(width).with_input(c_in) };
            c_in = spec.out_channels;
            specs.push(spec);
        }
    }
    specs
}

#[derive(Debug)]
pub struct AugLocalAux {
    sampled: Vec<usize>,
    units: Vec<Box<dyn ModuleT>>,
    norm: Option<nn::BatchNorm>,
    fc: nn::Linear,
}

impl AugLocalAux {
    pub fn new(p: nn::Path, config: &AugLocalConfig, ctx: &AuxContext) -> Result<Self> {
        config.validate()?;
        let depth = pyramid_depth(config, ctx.module, ctx.num_modules);
        let all = ctx.network.units();
        let sampled = sampled_units(all.len(), ctx.last_unit, depth);
        let specs = sampled_specs(all, ctx.last_unit, &sampled, ctx.channels(), config.width_factor);
        let units = specs.iter().enumerate().map(|(i, spec)| ctx.network.build_unit(&p / "units" / i, spec, ctx.init)).collect();
        let c = specs.last().map_or(ctx.channels(), |s| s.out_channels);
        Ok(AugLocalAux {
            sampled,
            units,
            // The copies start as the network's own units; head layers as `nn.*`'s defaults.
            norm: (depth <= 1).then(|| init::batch_norm1d(&p / "norm", c, ctx.init)),
            fc: init::linear(&p / "fc", c, ctx.num_classes(), ctx.init),
        })
    }

    /// Positions (into the network's units) of the units this aux net copies.
    pub fn sampled(&self) -> &[usize] {
        &self.sampled
    }

    /// Class logits for module output `h`.
    pub fn logits(&self, h: &Tensor, train: bool) -> Tensor {
        let features = self.units.iter().fold(h.shallow_clone(), |x, unit| unit.forward_t(&x, train));
        let pooled = features.adaptive_avg_pool2d([1, 1]).flatten(1, -1);
        let pooled = match &self.norm {
            Some(norm) => pooled.apply_t(norm, train),
            None => pooled,
        };
        pooled.apply(&self.fc)
    }
}

impl AuxNet for AugLocalAux {
    fn loss(&self, h: &Tensor, targets: &LocalTargets, train: bool) -> Tensor {
        self.logits(h, train).cross_entropy_for_logits(targets.target)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing;
    use super::*;
    use crate::models::{ResNetCifar, UnitNetwork};

    #[test]
    fn the_pyramid_follows_the_released_formula_with_ties_to_even() {
        let config = AugLocalConfig::default();
        // The README's ResNet-32 run: K = 16 - d = 14 modules at d = 2: 2 - k / 24, rounded.
        let depths: Vec<usize> = (0..13).map(|k| pyramid_depth(&config, k, 14)).collect();
        assert_eq!(depths, [2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2]);
        // ResNet-110's: K = 52 at d = 3: 3 - k / 50; k = 25 lands on 2.5, which rounds to 2.
        let deep = AugLocalConfig { depth: 3, ..config.clone() };
        assert_eq!([0, 12, 13, 25, 50].map(|k| pyramid_depth(&deep, k, 52)), [3, 3, 3, 2, 2]);
        // A steeper pyramid reaches d_min; τ = 0 keeps d everywhere; K = 2 has one module.
        let steep = AugLocalConfig { depth: 4, decay: 1.0, ..config.clone() };
        assert_eq!([0, 1, 2, 3, 4].map(|k| pyramid_depth(&steep, k, 6)), [4, 3, 2, 2, 1]);
        let flat = AugLocalConfig { depth: 4, decay: 0.0, ..config.clone() };
        assert_eq!([0, 4].map(|k| pyramid_depth(&flat, k, 6)), [4, 4]);
        assert_eq!(pyramid_depth(&config, 0, 2), 2);
    }

    #[test]
    fn layers_are_sampled_uniformly_up_to_the_last_unit() {
        // ResNet-32: 16 units. 0 + 7.5 -> 8; 2 + 6.5 = 8.5 -> 8 (ties to even).
        assert_eq!(sampled_units(16, 0, 2), [8, 15]);
        assert_eq!(sampled_units(16, 2, 2), [8, 15]);
        assert_eq!(sampled_units(16, 5, 3), [8, 12, 15]);
        // Fewer units left than the depth: all of them.
        assert_eq!(sampled_units(16, 13, 2), [14, 15]);
        assert_eq!(sampled_units(16, 13, 5), [14, 15]);
    }

    #[test]
    fn sampled_units_keep_the_real_down_sampling_at_reduced_width() {
        let net = ResNetCifar::new(32, 3, 10, 32).unwrap();
        // From the stem: unit 8 is in stage 2 (one stride 2 passed), unit 15 in stage 3.
        let specs = sampled_specs(net.units(), 0, &[8, 15], 16, 0.5);
        let shape: Vec<_> = specs.iter().map(|s| (s.in_channels, s.out_channels, s.stride)).collect();
        assert_eq!(shape, [(16, 16, 2), (16, 32, 2)]);
        // Jumping over both down-sampling units at once: one stride 2 now, the other carried.
        let specs = sampled_specs(net.units(), 5, &[12, 15], 16, 1.0);
        assert_eq!(specs.iter().map(|s| s.stride).collect::<Vec<_>>(), [2, 2]);
        let specs = sampled_specs(net.units(), 5, &[15], 16, 1.0);
        assert_eq!(specs.iter().map(|s| s.stride).collect::<Vec<_>>(), [2]);
    }

    #[test]
    fn smoke_at_every_depth() {
        let net = testing::network(); // ResNet-20: 10 units
        let vs = nn::VarStore::new(tch::Device::Cpu);
        for (i, (last_unit, depth)) in [(0, 1), (0, 3), (4, 2), (8, 2)].into_iter().enumerate() {
            let ctx = testing::context(&net, last_unit);
            let config = AugLocalConfig { depth, min_depth: 1, decay: 0.0, width_factor: 0.5 };
            let aux = AugLocalAux::new(vs.root() / i, &config, &ctx).unwrap();
            assert_eq!(aux.sampled().len(), depth.min(9 - last_unit));
            assert_eq!(aux.norm.is_some(), depth == 1, "BatchNorm1d before the classifier only at depth 1");
            testing::check_loss(&aux, &ctx);
        }
    }

    #[test]
    fn bad_knobs_name_their_field() {
        for (config, field) in [
            (AugLocalConfig { depth: 0, ..Default::default() }, "aux.auglocal.depth"),
            (AugLocalConfig { min_depth: 3, ..Default::default() }, "aux.auglocal.min_depth"),
            (AugLocalConfig { min_depth: 0, ..Default::default() }, "aux.auglocal.min_depth"),
            (AugLocalConfig { decay: 1.5, ..Default::default() }, "aux.auglocal.decay"),
            (AugLocalConfig { decay: f64::NAN, ..Default::default() }, "aux.auglocal.decay"),
            (AugLocalConfig { width_factor: 0.0, ..Default::default() }, "aux.auglocal.width_factor"),
        ] {
            let message = config.validate().unwrap_err().to_string();
            assert!(message.contains(field), "{message}");
        }
        assert!(AugLocalConfig::default().validate().is_ok());
    }
}
