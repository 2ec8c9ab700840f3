//! Command-line pieces shared by the subcommands.

use anyhow::Result;
use glcan_core::aux::Method;
use glcan_core::split::SplitStrategy;
use tch::Device;

/// How to choose the split points (`--split`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SplitArg {
    /// InfoPro's published points for ResNet-32/110 at K = 2, 4, 8, 16; even elsewhere.
    Published,
    /// InfoPro's memory-balanced ResNet-110 points (K = 2, 3, 4).
    PublishedBalanced,
    /// Nearly equal numbers of units per module.
    Even,
    /// Points minimising the largest module's measured activation memory.
    MemoryBalanced,
}

impl SplitArg {
    pub fn strategy(self) -> SplitStrategy {
        match self {
            SplitArg::Published => SplitStrategy::Published,
            SplitArg::PublishedBalanced => SplitStrategy::PublishedBalanced,
            SplitArg::Even => SplitStrategy::Even,
            SplitArg::MemoryBalanced => SplitStrategy::MemoryBalanced,
        }
    }
}

/// `--method`: one of e2e, greedy-sl, dgl, infopro-softmax, infopro-contrast, glcan.
pub fn parse_method(name: &str) -> Result<Method> {
    Ok(Method::from_name(name)?)
}

/// `--device`: `cpu`, `cuda` (device 0) or `cuda:N`; CUDA must be available.
pub fn parse_device(name: &str) -> Result<Device> {
    Ok(glcan_core::run_env::parse_device(name)?)
}
