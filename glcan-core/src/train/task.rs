//! The task a unit network is trained for: what the real head on the last module computes,
//! which unit outputs it reads, how its output is scored, and which task head the aux nets
//! end in. Classification is the default; the detection and super-resolution suites bring
//! their own [`Task`], and [`super::LocalNetwork`] stays the same for all three.

use tch::nn::{self, ModuleT};
use tch::Tensor;

use crate::aux::task_head::TaskHeadFactory;
use crate::aux::LocalTargets;
use crate::models::{InitMode, UnitNetwork};

/// The real head: it sits in the last module and produces the network's output.
pub trait NetworkHead: std::fmt::Debug + Send {
    /// The network output from the outputs of the units [`Task::head_inputs`] named, in that
    /// order (those from earlier modules arrive detached: no gradient crosses a module).
    fn forward(&self, features: &[Tensor], train: bool) -> Tensor;

    /// The task loss (a scalar) of `output` against `targets.target`.
    fn loss(&self, output: &Tensor, targets: &LocalTargets) -> Tensor;
}

/// What a [`super::LocalNetwork`] is trained to do.
pub trait Task: Sync {
    /// Positions of the units whose outputs the real head reads; the last unit by default
    /// (a detector's feature pyramid reads several stages).
    fn head_inputs(&self, network: &dyn UnitNetwork) -> Vec<usize> {
        vec![network.units().len() - 1]
    }

    /// Builds the real head under `p`, its parameters started as `mode` says.
    fn build_head(&self, network: &dyn UnitNetwork, p: nn::Path, mode: InitMode) -> Box<dyn NetworkHead>;

    /// The task head that aux nets end in; `None`: a classifier over the network's classes.
    fn aux_task_head(&self) -> Option<&TaskHeadFactory> {
        None
    }

    /// A valid target for `batch` inputs of `network`, to time and measure the losses with
    /// (the time- and memory-balanced splits); `None`: the task cannot make one up.
    fn timing_target(&self, _network: &dyn UnitNetwork, _batch: i64, _device: tch::Device) -> Option<Tensor> {
        None
    }
}

/// Image classification: the network's own head (pooling + linear) and cross-entropy
/// against `targets.target`, class labels `[B]` (int64).
#[derive(Debug, Clone, Copy, Default)]
pub struct Classification;

impl Task for Classification {
    fn build_head(&self, network: &dyn UnitNetwork, p: nn::Path, mode: InitMode) -> Box<dyn NetworkHead> {
        Box::new(ClassificationHead(network.build_head(p, mode)))
    }

    /// Class 0 for every image (the cost of the loss does not depend on the labels).
    fn timing_target(&self, _network: &dyn UnitNetwork, batch: i64, device: tch::Device) -> Option<Tensor> {
        Some(Tensor::zeros([batch], (tch::Kind::Int64, device)))
    }
}

#[derive(Debug)]
struct ClassificationHead(Box<dyn ModuleT>);

impl NetworkHead for ClassificationHead {
    fn forward(&self, features: &[Tensor], train: bool) -> Tensor {
        self.0.forward_t(&features[0], train)
    }

    fn loss(&self, logits: &Tensor, targets: &LocalTargets) -> Tensor {
        logits.cross_entropy_for_logits(targets.target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aux::Method;
    use crate::models::ResNetCifar;
    use crate::split::SplitStrategy;
    use crate::train::{LocalNetwork, TrainConfig};
    use tch::{Device, Kind};

    /// A head over two stages, as a feature pyramid reads them: pooled, concatenated, linear.
    struct TwoStages;

    #[derive(Debug)]
    struct TwoStageHead(nn::Linear);

    impl Task for TwoStages {
        fn head_inputs(&self, network: &dyn UnitNetwork) -> Vec<usize> {
            vec![1, network.units().len() - 1]
        }

        fn build_head(&self, network: &dyn UnitNetwork, p: nn::Path, mode: InitMode) -> Box<dyn NetworkHead> {
            let channels = network.units()[1].out_channels + network.units().last().unwrap().out_channels;
            Box::new(TwoStageHead(crate::models::init::linear(p / "fc", channels, network.num_classes(), mode)))
        }
    }

    impl NetworkHead for TwoStageHead {
        fn forward(&self, features: &[Tensor], _train: bool) -> Tensor {
            let pooled: Vec<Tensor> = features.iter().map(|f| f.adaptive_avg_pool2d([1, 1]).flatten(1, -1)).collect();
            Tensor::cat(&pooled, 1).apply(&self.0)
        }

        fn loss(&self, logits: &Tensor, targets: &LocalTargets) -> Tensor {
            logits.cross_entropy_for_logits(targets.target)
        }
    }

    fn gradient_norms(module: &crate::train::LocalModule) -> Vec<f64> {
        module.gradients().iter().map(|(_, g)| g.norm().double_value(&[])).collect()
    }

    #[test]
    fn a_head_reading_an_earlier_module_gets_its_output_detached() {
        tch::manual_seed(3);
        let network = ResNetCifar::new(8, 3, 10, 16).unwrap(); // stem + one block per stage
        let config = TrainConfig { split: SplitStrategy::Even, ..TrainConfig::new(Method::Dgl, 2, 1, 4, 0.1) };
        let mut net = LocalNetwork::build(&network, &TwoStages, &config, 3, 16, Device::Cpu).unwrap();
        assert_eq!(net.split().modules, vec![0..2, 2..4], "unit 1 lies in module 0");
        let images = Tensor::randn([4, 3, 16, 16], (Kind::Float, Device::Cpu));
        let labels = Tensor::from_slice(&[1i64, 2, 3, 4]);
        let targets = LocalTargets { images: &images, raw_images: &images, target: &labels };
        let mut after_own_backward = Vec::new();
        net.forward_backward(&images, &targets, |k, module| {
            if k == 0 {
                after_own_backward = gradient_norms(module);
            }
        })
        .unwrap();
        assert!(after_own_backward.iter().all(|n| n.is_finite()) && after_own_backward.iter().any(|&n| n > 0.0));
        assert_eq!(gradient_norms(&net.modules()[0]), after_own_backward, "the head's loss did not reach module 0");
        assert!(net.modules()[1].gradients().iter().any(|(name, _)| name.starts_with("head.")), "the head trains");
        assert_eq!(net.predict(&images).size(), vec![4, 10]);
    }

    #[test]
    fn a_head_input_beyond_the_network_is_a_config_error() {
        struct Beyond;
        impl Task for Beyond {
            fn head_inputs(&self, _network: &dyn UnitNetwork) -> Vec<usize> {
                vec![99]
            }
            fn build_head(&self, network: &dyn UnitNetwork, p: nn::Path, mode: InitMode) -> Box<dyn NetworkHead> {
                Classification.build_head(network, p, mode)
            }
        }
        let network = ResNetCifar::new(8, 3, 10, 16).unwrap();
        let message = LocalNetwork::build(&network, &Beyond, &TrainConfig::new(Method::E2e, 1, 1, 4, 0.1), 3, 16, Device::Cpu)
            .unwrap_err()
            .to_string();
        assert!(message.contains("task") && message.contains("unit 99"), "{message}");
    }
}
