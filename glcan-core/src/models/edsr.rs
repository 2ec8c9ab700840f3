//! EDSR ("Enhanced Deep Residual Networks for Single Image Super-Resolution", Lim et al.,
//! CVPRW 2017, <https://arxiv.org/abs/1707.02921>), as a chain of cuttable units.
//!
//! The network (its *baseline* preset: 16 residual blocks, 64 features, residual scale 1,
//! about 1.37 M parameters at x2):
//! ```text
//! x ─ sub_mean ─ head conv3x3 (3→F) ─┬─ 16 x [conv3x3 ─ ReLU ─ conv3x3, ·res_scale, + input] ─ conv3x3 ─ (+) ─ up-sampler ─ conv3x3 (F→3) ─ add_mean
//!                                    └───────────────────── global skip ─────────────────────────────────┘
//! ```
//! no batch normalisation anywhere; every convolution has a bias. The up-sampler is
//! conv3x3 (F→4F) + pixel shuffle 2 per factor 2 (one stage for x2, two for x4) or conv3x3
//! (F→9F) + pixel shuffle 3 for x3. Images are RGB on the `[0, rgb_range]` scale
//! (`rgb_range` 255 as EDSR trains); `sub_mean` subtracts `rgb_range` times the DIV2K RGB
//! mean (0.4488, 0.4371, 0.4040) and `add_mean` adds it back, as EDSR's `MeanShift` layers
//! do (with unit standard deviation; those fixed layers hold no trainable parameter here).
//!
//! **Units for local learning.** [`Edsr`] implements [`UnitNetwork`]: unit `[0,0]` is
//! `sub_mean` + the head conv, units `[1,0]..[1,15]` the residual blocks, unit `[2,0]` the
//! body-end conv with the global skip; [`UnitNetwork::build_head`] is the up-sampler + tail
//! conv + `add_mean`, and `num_classes` is the 3 output colours. The trait fits with one
//! device: the global skip needs the head's output at the body's end, and units only pass
//! one tensor. So between units the tensor *carries the skip beside the features*: a
//! carried tensor of C channels holds `ceil(C/2)` feature channels then `floor(C/2)` skip
//! channels (64 + 64 for the baseline). The head emits `[x0 | x0]`, each block updates the
//! feature half and passes the skip half on, and the body-end unit returns
//! `conv(features) + skip` (64 channels). End to end this is exactly EDSR (tested against a
//! direct forward below). Cut into local modules, the skip crosses a module boundary
//! detached, like the features, and an aux net sees both halves. Blocks copy their feature
//! half before using it so that autograd keeps an F-channel input per block, not the whole
//! carried tensor: the retained activation memory stays EDSR's.
//!
//! Width-scaled copies (GLCAN's reduced global branch, [`UnitSpec::scaled`]) keep this
//! layout; where a copy's input and output widths differ, 1x1 convolutions project the
//! residual path and the skip (the real network never needs them).
//!
//! `UnitKind` has no EDSR variants, so the specs carry the nearest ResNet kinds (head:
//! `CifarStem`, blocks and body end: `Basic`) for information only; [`Edsr::build_unit`]
//! builds by stage, never by kind.

use tch::nn::{self, ModuleT};
use tch::Tensor;

use super::init::{self, ConvRule, InitMode};
use super::{UnitId, UnitKind, UnitNetwork, UnitSpec};
use crate::{Error, Result};

/// Mean of DIV2K's training images per RGB channel, on the [0, 1] scale (EDSR's `rgb_mean`).
pub const DIV2K_RGB_MEAN: [f64; 3] = [0.4488, 0.4371, 0.4040];

/// Stages of the unit ids.
const HEAD_STAGE: usize = 0;
const BODY_STAGE: usize = 1;
const BODY_END_STAGE: usize = 2;

/// The hyper-parameters of an EDSR; defaults are the baseline at x2.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EdsrConfig {
    /// Up-scaling factor: 2, 3, 4 (or any power of two).
    pub scale: usize,
    /// Residual blocks in the body (16 baseline, 32 EDSR).
    pub n_resblocks: usize,
    /// Feature channels F (64 baseline, 256 EDSR).
    pub n_feats: i64,
    /// Factor on each block's residual branch (1 baseline, 0.1 EDSR, which needs it to
    /// train stably at 256 features).
    pub res_scale: f64,
    /// Pixel values run over [0, rgb_range]; EDSR uses 255.
    pub rgb_range: f64,
}

impl Default for EdsrConfig {
    fn default() -> Self {
        Self::baseline(2)
    }
}

impl EdsrConfig {
    /// EDSR-baseline (the paper's §4.1 single-scale baseline): 16 blocks, 64 features,
    /// residual scale 1.
    pub fn baseline(scale: usize) -> Self {
        EdsrConfig { scale, n_resblocks: 16, n_feats: 64, res_scale: 1.0, rgb_range: 255.0 }
    }

    /// The full EDSR of the paper: 32 blocks, 256 features, residual scale 0.1.
    pub fn paper(scale: usize) -> Self {
        EdsrConfig { scale, n_resblocks: 32, n_feats: 256, res_scale: 0.1, rgb_range: 255.0 }
    }

    /// Checks every field, naming the bad one.
    pub fn validate(&self) -> Result<()> {
        let power_of_two = self.scale >= 2 && self.scale.is_power_of_two();
        if !(power_of_two || self.scale == 3) {
            return Err(Error::config(
                "edsr.scale",
                format!("EDSR's up-sampler handles 3 and powers of two (2, 4, 8), not {}", self.scale),
            ));
        }
        if self.n_resblocks == 0 {
            return Err(Error::config("edsr.n_resblocks", "needs at least one residual block"));
        }
        if self.n_feats < 1 {
            return Err(Error::config("edsr.n_feats", format!("must be positive, got {}", self.n_feats)));
        }
        if !self.res_scale.is_finite() {
            return Err(Error::config("edsr.res_scale", format!("must be finite, got {}", self.res_scale)));
        }
        if !(self.rgb_range.is_finite() && self.rgb_range > 0.0) {
            return Err(Error::config("edsr.rgb_range", format!("must be positive, got {}", self.rgb_range)));
        }
        Ok(())
    }

    /// Factors of the up-sampler's pixel-shuffle stages (`[2, 2]` for x4, `[3]` for x3).
    fn shuffle_factors(&self) -> Vec<i64> {
        if self.scale == 3 {
            vec![3]
        } else {
            vec![2; self.scale.trailing_zeros() as usize]
        }
    }
}

/// An EDSR described unit by unit (see the module header).
#[derive(Debug, Clone)]
pub struct Edsr {
    config: EdsrConfig,
    lr_patch: i64,
    units: Vec<UnitSpec>,
}

impl Edsr {
    /// The network of `config` for LR inputs of `lr_patch` pixels (the size the memory
    /// bookkeeping assumes; any input size works).
    pub fn new(config: EdsrConfig, lr_patch: i64) -> Result<Self> {
        config.validate()?;
        if lr_patch < 1 {
            return Err(Error::config("edsr.lr_patch", format!("must be positive, got {lr_patch}")));
        }
        let f = config.n_feats;
        let carried = 2 * f;
        let mut units = vec![UnitSpec {
            id: UnitId::new(HEAD_STAGE, 0),
            kind: UnitKind::CifarStem,
            in_channels: 3,
            out_channels: carried,
            stride: 1,
            mid_channels: f,
        }];
        for index in 0..config.n_resblocks {
            units.push(UnitSpec {
                id: UnitId::new(BODY_STAGE, index),
                kind: UnitKind::Basic,
                in_channels: carried,
                out_channels: carried,
                stride: 1,
                mid_channels: f,
            });
        }
        units.push(UnitSpec {
            id: UnitId::new(BODY_END_STAGE, 0),
            kind: UnitKind::Basic,
            in_channels: carried,
            out_channels: f,
            stride: 1,
            mid_channels: f,
        });
        Ok(Edsr { config, lr_patch, units })
    }

    /// EDSR-baseline at `scale` for LR patches of `lr_patch` pixels.
    pub fn baseline(scale: usize, lr_patch: i64) -> Result<Self> {
        Self::new(EdsrConfig::baseline(scale), lr_patch)
    }

    pub fn config(&self) -> &EdsrConfig {
        &self.config
    }

    pub fn scale(&self) -> usize {
        self.config.scale
    }
}

impl UnitNetwork for Edsr {
    /// `edsr-baseline-x2`, `edsr-x4` (the paper's), or `edsr-{blocks}b{feats}f-x{scale}`.
    fn name(&self) -> String {
        let c = &self.config;
        if *c == EdsrConfig::baseline(c.scale) {
            format!("edsr-baseline-x{}", c.scale)
        } else if *c == EdsrConfig::paper(c.scale) {
            format!("edsr-x{}", c.scale)
        } else {
            format!("edsr-{}b{}f-x{}", c.n_resblocks, c.n_feats, c.scale)
        }
    }

    fn units(&self) -> &[UnitSpec] {
        &self.units
    }

    fn input_size(&self) -> i64 {
        self.lr_patch
    }

    /// The output colours (RGB).
    fn num_classes(&self) -> i64 {
        3
    }

    fn build_unit(&self, p: nn::Path, spec: &UnitSpec, mode: InitMode) -> Box<dyn ModuleT> {
        match spec.id.stage {
            HEAD_STAGE => Box::new(Head::new(p, spec.in_channels, spec.out_channels, self.config.rgb_range, mode)),
            BODY_STAGE => Box::new(ResBlock::new(p, spec.in_channels, spec.out_channels, self.config.res_scale, mode)),
            _ => Box::new(BodyEnd::new(p, spec.in_channels, spec.out_channels, mode)),
        }
    }

    /// The up-sampler, the tail conv (F→3) and `add_mean`: the HR image.
    fn build_head(&self, p: nn::Path, mode: InitMode) -> Box<dyn ModuleT> {
        Box::new(Tail::new(p, &self.config, mode))
    }
}

/// A 3x3 (or 1x1) convolution with bias, initialised as PyTorch's `nn.Conv2d` (EDSR uses
/// the defaults): `kaiming_uniform_(a = sqrt(5))` weights and bias, both uniform in
/// ±1/sqrt(fan_in), in both init modes ([`ConvRule::Edsr`]). (tch's default weight init is
/// He-uniform with the ReLU gain, bound sqrt(6/fan_in): 2.4 times wider, which makes a
/// 20-layer EDSR start with outputs in the thousands instead of near the image range.)
pub fn conv(p: nn::Path, c_in: i64, c_out: i64, kernel: i64, mode: InitMode) -> nn::Conv2D {
    let config = nn::ConvConfig { padding: kernel / 2, ..Default::default() };
    init::conv2d(p, c_in, c_out, kernel, config, ConvRule::Edsr, mode)
}

/// How a carried tensor of `channels` channels splits: (features, skip).
fn carried_split(channels: i64) -> (i64, i64) {
    (channels - channels / 2, channels / 2)
}

/// `rgb_range` times the DIV2K mean, shaped `[1, 3, 1, 1]` on the path's device.
fn mean_shift(p: &nn::Path, rgb_range: f64) -> Tensor {
    let mean: Vec<f32> = DIV2K_RGB_MEAN.iter().map(|m| (m * rgb_range) as f32).collect();
    Tensor::from_slice(&mean).view([1, 3, 1, 1]).to_device(p.device())
}

/// A projection to `c_out` channels when the width changes (scaled copies only).
fn projection_if_needed(p: nn::Path, c_in: i64, c_out: i64, mode: InitMode) -> Option<nn::Conv2D> {
    (c_in != c_out).then(|| conv(p, c_in, c_out, 1, mode))
}

fn project(projection: &Option<nn::Conv2D>, xs: &Tensor) -> Tensor {
    match projection {
        Some(conv) => xs.apply(conv),
        None => xs.shallow_clone(),
    }
}

/// The features and the skip of a carried tensor, as fresh tensors (see the header on
/// memory). A 1-channel carried tensor has no skip half; its features stand in for it.
fn unpack(xs: &Tensor) -> (Tensor, Tensor) {
    let (features, skip) = carried_split(xs.size()[1]);
    let f = xs.narrow(1, 0, features).copy();
    let s = if skip == 0 { f.shallow_clone() } else { xs.narrow(1, features, skip).copy() };
    (f, s)
}

/// Unit `[0,0]`: `sub_mean`, the head conv, and the carried `[x0 | x0]`.
#[derive(Debug)]
pub struct Head {
    mean: Tensor,
    conv: nn::Conv2D,
    skip_channels: i64,
}

impl Head {
    /// `colors` input channels (3), `carried` output channels (2F).
    pub fn new(p: nn::Path, colors: i64, carried: i64, rgb_range: f64, mode: InitMode) -> Self {
        let (features, skip_channels) = carried_split(carried);
        Head { mean: mean_shift(&p, rgb_range), conv: conv(&p / "conv", colors, features, 3, mode), skip_channels }
    }
}

impl ModuleT for Head {
    fn forward_t(&self, xs: &Tensor, _train: bool) -> Tensor {
        let x0 = (xs - &self.mean).apply(&self.conv);
        let skip = x0.narrow(1, 0, self.skip_channels);
        Tensor::cat(&[&x0, &skip], 1)
    }
}

/// Units `[1,i]`: conv3x3 - ReLU - conv3x3 on the features, scaled by `res_scale` and added
/// to them; the skip half passes through.
#[derive(Debug)]
pub struct ResBlock {
    conv1: nn::Conv2D,
    conv2: nn::Conv2D,
    shortcut: Option<nn::Conv2D>,
    skip: Option<nn::Conv2D>,
    /// Width of the skip half emitted (0 only for a 1-channel carried output).
    skip_out: i64,
    res_scale: f64,
}

impl ResBlock {
    /// Carried widths in and out (2F both for EDSR itself).
    pub fn new(p: nn::Path, c_in: i64, c_out: i64, res_scale: f64, mode: InitMode) -> Self {
        let ((f_in, s_in), (f_out, skip_out)) = (carried_split(c_in), carried_split(c_out));
        // Without a skip half in the input, `unpack` hands the features over as the skip.
        let s_in = if s_in == 0 { f_in } else { s_in };
        ResBlock {
            conv1: conv(&p / "conv1", f_in, f_out, 3, mode),
            conv2: conv(&p / "conv2", f_out, f_out, 3, mode),
            shortcut: projection_if_needed(&p / "shortcut", f_in, f_out, mode),
            skip: if skip_out == 0 { None } else { projection_if_needed(&p / "skip", s_in, skip_out, mode) },
            skip_out,
            res_scale,
        }
    }
}

impl ModuleT for ResBlock {
    fn forward_t(&self, xs: &Tensor, _train: bool) -> Tensor {
        let (features, skip) = unpack(xs);
        let residual = features.apply(&self.conv1).relu().apply(&self.conv2);
        let residual = if self.res_scale == 1.0 { residual } else { residual * self.res_scale };
        let features = project(&self.shortcut, &features) + residual;
        if self.skip_out == 0 {
            return features;
        }
        Tensor::cat(&[features, project(&self.skip, &skip)], 1)
    }
}

/// Unit `[2,0]`: the body-end conv3x3 on the features, plus the global skip.
#[derive(Debug)]
pub struct BodyEnd {
    conv: nn::Conv2D,
    skip: Option<nn::Conv2D>,
}

impl BodyEnd {
    /// Carried width in (2F), feature width out (F).
    pub fn new(p: nn::Path, c_in: i64, c_out: i64, mode: InitMode) -> Self {
        let (f_in, s_in) = carried_split(c_in);
        let s_in = if s_in == 0 { f_in } else { s_in };
        BodyEnd { conv: conv(&p / "conv", f_in, c_out, 3, mode), skip: projection_if_needed(&p / "skip", s_in, c_out, mode) }
    }
}

impl ModuleT for BodyEnd {
    fn forward_t(&self, xs: &Tensor, _train: bool) -> Tensor {
        let (features, skip) = unpack(xs);
        features.apply(&self.conv) + project(&self.skip, &skip)
    }
}

/// The task head: pixel-shuffle up-sampler, tail conv3x3 (F→3), `add_mean`.
#[derive(Debug)]
pub struct Tail {
    upsampler: Vec<(nn::Conv2D, i64)>,
    conv: nn::Conv2D,
    mean: Tensor,
}

impl Tail {
    pub fn new(p: nn::Path, config: &EdsrConfig, mode: InitMode) -> Self {
        let f = config.n_feats;
        let upsampler =
            config.shuffle_factors().into_iter().enumerate().map(|(i, r)| (conv(&p / "upsampler" / i, f, r * r * f, 3, mode), r)).collect();
        Tail { upsampler, conv: conv(&p / "conv", f, 3, 3, mode), mean: mean_shift(&p, config.rgb_range) }
    }
}

impl ModuleT for Tail {
    fn forward_t(&self, xs: &Tensor, _train: bool) -> Tensor {
        let up = self.upsampler.iter().fold(xs.shallow_clone(), |h, (conv, r)| h.apply(conv).pixel_shuffle(*r));
        up.apply(&self.conv) + &self.mean
    }
}

/// Number of trainable scalars in a variable store.
pub fn trainable_parameters(store: &nn::VarStore) -> i64 {
    store.trainable_variables().iter().map(|t| t.numel() as i64).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::Chain;
    use std::collections::HashMap;
    use tch::{Device, Kind};

    /// EDSR-baseline's parameter count at each scale, counted by hand from the layer sizes
    /// (weights k·k·c_in·c_out plus c_out biases):
    /// head 3·3·3·64 + 64 = 1 792; each block 2 · (3·3·64·64 + 64) = 73 856, 16 of them
    /// 1 181 696; body end 36 928; tail conv 3·3·64·3 + 3 = 1 731; up-sampler x2:
    /// 3·3·64·256 + 256 = 147 712, x3: 3·3·64·576 + 576 = 332 352, x4: 2 · 147 712.
    const BASE: i64 = 1_792 + 1_181_696 + 36_928 + 1_731;

    #[test]
    fn baseline_parameter_counts_match_the_hand_count() {
        for (scale, upsampler, known) in [(2, 147_712, 1_369_859), (3, 332_352, 1_554_499), (4, 295_424, 1_517_571)] {
            assert_eq!(BASE + upsampler, known);
            let store = nn::VarStore::new(Device::Cpu);
            let net = Edsr::baseline(scale, 8).unwrap();
            let _chain = Chain::build(&net, store.root(), InitMode::Tch);
            // The published figure for EDSR-baseline x2 is 1.37 M.
            assert_eq!(trainable_parameters(&store), known, "x{scale}");
        }
    }

    #[test]
    fn weights_start_as_pytorch_conv2d() {
        // PyTorch's nn.Conv2d: weights and biases uniform in ±1/sqrt(fan_in), in both modes.
        let store = nn::VarStore::new(Device::Cpu);
        for mode in [InitMode::Reference, InitMode::Tch] {
            let c = conv(store.root() / mode.name(), 64, 64, 3, mode);
            let bound = 1.0 / (64.0f64 * 9.0).sqrt();
            // Within the bound, and reaching well into it (64 biases all below half of it would
            // happen with probability 2^-64).
            for t in [&c.ws, c.bs.as_ref().unwrap()] {
                let largest = t.abs().max().double_value(&[]);
                assert!(largest <= bound && largest > 0.5 * bound, "{mode}: {largest} vs {bound}");
            }
        }
        // An untrained baseline maps a mid-grey image to values near the image range.
        tch::manual_seed(0);
        let store = nn::VarStore::new(Device::Cpu);
        let chain = Chain::build(&Edsr::baseline(2, 8).unwrap(), store.root(), InitMode::Tch);
        let ys = tch::no_grad(|| chain.forward(&(Tensor::ones([1, 3, 8, 8], (Kind::Float, Device::Cpu)) * 128.0), false));
        let spread = ys.abs().max().double_value(&[]);
        assert!(spread < 1000.0, "{spread}");
    }

    #[test]
    fn outputs_are_scale_times_larger_and_finite() {
        tch::manual_seed(0);
        for scale in [2, 3, 4] {
            let store = nn::VarStore::new(Device::Cpu);
            let net = Edsr::baseline(scale, 12).unwrap();
            let chain = Chain::build(&net, store.root(), InitMode::Tch);
            let xs = Tensor::rand([2, 3, 12, 10], (Kind::Float, Device::Cpu)) * 255.0;
            let ys = tch::no_grad(|| chain.forward(&xs, false));
            assert_eq!(ys.size(), [2, 3, 12 * scale as i64, 10 * scale as i64], "x{scale}");
            assert!(bool::try_from(ys.isfinite().all()).unwrap());
        }
    }

    #[test]
    fn units_name_head_blocks_and_body_end() {
        let net = Edsr::baseline(2, 48).unwrap();
        assert_eq!(net.name(), "edsr-baseline-x2");
        assert_eq!(Edsr::new(EdsrConfig::paper(4), 48).unwrap().name(), "edsr-x4");
        let units = net.units();
        assert_eq!(units.len(), 18);
        assert_eq!((units[0].id, units[0].in_channels, units[0].out_channels), (UnitId::new(0, 0), 3, 128));
        assert_eq!((units[16].id, units[16].in_channels, units[16].out_channels), (UnitId::new(1, 15), 128, 128));
        assert_eq!((units[17].id, units[17].in_channels, units[17].out_channels), (UnitId::new(2, 0), 128, 64));
        assert_eq!((net.resolution_after(17), net.num_classes()), (48, 3));
        assert_eq!(net.position_of(UnitId::new(1, 7)), Some(8));
    }

    #[test]
    fn bad_configs_name_their_field() {
        for (config, field) in [
            (EdsrConfig { scale: 5, ..EdsrConfig::default() }, "edsr.scale"),
            (EdsrConfig { scale: 1, ..EdsrConfig::default() }, "edsr.scale"),
            (EdsrConfig { n_resblocks: 0, ..EdsrConfig::default() }, "edsr.n_resblocks"),
            (EdsrConfig { n_feats: 0, ..EdsrConfig::default() }, "edsr.n_feats"),
            (EdsrConfig { res_scale: f64::NAN, ..EdsrConfig::default() }, "edsr.res_scale"),
            (EdsrConfig { rgb_range: 0.0, ..EdsrConfig::default() }, "edsr.rgb_range"),
        ] {
            let message = Edsr::new(config, 48).unwrap_err().to_string();
            assert!(message.contains(field), "{message}");
        }
        assert!(Edsr::baseline(2, 0).unwrap_err().to_string().contains("edsr.lr_patch"));
        assert_eq!(EdsrConfig::baseline(8).shuffle_factors(), vec![2, 2, 2]);
    }

    /// EDSR's forward written directly (one tensor, explicit global skip) from the chain's
    /// own variables must give the chain's output: the carried skip changes nothing.
    #[test]
    fn the_unit_chain_computes_edsr_itself() {
        tch::manual_seed(1);
        let config = EdsrConfig { scale: 2, n_resblocks: 3, n_feats: 8, res_scale: 0.5, rgb_range: 255.0 };
        let net = Edsr::new(config.clone(), 6).unwrap();
        let store = nn::VarStore::new(Device::Cpu);
        let chain = Chain::build(&net, store.root(), InitMode::Tch);
        let vars: HashMap<String, Tensor> = store.variables();
        let conv = |x: &Tensor, name: &str| {
            let (w, b) = (&vars[&format!("{name}.weight")], &vars[&format!("{name}.bias")]);
            x.conv2d(w, Some(b), [1, 1], [w.size()[2] / 2, w.size()[3] / 2], [1, 1], 1)
        };
        let mean = Tensor::from_slice(&[0.4488f32 * 255.0, 0.4371 * 255.0, 0.4040 * 255.0]).view([1, 3, 1, 1]);
        let xs = Tensor::rand([2, 3, 6, 5], (Kind::Float, Device::Cpu)) * 255.0;
        let reference = tch::no_grad(|| {
            let x0 = conv(&(&xs - &mean), "units.0.conv");
            let mut h = x0.shallow_clone();
            for i in 1..=3 {
                let r = conv(&conv(&h, &format!("units.{i}.conv1")).relu(), &format!("units.{i}.conv2"));
                h = &h + r * 0.5;
            }
            let body = conv(&h, "units.4.conv") + &x0;
            conv(&conv(&body, "head.upsampler.0").pixel_shuffle(2), "head.conv") + &mean
        });
        let ys = tch::no_grad(|| chain.forward(&xs, false));
        let gap = f64::try_from((ys - reference).abs().max()).unwrap();
        assert!(gap < 1e-3, "{gap}");
        // Only the layers of EDSR itself exist: no projections in the real network.
        assert!(vars.keys().all(|name| !name.contains("shortcut") && !name.contains("skip")), "{:?}", vars.keys());
    }

    #[test]
    fn width_scaled_copies_chain_and_keep_the_shapes() {
        // GLCAN's global branch: a scaled body-end fed by the full-width carried tensor,
        // and scaled blocks, including odd widths.
        let net = Edsr::baseline(2, 8).unwrap();
        let store = nn::VarStore::new(Device::Cpu);
        let block = net.units()[1].scaled(0.27).with_input(128); // 128 -> 35 channels
        let end = net.units()[17].scaled(0.27).with_input(block.out_channels);
        let units: Vec<_> = [block, end].iter().enumerate().map(|(i, s)| net.build_unit(store.root() / i, s, InitMode::Tch)).collect();
        let xs = Tensor::rand([1, 128, 8, 8], (Kind::Float, Device::Cpu));
        let h = units[0].forward_t(&xs, false);
        assert_eq!(h.size(), [1, block.out_channels, 8, 8]);
        let y = units[1].forward_t(&h, false);
        assert_eq!(y.size(), [1, end.out_channels, 8, 8]);
        // The narrowest copy: one carried channel, no skip half left to carry.
        let block = net.units()[1].scaled(0.001).with_input(128);
        let end = net.units()[17].scaled(0.001).with_input(1);
        assert_eq!((block.out_channels, end.in_channels, end.out_channels), (1, 1, 1));
        let h = net.build_unit(store.root() / "b", &block, InitMode::Tch).forward_t(&xs, false);
        assert_eq!(h.size(), [1, 1, 8, 8]);
        assert_eq!(net.build_unit(store.root() / "e", &end, InitMode::Tch).forward_t(&h, false).size(), [1, 1, 8, 8]);
    }

    #[test]
    fn a_cut_body_trains_each_part_alone() {
        // Detach between two halves: the second half's loss leaves the first half's
        // gradients undefined, including through the carried global skip.
        let net = Edsr::new(EdsrConfig { n_resblocks: 2, n_feats: 4, ..EdsrConfig::baseline(2) }, 6).unwrap();
        let (first, second) = (nn::VarStore::new(Device::Cpu), nn::VarStore::new(Device::Cpu));
        let a: Vec<_> = (0..2).map(|i| net.build_unit(first.root() / i, &net.units()[i], InitMode::Tch)).collect();
        let b: Vec<_> = (2..4).map(|i| net.build_unit(second.root() / i, &net.units()[i], InitMode::Tch)).collect();
        let head = net.build_head(second.root() / "head", InitMode::Tch);
        let xs = Tensor::rand([1, 3, 6, 6], (Kind::Float, Device::Cpu)) * 255.0;
        let h = a.iter().fold(xs, |h, u| u.forward_t(&h, true));
        let out = b.iter().fold(h.detach(), |h, u| u.forward_t(&h, true));
        head.forward_t(&out, true).abs().mean(Kind::Float).backward();
        assert!(second.trainable_variables().iter().all(|t| t.grad().defined()));
        assert!(first.trainable_variables().iter().all(|t| !t.grad().defined()));
    }
}
