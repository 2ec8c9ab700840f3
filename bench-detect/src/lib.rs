//! Object-detection suite (VOC, COCO, digit canvases, deepforest) for local learning.

pub mod data;
pub mod datasets;
pub mod detector;
pub mod digits;
pub mod draw;
pub mod grid;
pub mod metrics;
pub mod tiles;
