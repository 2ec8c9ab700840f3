//! `bench-detect eval`: pycocotools' twelve summary statistics (AP and AR) and VOC AP50 of a COCO results file against a COCO
//! instances file (the rules are in [`bench_detect::metrics::coco_eval`] and [`bench_detect::metrics::voc_ap`]).

use std::path::PathBuf;

use anyhow::Context;
use bench_detect::metrics::coco_eval::{CocoEvaluator, CocoSummary};
use glcan_data::coco::CocoDataset;
use serde::Serialize;

#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// The ground truth: a COCO instances JSON (`images`, `annotations`, `categories`).
    #[arg(long)]
    pub gt: PathBuf,
    /// The detections: a COCO results JSON, `[{image_id, category_id, bbox: [x, y, w, h],
    /// score}, ...]`.
    #[arg(long)]
    pub dets: PathBuf,
}

/// What `eval` prints.
#[derive(Debug, Serialize)]
pub struct EvalReport {
    #[serde(flatten)]
    pub coco: CocoSummary,
    /// VOC all-point AP at IoU > 0.5, averaged over the categories with ground truth.
    #[serde(rename = "VOC_AP50")]
    pub voc_ap50: f64,
}

pub fn run(args: &EvalArgs) -> anyhow::Result<EvalReport> {
    // Only the JSON is read; the folder argument (where images would be) is never opened.
    let images_dir = args.gt.parent().map(PathBuf::from).unwrap_or_default();
    let dataset = CocoDataset::open(&args.gt, images_dir).context("reading the ground truth (--gt)")?;
    let evaluator = CocoEvaluator::from_dataset(&dataset)?;
    let detections = evaluator.read_detections(&args.dets).context("reading the detections (--dets)")?;
    let coco = evaluator.evaluate(&detections)?.summary();
    let voc = evaluator.voc_ap50(&detections)?;
    eprintln!(
        "{} images, {} categories, {} ground-truth boxes, {} detections",
        dataset.images().len(),
        dataset.categories().len(),
        dataset.num_annotations(),
        detections.len()
    );
    Ok(EvalReport { coco, voc_ap50: voc.mean_ap() })
}
