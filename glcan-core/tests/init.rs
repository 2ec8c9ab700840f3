//! Where the parameters start, layer kind by layer kind: a ResNet-32 and every aux net under
//! `init = "reference"` (the papers' code), and the ResNet under `init = "tch"` (tch's
//! defaults, as before the setting).

use std::collections::HashMap;

use glcan_core::aux::{self, AuxConfig, AuxContext, Method};
use glcan_core::models::{Chain, InitMode, ResNetCifar};
use tch::{nn, Device, Kind, Tensor};

/// How a convolution's weights should be distributed.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Conv {
    /// N(0, 2 / fan_out): InfoPro's and torchvision's ResNets.
    HeNormalFanOut,
    /// U(±1/sqrt(fan_in)), bias too: PyTorch's `nn.Conv2d`.
    PyTorch,
}

fn values(t: &Tensor) -> Vec<f64> {
    Vec::<f64>::try_from(t.to_kind(Kind::Double).flatten(0, -1)).unwrap()
}

fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    (mean, (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt())
}

/// What one store held, by layer kind.
#[derive(Default)]
struct Seen {
    batch_norms: usize,
    convs: usize,
    linears: usize,
    /// Conv weights divided by their expected std (He-normal) or bound (uniform), pooled.
    he_normal: Vec<f64>,
    uniform: Vec<f64>,
}

/// Checks every BatchNorm, convolution and linear layer of `store` under `reference`;
/// `rule` says which conv rule a weight's name follows.
fn check_reference(store: &nn::VarStore, rule: impl Fn(&str) -> Conv, what: &str) -> Seen {
    let variables: HashMap<String, Tensor> = store.variables();
    let mut seen = Seen::default();
    for (name, t) in &variables {
        let Some(prefix) = name.strip_suffix(".weight") else { continue };
        let bias = variables.get(&format!("{prefix}.bias"));
        let size = t.size();
        if variables.contains_key(&format!("{prefix}.running_mean")) {
            seen.batch_norms += 1;
            assert!(values(t).iter().all(|&w| w == 1.0), "{what} {name}: BN weights start at 1");
            assert!(values(bias.unwrap()).iter().all(|&b| b == 0.0), "{what} {prefix}.bias: BN biases start at 0");
        } else if size.len() == 4 {
            seen.convs += 1;
            let receptive = size[2] * size[3];
            let (fan_in, fan_out) = ((size[1] * receptive) as f64, (size[0] * receptive) as f64);
            let w = values(t);
            let (mean, std) = mean_std(&w);
            let uniform_bound = 1.0 / fan_in.sqrt();
            match rule(name) {
                Conv::HeNormalFanOut => {
                    let expected = (2.0 / fan_out).sqrt();
                    if w.len() >= 2000 {
                        assert!((std / expected - 1.0).abs() < 0.08, "{what} {name}: std {std}, He-normal fan_out {expected}");
                        assert!(mean.abs() < 0.1 * expected, "{what} {name}: mean {mean}");
                        // A normal draw this large passes 2.5 std (a uniform one never passes 1.73).
                        assert!(w.iter().any(|x| x.abs() > 2.5 * expected), "{what} {name}: no normal tail");
                    }
                    seen.he_normal.extend(w.iter().map(|x| x / expected));
                }
                Conv::PyTorch => {
                    assert!(w.iter().all(|x| x.abs() <= uniform_bound), "{what} {name}: outside ±1/sqrt(fan_in)");
                    if w.len() >= 2000 {
                        let expected = uniform_bound / 3f64.sqrt();
                        assert!((std / expected - 1.0).abs() < 0.08, "{what} {name}: std {std}, U(±1/sqrt(fan_in)) {expected}");
                    }
                    seen.uniform.extend(w.iter().map(|x| x / uniform_bound));
                }
            }
            if let Some(bias) = bias {
                // Every conv bias here keeps nn.Conv2d's default (the ResNet loops redraw weights only).
                assert!(values(bias).iter().all(|b| b.abs() <= uniform_bound), "{what} {prefix}.bias: outside ±1/sqrt(fan_in)");
            }
        } else if size.len() == 2 {
            seen.linears += 1;
            let bound = 1.0 / (size[1] as f64).sqrt();
            let w = values(t);
            assert!(w.iter().all(|x| x.abs() <= bound), "{what} {name}: outside ±1/sqrt(fan_in) = {bound}");
            if w.len() >= 1000 {
                let (mean, std) = mean_std(&w);
                let expected = bound / 3f64.sqrt();
                assert!((std / expected - 1.0).abs() < 0.08 && mean.abs() < 0.1 * expected, "{what} {name}: mean {mean}, std {std}");
                assert!(w.iter().any(|x| x.abs() > 0.95 * bound), "{what} {name}: does not fill ±{bound}");
            }
            let b = values(bias.expect("linear layers have a bias"));
            assert!(b.iter().all(|x| x.abs() <= bound), "{what} {prefix}.bias: outside ±{bound}");
        }
    }
    // Pooled over the store: the std of the normalised weights.
    if seen.he_normal.len() >= 2000 {
        let (_, std) = mean_std(&seen.he_normal);
        assert!((std - 1.0).abs() < 0.03, "{what}: pooled He-normal std {std} (expected 1)");
    }
    if seen.uniform.len() >= 2000 {
        let (_, std) = mean_std(&seen.uniform);
        assert!((std * 3f64.sqrt() - 1.0).abs() < 0.04, "{what}: pooled uniform std {std} (expected 1/sqrt 3)");
    }
    seen
}

fn resnet32() -> ResNetCifar {
    ResNetCifar::new(32, 3, 10, 32).unwrap()
}

#[test]
fn resnet32_starts_as_infopro_and_torchvision_start_it() {
    tch::manual_seed(0);
    let store = nn::VarStore::new(Device::Cpu);
    let _model = Chain::build(&resnet32(), store.root(), InitMode::Reference);
    let seen = check_reference(&store, |_| Conv::HeNormalFanOut, "resnet32");
    // 33 convs (stem, 2 per block x 15, 2 projections) and a BN after each, one linear.
    assert_eq!((seen.convs, seen.batch_norms, seen.linears), (33, 33, 1));
    assert!(seen.he_normal.len() > 400_000);
}

#[test]
fn every_aux_net_starts_as_its_papers_code() {
    let network = resnet32();
    // Module ends: stage 1's last unit (16 channels at 32 px), stage 2's (32 at 16 px).
    for last_unit in [5, 10] {
        for method in [Method::GreedySl, Method::Dgl, Method::InfoproSoftmax, Method::InfoproContrast, Method::Glcan] {
            tch::manual_seed(1);
            let ctx = AuxContext {
                network: &network,
                module: 0,
                num_modules: 4,
                last_unit,
                image_channels: 3,
                image_size: 32,
                real_unit_variables: None,
                task_head: None,
                init: InitMode::Reference,
            };
            let store = nn::VarStore::new(Device::Cpu);
            let _aux = aux::build(method, &AuxConfig::default(), store.root(), &ctx).unwrap();
            // InfoPro's He-normal loop reaches its aux nets; GLCAN's global branch is built as
            // the network's units; everything else keeps PyTorch's defaults.
            let rule = |name: &str| match method {
                Method::InfoproSoftmax | Method::InfoproContrast => Conv::HeNormalFanOut,
                Method::Glcan if name.starts_with("global.") => Conv::HeNormalFanOut,
                _ => Conv::PyTorch,
            };
            let what = format!("{method} after unit {last_unit}");
            let seen = check_reference(&store, rule, &what);
            assert!(seen.linears >= 1, "{what}: a classifier");
            let counts = (seen.convs, seen.batch_norms);
            match method {
                Method::GreedySl => assert_eq!(counts, (0, 0), "{what}"),
                Method::Dgl => assert_eq!(counts, (2, 2), "{what}"),
                // Decoder conv + BN, decoder output conv, head conv + BN.
                Method::InfoproSoftmax | Method::InfoproContrast => assert_eq!(counts, (3, 2), "{what}"),
                // Two local conv + BN, then the global branch's units (two convs + BN each at least).
                _ => assert!(counts.0 >= 4 && counts.1 >= 4, "{what}: {counts:?}"),
            }
        }
    }
}

#[test]
fn tch_mode_is_tchs_defaults() {
    tch::manual_seed(0);
    let store = nn::VarStore::new(Device::Cpu);
    let _model = Chain::build(&resnet32(), store.root(), InitMode::Tch);
    let variables = store.variables();
    let bn = variables.get("units.8.bn1.weight").unwrap();
    let w = values(bn);
    assert!(w.iter().all(|&x| x > 0.0 && x < 1.0), "tch draws BN weights from U(0, 1)");
    assert!(w.iter().any(|&x| x != 1.0));
    // He-uniform with the ReLU gain: bound sqrt(6 / fan_in), filled.
    let conv = values(variables.get("units.12.conv2.weight").unwrap());
    let bound = (6.0 / (64.0 * 9.0f64)).sqrt();
    assert!(conv.iter().all(|x| x.abs() <= bound) && conv.iter().any(|x| x.abs() > 0.95 * bound));
    // And the reference check refuses it.
    let refused =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check_reference(&store, |_| Conv::HeNormalFanOut, "tch resnet32")));
    assert!(refused.is_err(), "the reference check passes tch's defaults");
}
