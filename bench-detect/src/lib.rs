//! Object-detection suite (VOC, COCO, digit canvases, deepforest) for local learning.

pub mod detector;
