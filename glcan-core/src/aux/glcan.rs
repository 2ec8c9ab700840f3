//! GLCAN: Global-Local Collaborative Auxiliary Network, Zhu et al. 2024
//! (<https://arxiv.org/abs/2406.00446>).
//!
//! The paper gives a macroscopic recipe, not layers; this is our reading of it (README,
//! "GLCAN as we build it"). The aux net of module k sees the module output `h` twice:
//! - a **local branch**, a light conv3x3 + BN + ReLU stack at the module's own resolution,
//!   which keeps fine detail;
//! - a **global branch**, a compact surrogate of the rest of the network, so the aux net sees
//!   the receptive field and abstraction level the real head will need: by default the first
//!   (down-sampling) unit of every later stage; or (`global_units = "uniform-sample"`)
//!   AugLocal's choice, units sampled uniformly from all later ones with a depth that shrinks
//!   towards the head. It is built at reduced width from scratch, or (stage heads only) at
//!   full width as a copy (then trained) or an EMA (not trained) of the real units.
//!
//! The two branches **collaborate**: they are fused (concatenation, a learnable gated sum,
//! or for dense tasks an FPN-style top-down path) and feed one task head of the kind of the
//! real head, trained with the task loss.
//! Optional per-branch heads add `branch_loss_weight` x their own task losses (off by
//! default: on held-out training images they cost accuracy, see `scripts/glcan-options.sh`).
//!
//! Initialisation: GLCAN's code is not public, so its own layers (local branch, fusion,
//! task heads) start at PyTorch's defaults ([`ConvRule::PyTorch`], `nn.Linear`'s, BN 1/0).
//! A scratch global branch is built as the network's own units and starts as they do.

use tch::nn::{self, ModuleT};
use tch::{Kind, Tensor};

use super::auglocal::{self, AugLocalConfig};
use super::task_head::TaskHead;
use super::{AuxContext, AuxNet, ConvBnRelu, LocalTargets};
use crate::models::init::{self, ConvRule, InitMode};
use crate::models::{fpn, UnitSpec};
use crate::{Error, Result};

/// How the global branch gets its weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GlobalInit {
    /// Fresh random weights, trained by the aux loss (any width).
    Scratch,
    /// A copy of the real later units at construction, then trained (width 1 only).
    Copy,
    /// An exponential moving average of the real later units, never trained by the aux
    /// loss (width 1 only), as in the sibling papers MAN and MLAAN.
    Ema,
}

/// Which later units the global branch imitates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GlobalUnits {
    /// The first unit of every stage after the module's ([`global_unit_positions`]).
    StageHeads,
    /// AugLocal's rule ([`auglocal::sampled_units`]): `global_depth` units sampled uniformly
    /// between the module and the network's last unit, the depth shrinking with the module's
    /// position as AugLocal's pyramid does (its `d_min` and `τ` defaults, 1 and 0.5).
    UniformSample,
}

impl GlobalUnits {
    fn is_stage_heads(&self) -> bool {
        *self == GlobalUnits::StageHeads
    }
}

const DEFAULT_GLOBAL_DEPTH: usize = 2;

fn is_zero(value: &f64) -> bool {
    *value == 0.0
}

fn is_default_global_depth(depth: &usize) -> bool {
    *depth == DEFAULT_GLOBAL_DEPTH
}

/// How the local and global branches are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fusion {
    /// Pool the local branch to the global resolution and concatenate channels.
    Concat,
    /// Upsample the global branch (nearest) to the local resolution and concatenate
    /// channels: for dense tasks (detection), whose task head needs the module's own
    /// resolution to place small objects, as an FPN's top-down path does.
    ConcatUp,
    /// Project the pooled local branch to the global width; `g * local + (1 - g) * global`
    /// with a learnable per-channel gate `g = sigmoid(a)`, `a` starting at 0.
    GatedSum,
    /// An FPN top-down path (Lin et al. 2017) over the global branch: every global unit's
    /// output, projected to the local width by a 1x1 lateral, is added to the upsampled
    /// coarser sum, and the result to the local branch, at the module's resolution. The
    /// head sees every later level's context at the cost of the module's width, where
    /// `concat-up` carries the full global width at the module's resolution.
    TopDown,
}

/// The GLCAN recipe's knobs.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GlcanConfig {
    /// conv3x3 + BN + ReLU layers of the local branch (at least 1).
    pub local_layers: usize,
    /// Width multiplier of the global branch (must be 1 for `copy` and `ema`).
    pub global_width: f64,
    pub global_init: GlobalInit,
    /// Left out of a config file at its default, so that run folders and config hashes
    /// written before the setting existed stay valid.
    #[serde(skip_serializing_if = "GlobalUnits::is_stage_heads")]
    pub global_units: GlobalUnits,
    /// `uniform-sample` only: units sampled for the first module (AugLocal's `d`); left out
    /// at its default, as `global_units`.
    #[serde(skip_serializing_if = "is_default_global_depth")]
    pub global_depth: usize,
    /// EMA momentum m: `w <- m w + (1 - m) w_real` after every step.
    pub ema_momentum: f64,
    pub fusion: Fusion,
    /// Weight of the per-branch task losses (0 switches those heads off).
    pub branch_loss_weight: f64,
    /// Per-branch heads only where the module's cut lies at least this far into the network
    /// (its last unit's position over the unit count, in [0, 1]): 0 puts them on every aux
    /// net, 0.5 on the deep cuts only. Left out of config files at 0.
    #[serde(skip_serializing_if = "is_zero")]
    pub branch_heads_from_depth: f64,
    /// Switches for ablations (and regression tests): drop one branch entirely.
    pub use_local: bool,
    pub use_global: bool,
}

impl Default for GlcanConfig {
    fn default() -> Self {
        GlcanConfig {
            local_layers: 1,
            global_width: 0.5,
            global_init: GlobalInit::Scratch,
            global_units: GlobalUnits::StageHeads,
            global_depth: DEFAULT_GLOBAL_DEPTH,
            ema_momentum: 0.995,
            fusion: Fusion::Concat,
            branch_loss_weight: 0.0,
            branch_heads_from_depth: 0.0,
            use_local: true,
            use_global: true,
        }
    }
}

impl GlcanConfig {
    pub fn validate(&self) -> Result<()> {
        if !self.use_local && !self.use_global {
            return Err(Error::config("aux.glcan", "use_local and use_global are both false: the aux net would see nothing"));
        }
        if self.use_local && self.local_layers == 0 {
            return Err(Error::config("aux.glcan.local_layers", "must be at least 1 when the local branch is used"));
        }
        if !(self.global_width.is_finite() && self.global_width > 0.0 && self.global_width <= 4.0) {
            return Err(Error::config("aux.glcan.global_width", format!("must be in (0, 4], got {}", self.global_width)));
        }
        if self.global_init != GlobalInit::Scratch && self.global_width != 1.0 {
            return Err(Error::config(
                "aux.glcan.global_width",
                format!("global_init = {:?} copies the real units, so the width must be 1, not {}", self.global_init, self.global_width),
            ));
        }
        if self.global_units == GlobalUnits::UniformSample && self.global_init != GlobalInit::Scratch {
            return Err(Error::config(
                "aux.glcan.global_units",
                format!(
                    "uniform-sample re-strides the sampled units, so they cannot copy the real ones: global_init must be scratch, not {:?}",
                    self.global_init
                ),
            ));
        }
        if self.global_depth == 0 {
            return Err(Error::config("aux.glcan.global_depth", "must be at least 1"));
        }
        if !(0.0..1.0).contains(&self.ema_momentum) {
            return Err(Error::config("aux.glcan.ema_momentum", format!("must be in [0, 1), got {}", self.ema_momentum)));
        }
        if self.branch_loss_weight.is_nan() || self.branch_loss_weight < 0.0 {
            return Err(Error::config("aux.glcan.branch_loss_weight", "must be non-negative"));
        }
        if !(0.0..=1.0).contains(&self.branch_heads_from_depth) {
            return Err(Error::config(
                "aux.glcan.branch_heads_from_depth",
                format!("must be in [0, 1], got {}", self.branch_heads_from_depth),
            ));
        }
        Ok(())
    }
}

/// Positions of the real units the global branch imitates: the first unit of every stage
/// after the module's; when the module ends in the last stage, just the next unit.
pub fn global_unit_positions(ctx: &AuxContext) -> Vec<usize> {
    let units = ctx.network.units();
    let stage = units[ctx.last_unit].id.stage;
    let later: Vec<usize> = (ctx.last_unit + 1..units.len()).filter(|&i| units[i].id.stage > stage && units[i].id.index == 0).collect();
    if later.is_empty() && ctx.last_unit + 1 < units.len() {
        vec![ctx.last_unit + 1]
    } else {
        later
    }
}

/// EMA state: a private store (kept out of every optimizer), (branch, real) variable pairs,
/// and the momentum.
type EmaState = (nn::VarStore, Vec<(Tensor, Tensor)>, f64);

/// What each EMA pair follows: (unit position, variable name inside the unit).
type Followed = Vec<(usize, String)>;

/// The global branch's units and, for EMA, the store that keeps them out of the optimizer.
#[derive(Debug)]
struct GlobalBranch {
    units: Vec<Box<dyn ModuleT>>,
    /// Output channels of each unit.
    units_out_channels: Vec<i64>,
    out_channels: i64,
    /// EMA only: the branch's own variables paired with the real units' (destination, source).
    ema: Option<EmaState>,
    /// EMA only: which real variable each pair's source is.
    followed: Followed,
}

impl GlobalBranch {
    fn new(p: &nn::Path, config: &GlcanConfig, ctx: &AuxContext) -> Result<Self> {
        let (positions, specs) = match config.global_units {
            GlobalUnits::StageHeads => {
                let positions = global_unit_positions(ctx);
                let specs = scaled_chain(ctx.channels(), positions.iter().map(|&i| ctx.network.units()[i]), config.global_width);
                (positions, specs)
            }
            GlobalUnits::UniformSample => {
                let pyramid = AugLocalConfig { depth: config.global_depth, ..AugLocalConfig::default() };
                let depth = auglocal::pyramid_depth(&pyramid, ctx.module, ctx.num_modules);
                let all = ctx.network.units();
                let positions = auglocal::sampled_units(all.len(), ctx.last_unit, depth);
                let specs = auglocal::sampled_specs(all, ctx.last_unit, &positions, ctx.channels(), config.global_width);
                (positions, specs)
            }
        };
        let out_channels = specs.last().map_or(ctx.channels(), |s| s.out_channels);
        let units_out_channels = specs.iter().map(|s| s.out_channels).collect();
        if config.global_init == GlobalInit::Scratch {
            let units = specs.iter().enumerate().map(|(i, spec)| ctx.network.build_unit(p / "global" / i, spec, ctx.init)).collect();
            return Ok(GlobalBranch { units, units_out_channels, out_channels, ema: None, followed: Vec::new() });
        }
        let real = ctx.real_unit_variables.ok_or_else(|| {
            Error::config("aux.glcan.global_init", "copy and ema need the real units' weights, which this trainer does not provide")
        })?;
        // EMA weights live in a private store so that no optimizer ever sees them.
        let private = (config.global_init == GlobalInit::Ema).then(|| nn::VarStore::new(p.device()));
        let root = match &private {
            Some(store) => store.root(),
            None => p / "global",
        };
        let mut units = Vec::new();
        let mut pairs = Vec::new();
        let mut followed = Vec::new();
        for (i, (spec, &position)) in specs.iter().zip(&positions).enumerate() {
            units.push(ctx.network.build_unit(&root / i, spec, ctx.init));
            for (name, source) in real(position) {
                let mut destination = variable_at(&(&root / i), &name)
                    .ok_or_else(|| Error::config("aux.glcan", format!("global unit {i} has no variable {name} to copy into")))?;
                tch::no_grad(|| destination.copy_(&source));
                pairs.push((destination, source));
                followed.push((position, name));
            }
        }
        let ema = private.map(|mut store| {
            store.freeze();
            (store, pairs, config.ema_momentum)
        });
        let followed = if ema.is_some() { followed } else { Vec::new() };
        Ok(GlobalBranch { units, units_out_channels, out_channels, ema, followed })
    }

    fn forward(&self, h: &Tensor, train: bool) -> Tensor {
        self.forward_levels(h, train).pop().unwrap_or_else(|| h.shallow_clone())
    }

    /// Every unit's output, the first unit's first.
    fn forward_levels(&self, h: &Tensor, train: bool) -> Vec<Tensor> {
        let mut levels: Vec<Tensor> = Vec::with_capacity(self.units.len());
        for unit in &self.units {
            let x = levels.last().unwrap_or(h).shallow_clone();
            levels.push(unit.forward_t(&x, train));
        }
        levels
    }

    /// The EMA weights (the private store's variables), sorted by name; empty otherwise.
    fn ema_variables(&self) -> Vec<(String, Tensor)> {
        let mut variables: Vec<_> = self.ema.iter().flat_map(|(store, _, _)| store.variables()).collect();
        variables.sort_by(|a, b| a.0.cmp(&b.0));
        variables
    }

    fn follow_real_units(&mut self) {
        if let Some((_, pairs, momentum)) = &mut self.ema {
            tch::no_grad(|| {
                for (destination, source) in pairs.iter_mut() {
                    if destination.is_floating_point() {
                        let _ = destination.g_mul_scalar_(*momentum);
                        let _ = destination.g_add_(&(source.detach() * (1.0 - *momentum)));
                    } else {
                        destination.copy_(source); // e.g. BN's num_batches_tracked
                    }
                }
            });
        }
    }
}

/// The specs of `units` with widths scaled by `factor`, chained from `in_channels`.
fn scaled_chain(in_channels: i64, units: impl Iterator<Item = UnitSpec>, factor: f64) -> Vec<UnitSpec> {
    let mut c_in = in_channels;
    units
        .map(|unit| {
            let spec = unit.scaled(factor).with_input(c_in);
            c_in = spec.out_channels;
            spec
        })
        .collect()
}

/// The variable `a.b.c` under `p`.
fn variable_at(p: &nn::Path, dotted: &str) -> Option<Tensor> {
    match dotted.split_once('.') {
        None => p.get(dotted),
        Some((head, rest)) => variable_at(&p.sub(head), rest),
    }
}

/// The fusion as built: each kind with the layers it needs.
#[derive(Debug)]
enum FusionLayers {
    /// One branch only: its features go to the head as they are.
    OneBranch,
    Concat,
    ConcatUp,
    /// The 1x1 projection of the local branch and the gate's logits.
    GatedSum {
        projection: nn::Conv2D,
        logits: Tensor,
    },
    /// One 1x1 lateral per global unit, to the local width.
    TopDown {
        laterals: Vec<nn::Conv2D>,
    },
}

impl FusionLayers {
    /// The layers of `fusion` under `p`, and the channels they hand to the head.
    fn new(p: &nn::Path, fusion: Fusion, c_local: i64, global: Option<&GlobalBranch>, mode: InitMode) -> (Self, i64) {
        let Some(global) = global.filter(|_| c_local > 0) else {
            return (FusionLayers::OneBranch, c_local + global.map_or(0, |g| g.out_channels));
        };
        let c_global = global.out_channels;
        match fusion {
            Fusion::Concat => (FusionLayers::Concat, c_local + c_global),
            Fusion::ConcatUp => (FusionLayers::ConcatUp, c_local + c_global),
            Fusion::GatedSum => {
                let projection = init::conv2d(p / "gate" / "projection", c_local, c_global, 1, Default::default(), ConvRule::PyTorch, mode);
                let logits = (p / "gate").zeros("logits", &[1, c_global, 1, 1]);
                (FusionLayers::GatedSum { projection, logits }, c_global)
            }
            Fusion::TopDown => {
                let laterals = global
                    .units_out_channels
                    .iter()
                    .enumerate()
                    .map(|(i, &c_in)| init::conv2d(p / "lateral" / i, c_in, c_local, 1, Default::default(), ConvRule::PyTorch, mode))
                    .collect();
                (FusionLayers::TopDown { laterals }, c_local)
            }
        }
    }
}

#[derive(Debug)]
pub struct GlcanAux {
    local: Vec<ConvBnRelu>,
    global: Option<GlobalBranch>,
    fusion: FusionLayers,
    head: Box<dyn TaskHead>,
    /// Per-branch heads (local, global), when both branches exist and their weight is > 0.
    branch_heads: Option<(Box<dyn TaskHead>, Box<dyn TaskHead>)>,
    branch_loss_weight: f64,
}

impl GlcanAux {
    pub fn new(p: nn::Path, config: &GlcanConfig, ctx: &AuxContext) -> Result<Self> {
        config.validate()?;
        let c = ctx.channels();
        let local: Vec<ConvBnRelu> = if config.use_local {
            (0..config.local_layers).map(|i| ConvBnRelu::new(&p / "local" / i, c, c, 3, 1, ConvRule::PyTorch, ctx.init)).collect()
        } else {
            Vec::new()
        };
        let global = if config.use_global { Some(GlobalBranch::new(&p, config, ctx)?) } else { None };
        let c_local = if config.use_local { c } else { 0 };
        let c_global = global.as_ref().map_or(0, |g| g.out_channels);
        let (fusion, c_fused) = FusionLayers::new(&p, config.fusion, c_local, global.as_ref(), ctx.init);
        let depth = (ctx.last_unit + 1) as f64 / ctx.network.units().len() as f64;
        let branch_heads =
            (config.branch_loss_weight > 0.0 && config.use_local && config.use_global && depth >= config.branch_heads_from_depth)
                .then(|| (ctx.build_task_head(&p / "local_head", c_local), ctx.build_task_head(&p / "global_head", c_global)));
        Ok(GlcanAux {
            local,
            global,
            fusion,
            head: ctx.build_task_head(&p / "head", c_fused),
            branch_heads,
            branch_loss_weight: config.branch_loss_weight,
        })
    }

    /// Local features, global features (either may be absent) and their fusion.
    fn branches(&self, h: &Tensor, train: bool) -> (Option<Tensor>, Option<Tensor>, Tensor) {
        let local = (!self.local.is_empty()).then(|| self.local.iter().fold(h.shallow_clone(), |x, layer| layer.forward_t(&x, train)));
        let (Some(l), Some(branch)) = (&local, &self.global) else {
            let global = self.global.as_ref().map(|g| g.forward(h, train));
            let only = local.as_ref().or(global.as_ref()).expect("validated: at least one branch").shallow_clone();
            return (local, global, only);
        };
        if let FusionLayers::TopDown { laterals } = &self.fusion {
            let levels = branch.forward_levels(h, train);
            let fused = top_down(l, &levels, laterals);
            return (local, levels.last().map(Tensor::shallow_clone), fused);
        }
        let g = branch.forward(h, train);
        let fused = match &self.fusion {
            FusionLayers::ConcatUp => {
                let size = l.size();
                Tensor::cat(&[l.shallow_clone(), g.upsample_nearest2d([size[2], size[3]], None, None)], 1)
            }
            FusionLayers::GatedSum { projection, logits } => {
                let size = g.size();
                let gate = logits.sigmoid();
                l.adaptive_avg_pool2d([size[2], size[3]]).apply(projection) * &gate + &g * (1.0 - &gate)
            }
            FusionLayers::Concat => {
                let size = g.size();
                Tensor::cat(&[l.adaptive_avg_pool2d([size[2], size[3]]), g.shallow_clone()], 1)
            }
            FusionLayers::OneBranch | FusionLayers::TopDown { .. } => unreachable!("both branches exist; top-down returned above"),
        };
        (local, Some(g), fused)
    }
}

/// FPN's top-down path over the global levels ([`fpn::top_down`]), its finest sum added
/// onto `local` at the local resolution.
fn top_down(local: &Tensor, levels: &[Tensor], laterals: &[nn::Conv2D]) -> Tensor {
    match fpn::top_down(levels, laterals).first() {
        Some(finest) => local + fpn::upsample_like(finest, local),
        None => local.shallow_clone(),
    }
}

impl AuxNet for GlcanAux {
    fn loss(&self, h: &Tensor, targets: &LocalTargets, train: bool) -> Tensor {
        let (local, global, fused) = self.branches(h, train);
        let mut loss = self.head.loss(&fused, targets, train);
        if let (Some((local_head, global_head)), Some(l), Some(g)) = (&self.branch_heads, &local, &global) {
            let branch_loss = local_head.loss(l, targets, train) + global_head.loss(g, targets, train);
            loss += branch_loss * self.branch_loss_weight;
        }
        loss.to_kind(Kind::Float)
    }

    fn after_step(&mut self) {
        if let Some(global) = &mut self.global {
            global.follow_real_units();
        }
    }

    /// The EMA global branch's weights as `ema-global.{unit}.{variable}`: they follow the
    /// real units step by step, so a resumed run needs them, not a fresh copy.
    fn followed_variables(&self) -> Vec<(usize, String)> {
        self.global.as_ref().map_or_else(Vec::new, |g| g.followed.clone())
    }

    fn set_followed_sources(&mut self, sources: Vec<Tensor>) {
        if let Some((_, pairs, _)) = self.global.as_mut().and_then(|g| g.ema.as_mut()) {
            assert_eq!(sources.len(), pairs.len(), "one source per followed variable");
            for ((_, source), new) in pairs.iter_mut().zip(sources) {
                *source = new;
            }
        }
    }

    fn private_state(&self) -> Vec<(String, Tensor)> {
        self.global.iter().flat_map(|g| g.ema_variables()).map(|(name, t)| (format!("ema-global.{name}"), t)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing;
    use super::*;
    use crate::models::UnitNetwork;

    #[test]
    fn global_branch_imitates_the_later_down_sampling_units() {
        let net = testing::network(); // ResNet-20: stem, 3 blocks per stage
        let ctx = testing::context(&net, 1); // ends at [1,0]
        assert_eq!(global_unit_positions(&ctx), vec![4, 7]); // [2,0] and [3,0]
        let ctx = testing::context(&net, 7); // ends at [3,0]: only the next unit is left
        assert_eq!(global_unit_positions(&ctx), vec![8]);
        let specs = scaled_chain(16, [4, 7].iter().map(|&i| net.units()[i]), 0.5);
        assert_eq!((specs[0].in_channels, specs[0].out_channels, specs[1].in_channels, specs[1].out_channels), (16, 16, 16, 32));
    }

    #[test]
    fn new_settings_at_their_defaults_leave_config_files_and_hashes_as_before() {
        let default = serde_json::to_value(GlcanConfig::default()).unwrap();
        for key in ["global_units", "global_depth", "branch_heads_from_depth"] {
            assert!(default.get(key).is_none(), "{key} in {default}");
        }
        let uniform = GlcanConfig { global_units: GlobalUnits::UniformSample, global_depth: 3, ..Default::default() };
        let uniform = serde_json::to_value(uniform).unwrap();
        assert_eq!((uniform["global_units"].as_str(), uniform["global_depth"].as_u64()), (Some("uniform-sample"), Some(3)));
        let back: GlcanConfig = serde_json::from_value(default).unwrap();
        assert_eq!(back, GlcanConfig::default(), "an older file reads back as the defaults");
    }

    #[test]
    fn branch_heads_can_be_kept_to_the_deep_cuts() {
        let net = testing::network(); // ResNet-20: 10 units
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let config = GlcanConfig { branch_loss_weight: 0.1, branch_heads_from_depth: 0.5, ..Default::default() };
        // A cut after unit 1 is 2/10 of the way in; after unit 6, 7/10.
        let shallow = GlcanAux::new(vs.root() / "shallow", &config, &testing::context(&net, 1)).unwrap();
        let deep = GlcanAux::new(vs.root() / "deep", &config, &testing::context(&net, 6)).unwrap();
        assert!(shallow.branch_heads.is_none() && deep.branch_heads.is_some());
        testing::check_loss(&deep, &testing::context(&net, 6));
        let bad = GlcanConfig { branch_heads_from_depth: 1.5, ..Default::default() };
        assert!(bad.validate().unwrap_err().to_string().contains("aux.glcan.branch_heads_from_depth"));
    }

    #[test]
    fn uniform_sample_takes_auglocals_units_and_pyramid() {
        let net = testing::network(); // ResNet-20: 10 units
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let config = GlcanConfig { global_units: GlobalUnits::UniformSample, global_depth: 2, ..Default::default() };
        // Module 0 of 4 ends at unit 1: depth 2, units 1 + 4 = 5 and 9. Module 2 of 4 ends
        // at unit 6: depth round(2 - 0.5) = 2 (ties to even), units 8 and 9.
        for (module, last_unit, expected) in [(0, 1, vec![5, 9]), (2, 6, vec![8, 9])] {
            let ctx = AuxContext { module, num_modules: 4, ..testing::context(&net, last_unit) };
            let aux = GlcanAux::new(vs.root() / module, &config, &ctx).unwrap();
            let global = aux.global.as_ref().unwrap();
            assert_eq!(global.units.len(), expected.len());
            let specs = auglocal::sampled_specs(net.units(), last_unit, &expected, ctx.channels(), 0.5);
            assert_eq!(global.units_out_channels, specs.iter().map(|s| s.out_channels).collect::<Vec<_>>());
            testing::check_loss(&aux, &ctx);
        }
    }

    #[test]
    fn smoke_every_fusion_and_ablation() {
        let net = testing::network();
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let variants = [
            GlcanConfig::default(),
            GlcanConfig { fusion: Fusion::GatedSum, ..Default::default() },
            GlcanConfig { fusion: Fusion::ConcatUp, ..Default::default() },
            GlcanConfig { fusion: Fusion::TopDown, ..Default::default() },
            GlcanConfig { use_global: false, ..Default::default() },
            GlcanConfig { use_local: false, ..Default::default() },
            GlcanConfig { branch_loss_weight: 0.1, local_layers: 2, global_width: 1.0, ..Default::default() },
            GlcanConfig { global_units: GlobalUnits::UniformSample, ..Default::default() },
            GlcanConfig { global_units: GlobalUnits::UniformSample, global_depth: 3, fusion: Fusion::TopDown, ..Default::default() },
        ];
        for (v, config) in variants.iter().enumerate() {
            for last_unit in [0, 4, 8] {
                let ctx = testing::context(&net, last_unit);
                testing::check_loss(&GlcanAux::new(vs.root() / v / last_unit, config, &ctx).unwrap(), &ctx);
            }
        }
    }

    #[test]
    fn top_down_adds_every_coarser_level_upsampled_onto_the_local_map() {
        let vs = nn::VarStore::new(tch::Device::Cpu);
        // Identity laterals (1 channel, weight 1, bias 0) and then weight 2 on the coarsest.
        let laterals: Vec<nn::Conv2D> = (0..2).map(|i| nn::conv2d(vs.root() / i, 1, 1, 1, Default::default())).collect();
        tch::no_grad(|| {
            for (lateral, w) in laterals.iter().zip([1.0, 2.0]) {
                let _ = lateral.ws.shallow_clone().fill_(w);
                let _ = lateral.bs.as_ref().unwrap().shallow_clone().fill_(0.0);
            }
        });
        let local = Tensor::arange(16, (Kind::Float, tch::Device::Cpu)).view([1, 1, 4, 4]);
        let fine = Tensor::from_slice(&[10.0f32, 20.0, 30.0, 40.0]).view([1, 1, 2, 2]);
        let coarse = Tensor::from_slice(&[100.0f32]).view([1, 1, 1, 1]);
        let fused = top_down(&local, &[fine, coarse], &laterals);
        let values = Vec::<f32>::try_from(fused.flatten(0, -1)).unwrap();
        // Pixel (0, 0): 0 + 10 + 2 x 100; pixel (3, 3): 15 + 40 + 200; pixel (1, 2): 6 + 20 + 200.
        assert_eq!((values[0], values[15], values[6]), (210.0, 255.0, 226.0));
    }

    #[test]
    fn copy_and_ema_start_from_the_real_units_and_ema_follows_them() {
        let net = testing::network();
        let real_store = nn::VarStore::new(tch::Device::Cpu);
        let real_units: Vec<_> =
            net.units().iter().enumerate().map(|(i, spec)| net.build_unit(real_store.root() / i, spec, InitMode::Reference)).collect();
        assert_eq!(real_units.len(), 10);
        let lookup = |position: usize| -> Vec<(String, Tensor)> {
            let prefix = format!("{position}.");
            real_store.variables().into_iter().filter_map(|(name, t)| name.strip_prefix(&prefix).map(|rest| (rest.to_owned(), t))).collect()
        };
        let ctx = AuxContext { real_unit_variables: Some(&lookup), ..testing::context(&net, 3) };
        let aux_store = nn::VarStore::new(tch::Device::Cpu);
        for init in [GlobalInit::Copy, GlobalInit::Ema] {
            let config = GlcanConfig { global_init: init, global_width: 1.0, ema_momentum: 0.5, ..Default::default() };
            let mut aux = GlcanAux::new(aux_store.root() / format!("{init:?}"), &config, &ctx).unwrap();
            let global = aux.global.as_ref().unwrap();
            let x = tch::Tensor::randn([2, 16, 32, 32], (Kind::Float, tch::Device::Cpu));
            let expected = real_units[7].forward_t(&real_units[4].forward_t(&x, false), false);
            assert!(global.forward(&x, false).allclose(&expected, 1e-5, 1e-6, false), "{init:?} starts as the real units");
            if init == GlobalInit::Ema {
                // Move a real weight; one EMA step with m = 0.5 goes halfway.
                let mut weight = real_store.root().sub("4").sub("conv1").get("weight").unwrap();
                let before = weight.copy();
                tch::no_grad(|| {
                    let _ = weight.g_add_scalar_(1.0);
                });
                aux.after_step();
                let (_, pairs, _) = aux.global.as_ref().unwrap().ema.as_ref().unwrap();
                let followed = pairs.iter().find(|(_, s)| s.data_ptr() == weight.data_ptr()).unwrap();
                assert!(followed.0.allclose(&(before + 0.5), 1e-5, 1e-6, false));
            }
        }
    }

    #[test]
    fn bad_configs_name_their_field() {
        let net = testing::network();
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let ctx = testing::context(&net, 0);
        for (config, field) in [
            (GlcanConfig { use_local: false, use_global: false, ..Default::default() }, "aux.glcan"),
            (GlcanConfig { global_init: GlobalInit::Ema, ..Default::default() }, "aux.glcan.global_width"),
            (GlcanConfig { ema_momentum: 1.0, ..Default::default() }, "aux.glcan.ema_momentum"),
            (GlcanConfig { local_layers: 0, ..Default::default() }, "aux.glcan.local_layers"),
            (GlcanConfig { global_depth: 0, ..Default::default() }, "aux.glcan.global_depth"),
            (
                GlcanConfig {
                    global_units: GlobalUnits::UniformSample,
                    global_init: GlobalInit::Copy,
                    global_width: 1.0,
                    ..Default::default()
                },
                "aux.glcan.global_units",
            ),
        ] {
            let message = GlcanAux::new(vs.root(), &config, &ctx).unwrap_err().to_string();
            assert!(message.contains(field), "{message}");
        }
        let copy = GlcanConfig { global_init: GlobalInit::Copy, global_width: 1.0, ..Default::default() };
        assert!(GlcanAux::new(vs.root(), &copy, &ctx).unwrap_err().to_string().contains("real units"));
    }
}
