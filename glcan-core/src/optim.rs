//! Optimizers and learning-rate schedules.
//!
//! Written here rather than taken from `tch::nn::Optimizer` because a local module must be
//! stepped on its own and a checkpoint must hold the optimizer state (momentum buffers,
//! Adam moments) so that `--resume` reaches the same final weights; tch's optimizers do
//! not expose that state. The update rules are PyTorch's (`torch.optim.SGD`, `Adam`).

use std::ffi::c_int;

use tch::nn::VarStore;
use tch::Tensor;
use torch_sys::C_tensor;

use crate::saved_state::SavedState;
use crate::{Error, Result};

extern "C" {
    /// `csrc/multi_tensor_sgd_shim.cpp`: SGD over `n` parameters and their momentum buffers.
    fn glcan_sgd_step(
        params: *const *mut C_tensor,
        buffers: *const *mut C_tensor,
        n: usize,
        lr: f64,
        momentum: f64,
        weight_decay: f64,
        nesterov: c_int,
    ) -> c_int;
}

/// The update rule and its hyper-parameters (the learning rate comes from the schedule).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum OptimizerConfig {
    /// SGD: `d = g + wd p; b = mu b + d; p -= lr (d + mu b)` with Nesterov, `p -= lr b` without.
    Sgd { momentum: f64, nesterov: bool, weight_decay: f64 },
    /// Adam with bias correction; `weight_decay` is added to the gradient (not decoupled).
    Adam { beta1: f64, beta2: f64, eps: f64, weight_decay: f64 },
}

impl OptimizerConfig {
    /// InfoPro's recipe: SGD, Nesterov momentum 0.9, weight decay 1e-4.
    pub fn infopro_sgd() -> Self {
        OptimizerConfig::Sgd { momentum: 0.9, nesterov: true, weight_decay: 1e-4 }
    }

    /// EDSR's recipe: Adam, betas (0.9, 0.999), eps 1e-8.
    pub fn edsr_adam() -> Self {
        OptimizerConfig::Adam { beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.0 }
    }

    pub fn validate(&self) -> Result<()> {
        let check = |field: &str, value: f64, ok: bool| {
            if ok {
                Ok(())
            } else {
                Err(Error::config(format!("optimizer.{field}"), format!("out of range: {value}")))
            }
        };
        match *self {
            OptimizerConfig::Sgd { momentum, weight_decay, nesterov } => {
                check("momentum", momentum, (0.0..1.0).contains(&momentum))?;
                check("weight_decay", weight_decay, weight_decay >= 0.0)?;
                if nesterov && momentum == 0.0 {
                    return Err(Error::config("optimizer.nesterov", "Nesterov needs a non-zero momentum"));
                }
                Ok(())
            }
            OptimizerConfig::Adam { beta1, beta2, eps, weight_decay } => {
                check("beta1", beta1, (0.0..1.0).contains(&beta1))?;
                check("beta2", beta2, (0.0..1.0).contains(&beta2))?;
                check("eps", eps, eps > 0.0)?;
                check("weight_decay", weight_decay, weight_decay >= 0.0)
            }
        }
    }
}

/// One optimizer over the trainable variables of one variable store.
#[derive(Debug)]
pub struct Optimizer {
    config: OptimizerConfig,
    /// Trainable variables, sorted by name so that state files line up.
    params: Vec<(String, Tensor)>,
    /// Per parameter: the momentum buffer (SGD) or the first and second moments (Adam),
    /// created at the first step.
    state: Vec<Vec<Tensor>>,
    steps: i64,
}

impl Optimizer {
    pub fn new(config: OptimizerConfig, store: &VarStore) -> Result<Self> {
        config.validate()?;
        let mut params: Vec<(String, Tensor)> = store.variables().into_iter().filter(|(_, t)| t.requires_grad()).collect();
        params.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(Optimizer { config, state: Vec::new(), params, steps: 0 })
    }

    /// Number of steps taken.
    pub fn steps(&self) -> i64 {
        self.steps
    }

    pub fn zero_grad(&mut self) {
        for (_, p) in &mut self.params {
            p.zero_grad();
        }
    }

    /// Applies one update with learning rate `lr` to every parameter that has a gradient.
    pub fn step(&mut self, lr: f64) {
        self.steps += 1;
        if self.state.is_empty() {
            let slots = if matches!(self.config, OptimizerConfig::Sgd { .. }) { 1 } else { 2 };
            self.state = self.params.iter().map(|(_, p)| (0..slots).map(|_| p.zeros_like()).collect()).collect();
        }
        if let OptimizerConfig::Sgd { momentum, nesterov, weight_decay } = self.config {
            self.sgd_step(lr, momentum, nesterov, weight_decay);
            return;
        }
        let t = self.steps as f64;
        tch::no_grad(|| {
            for ((_, p), state) in self.params.iter_mut().zip(&mut self.state) {
                let grad = p.grad();
                if !grad.defined() {
                    continue;
                }
                if let OptimizerConfig::Adam { beta1, beta2, eps, weight_decay } = self.config {
                    let g = if weight_decay != 0.0 { &grad + &*p * weight_decay } else { grad };
                    let _ = state[0].g_mul_scalar_(beta1).g_add_(&(&g * (1.0 - beta1)));
                    let _ = state[1].g_mul_scalar_(beta2).g_add_(&(&g * &g * (1.0 - beta2)));
                    let m_hat = &state[0] / (1.0 - beta1.powf(t));
                    let v_hat = &state[1] / (1.0 - beta2.powf(t));
                    let _ = p.g_sub_(&(m_hat / (v_hat.sqrt() + eps) * lr));
                }
            }
        });
    }

    /// SGD over every parameter in one call into `csrc/multi_tensor_sgd_shim.cpp`: the
    /// update of [`OptimizerConfig::Sgd`] with the same ATen operations in the same order as
    /// a per-parameter loop (the same weights, bit for bit), without a temporary tensor per
    /// operation and parameter. The gradients are overwritten.
    fn sgd_step(&mut self, lr: f64, momentum: f64, nesterov: bool, weight_decay: f64) {
        let params: Vec<*mut C_tensor> = self.params.iter_mut().map(|(_, p)| p.as_mut_ptr()).collect();
        let buffers: Vec<*mut C_tensor> = self.state.iter_mut().map(|slots| slots[0].as_mut_ptr()).collect();
        // SAFETY: live tch handles, one buffer per parameter, all outliving the call; the
        // shim catches every C++ exception.
        let status =
            unsafe { glcan_sgd_step(params.as_ptr(), buffers.as_ptr(), params.len(), lr, momentum, weight_decay, c_int::from(nesterov)) };
        // Like tch's in-place operators, a libtorch failure here is a bug, not a condition.
        assert_eq!(status, 0, "the multi-tensor SGD step failed in libtorch (parameters of mixed devices or dtypes?)");
    }

    /// The state to checkpoint: `"{param}#{slot}"` tensors and the step count.
    pub fn state_tensors(&self) -> Vec<(String, Tensor)> {
        let mut out = vec![("#steps".to_owned(), Tensor::from_slice(&[self.steps]))];
        for ((name, _), slots) in self.params.iter().zip(&self.state) {
            for (i, t) in slots.iter().enumerate() {
                out.push((format!("{name}#{i}"), t.shallow_clone()));
            }
        }
        out
    }

    /// Restores what [`Self::state_tensors`] saved, from the entries under `saved`.
    pub fn load_state(&mut self, saved: &SavedState) -> Result<()> {
        let steps = saved.get_count("#steps")?;
        let slots = if matches!(self.config, OptimizerConfig::Sgd { .. }) { 1 } else { 2 };
        let mut state = Vec::new();
        // The buffers exist from the first step on (Adam's bias correction also needs the count).
        if steps > 0 {
            for (name, p) in &self.params {
                let mut buffers = Vec::with_capacity(slots);
                for i in 0..slots {
                    let mut buffer = p.zeros_like();
                    saved.copy_into(&format!("{name}#{i}"), &mut buffer)?;
                    buffers.push(buffer);
                }
                state.push(buffers);
            }
        }
        self.steps = steps;
        self.state = state;
        Ok(())
    }
}

/// How the learning rate moves over training.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Schedule {
    Constant,
    /// Linear warm-up from 0 over `warmup_epochs`, then half a cosine down to 0 at the end.
    Cosine {
        warmup_epochs: f64,
    },
    /// Multiply by `gamma` at each epoch in `milestones`.
    Step {
        milestones: Vec<usize>,
        gamma: f64,
    },
}

impl Default for Schedule {
    /// InfoPro's: a cosine from the base rate to 0, no warm-up.
    fn default() -> Self {
        Schedule::Cosine { warmup_epochs: 0.0 }
    }
}

impl Schedule {
    /// The learning rate at `progress` epochs into a run of `total_epochs` (fractional
    /// progress: the rate changes every step).
    pub fn lr(&self, base: f64, progress: f64, total_epochs: usize) -> f64 {
        let total = total_epochs as f64;
        match self {
            Schedule::Constant => base,
            Schedule::Cosine { warmup_epochs } => {
                if progress < *warmup_epochs {
                    base * progress / warmup_epochs
                } else {
                    let t = ((progress - warmup_epochs) / (total - warmup_epochs).max(f64::MIN_POSITIVE)).clamp(0.0, 1.0);
                    0.5 * base * (1.0 + (std::f64::consts::PI * t).cos())
                }
            }
            Schedule::Step { milestones, gamma } => {
                let passed = milestones.iter().filter(|&&m| progress >= m as f64).count();
                base * gamma.powi(passed as i32)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use tch::{nn, Device, Kind};

    /// A store with one parameter p = [1, -2] whose loss is sum(c * p), so grad = c.
    fn setup(values: &[f32]) -> (VarStore, Tensor) {
        let store = VarStore::new(Device::Cpu);
        let p = store.root().var_copy("p", &Tensor::from_slice(values));
        (store, p)
    }

    fn backward(p: &Tensor, c: &[f32]) {
        (p * Tensor::from_slice(c)).sum(Kind::Float).backward();
    }

    fn values(p: &Tensor) -> Vec<f32> {
        Vec::<f32>::try_from(p.detach()).unwrap()
    }

    #[test]
    fn sgd_nesterov_matches_pytorch_by_hand() {
        let (store, p) = setup(&[1.0, -2.0]);
        let mut opt = Optimizer::new(OptimizerConfig::Sgd { momentum: 0.5, nesterov: true, weight_decay: 0.1 }, &store).unwrap();
        backward(&p, &[1.0, 1.0]);
        opt.step(0.1);
        // d = 1 + 0.1 p = [1.1, 0.8]; b = d; update = d + 0.5 b = [1.65, 1.2]; p -= 0.1 update.
        let after = values(&p);
        assert!((after[0] - 0.835).abs() < 1e-6 && (after[1] + 2.12).abs() < 1e-6, "{after:?}");
        opt.zero_grad();
        backward(&p, &[0.0, 0.0]);
        opt.step(0.1);
        // d = 0.1 p = [0.0835, -0.212]; b = 0.5 [1.1, 0.8] + d = [0.6335, 0.188]; update = d + 0.5 b.
        let after2 = values(&p);
        assert!((after2[0] - (0.835 - 0.1 * (0.0835 + 0.31675))).abs() < 1e-6, "{after2:?}");
        assert!((after2[1] - (-2.12 - 0.1 * (-0.212 + 0.094))).abs() < 1e-6, "{after2:?}");
    }

    /// The per-parameter SGD update that `Optimizer::step` ran before the multi-tensor shim,
    /// kept as the reference the shim must reproduce bit for bit.
    fn sgd_per_parameter(params: &mut [Tensor], buffers: &mut [Tensor], lr: f64, momentum: f64, nesterov: bool, weight_decay: f64) {
        tch::no_grad(|| {
            for (p, b) in params.iter_mut().zip(buffers.iter_mut()) {
                let grad = p.grad();
                if !grad.defined() {
                    continue;
                }
                let d = if weight_decay != 0.0 { &grad + &*p * weight_decay } else { grad };
                let update = if momentum == 0.0 {
                    d
                } else {
                    let _ = b.g_mul_scalar_(momentum).g_add_(&d);
                    if nesterov {
                        d + &*b * momentum
                    } else {
                        b.shallow_clone()
                    }
                };
                let _ = p.g_sub_(&(update * lr));
            }
        });
    }

    #[test]
    fn multi_tensor_sgd_gives_the_per_parameter_weights_bit_for_bit() {
        let cases = [(0.9, true, 1e-4), (0.9, false, 5e-4), (0.0, false, 1e-4), (0.5, true, 0.0)];
        for (momentum, nesterov, weight_decay) in cases {
            tch::manual_seed(3);
            let store = VarStore::new(Device::Cpu);
            let conv = nn::conv2d(store.root() / "conv", 3, 8, 3, Default::default());
            let bn = nn::batch_norm2d(store.root() / "bn", 8, Default::default());
            // A parameter without a gradient: both paths must skip it.
            let _unused = store.root().var("unused", &[5], nn::Init::Const(1.0));
            let config = OptimizerConfig::Sgd { momentum, nesterov, weight_decay };
            let mut opt = Optimizer::new(config.clone(), &store).unwrap();
            // The reference runs on copies of the same starting weights.
            let mut reference: Vec<Tensor> =
                opt.params.iter().map(|(_, p)| p.detach().copy().set_requires_grad(p.requires_grad())).collect();
            let mut buffers: Vec<Tensor> = reference.iter().map(Tensor::zeros_like).collect();
            let unused = opt.params.iter().position(|(n, _)| n == "unused").unwrap();
            for step in 0..3 {
                let xs = Tensor::randn([4, 3, 6, 6], (Kind::Float, Device::Cpu));
                let lr = 0.1 / (step + 1) as f64;
                xs.apply(&conv).apply_t(&bn, true).relu().square().mean(Kind::Float).backward();
                // The reference gets the very same gradients: d/dr sum(r * g) = g exactly.
                let pairs = opt.params.iter().zip(&reference).filter(|((_, p), _)| p.grad().defined());
                pairs.map(|((_, p), r)| (r * p.grad().copy()).sum(Kind::Float)).reduce(|a, b| a + b).unwrap().backward();
                opt.step(lr);
                sgd_per_parameter(&mut reference, &mut buffers, lr, momentum, nesterov, weight_decay);
                opt.zero_grad();
                reference.iter_mut().for_each(Tensor::zero_grad);
                for (i, (name, p)) in opt.params.iter().enumerate() {
                    assert!(p.equal(&reference[i]), "{name} after step {step} with {config:?}");
                    assert!(opt.state[i][0].equal(&buffers[i]), "{name}'s momentum after step {step} with {config:?}");
                }
            }
            assert!(opt.params[unused].1.equal(&Tensor::ones([5], (Kind::Float, Device::Cpu))), "untouched without a gradient");
        }
    }

    #[test]
    fn adam_first_step_moves_each_weight_by_lr() {
        // With bias correction, Adam's first step is lr * g / (|g| + eps) = lr * sign(g).
        let (store, p) = setup(&[1.0, -2.0]);
        let mut opt = Optimizer::new(OptimizerConfig::edsr_adam(), &store).unwrap();
        backward(&p, &[3.0, -0.5]);
        opt.step(0.01);
        let after = values(&p);
        assert!((after[0] - 0.99).abs() < 1e-5 && (after[1] + 1.99).abs() < 1e-5, "{after:?}");
    }

    #[test]
    fn state_round_trips_through_a_checkpoint() {
        let (store, p) = setup(&[1.0, 2.0]);
        let config = OptimizerConfig::infopro_sgd();
        let mut opt = Optimizer::new(config.clone(), &store).unwrap();
        backward(&p, &[1.0, -1.0]);
        opt.step(0.1);
        let entries: HashMap<String, Tensor> = opt.state_tensors().into_iter().map(|(k, t)| (k, t.copy())).collect();
        let file = std::path::Path::new("checkpoint.ot");
        let mut restored = Optimizer::new(config, &store).unwrap();
        restored.load_state(&SavedState::new(file, &entries)).unwrap();
        assert_eq!(restored.steps(), 1);
        assert!(restored.state[0][0].equal(&opt.state[0][0]));
        let mut broken = entries;
        broken.remove("p#0");
        let message = Optimizer::new(OptimizerConfig::infopro_sgd(), &store)
            .unwrap()
            .load_state(&SavedState::new(file, &broken))
            .unwrap_err()
            .to_string();
        assert!(message.contains("p#0") && message.contains("checkpoint.ot"), "{message}");
    }

    #[test]
    fn frozen_variables_are_left_alone() {
        let store = VarStore::new(Device::Cpu);
        let _bn = nn::batch_norm1d(store.root(), 2, Default::default());
        let opt = Optimizer::new(OptimizerConfig::infopro_sgd(), &store).unwrap();
        let names: Vec<_> = opt.params.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["bias", "weight"], "running statistics are not parameters");
    }

    #[test]
    fn bad_hyper_parameters_are_rejected() {
        let store = VarStore::new(Device::Cpu);
        let bad = OptimizerConfig::Sgd { momentum: 1.5, nesterov: true, weight_decay: 0.0 };
        assert!(Optimizer::new(bad, &store).unwrap_err().to_string().contains("optimizer.momentum"));
        let bad = OptimizerConfig::Sgd { momentum: 0.0, nesterov: true, weight_decay: 0.0 };
        assert!(Optimizer::new(bad, &store).unwrap_err().to_string().contains("optimizer.nesterov"));
    }

    #[test]
    fn schedules() {
        let cosine = Schedule::Cosine { warmup_epochs: 1.0 };
        assert_eq!(cosine.lr(0.8, 0.5, 11), 0.4);
        assert!((cosine.lr(0.8, 1.0, 11) - 0.8).abs() < 1e-12);
        assert!((cosine.lr(0.8, 6.0, 11) - 0.4).abs() < 1e-12);
        assert!(cosine.lr(0.8, 11.0, 11).abs() < 1e-12);
        let step = Schedule::Step { milestones: vec![2, 4], gamma: 0.1 };
        assert_eq!(step.lr(1.0, 1.9, 6), 1.0);
        assert!((step.lr(1.0, 4.0, 6) - 0.01).abs() < 1e-12);
        assert_eq!(Schedule::Constant.lr(0.3, 5.0, 6), 0.3);
    }
}
