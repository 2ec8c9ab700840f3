//! Detection metrics, each a small type or function that documents its formula, its unit
//! and whether higher is better, and checks its inputs (errors, not panics).

pub mod coco_eval;
pub mod voc_ap;
