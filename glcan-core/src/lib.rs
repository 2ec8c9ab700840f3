//! # glcan-core
//!
//! The engine of the GLCAN workspace, shared by the classification, detection and
//! super-resolution suites: the models ([`models`]), split points ([`split`]), auxiliary
//! networks ([`aux`]), the one trainer ([`train`]) and memory measurement ([`memory`]);
//! the experiment runner is to join them. Dataset readers and the batch loader live in the
//! `glcan-data` crate, and each suite keeps its own evaluation metrics.
//!
//! Local learning cuts a network into K modules trained by their own auxiliary losses;
//! GLCAN (Zhu et al. 2024, <https://arxiv.org/abs/2406.00446>) gives each auxiliary network
//! a local and a global view.

pub mod aux;
pub mod c10d;
pub mod cpu_kernels;
pub mod entry;
pub mod error;
pub mod kernel_probe;
pub mod libtorch_facts;
pub mod losses;
pub mod memory;
pub mod memory_format;
pub mod models;
pub mod optim;
pub mod paths;
pub mod preset;
pub mod run_env;
pub mod saved_state;
pub mod split;
pub mod train;
pub mod unit_costs;

pub use error::{Error, Result};
