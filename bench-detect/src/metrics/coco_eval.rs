//! COCO-style bounding-box average precision with the rules of the official evaluator,
//! pycocotools' `COCOeval` (`iouType = "bbox"`): Lin et al., "Microsoft COCO: Common Objects
//! in Context", ECCV 2014, and <https://cocodataset.org/#detection-eval>.
//!
//! The rules, as `cocoeval.py` applies them (our code is our own):
//! - **Scope.** The images and categories are the ground truth's, each sorted by id.
//!   Detections are grouped by (image, category); in each group they are sorted by score,
//!   descending and stable (the results file's order breaks ties), and only the first
//!   [`MAX_DETECTIONS`] = 100 are kept: the limit is per image *and* category.
//! - **IoU** of `[x, y, w, h]` boxes; against a crowd region (`iscrowd = 1`) the union is
//!   replaced by the detection's own area, so a detection inside a crowd scores 1.
//! - **Area ranges** all `[0, 1e10]`, small `[0, 32²]`, medium `[32², 96²]`, large
//!   `[96², 1e10]`, bounds included. Ground truth is sorted into them by its `area` field
//!   (the segment's area in real COCO), detections by `w * h`.
//! - **Matching**, per image, category, area range and IoU threshold t in .50:.05:.95: ground
//!   truth is *ignored* when it is a crowd or outside the area range, and ignored boxes are
//!   put last (stably). Detections in score order each take, among the boxes not yet
//!   matched (crowds may be matched any number of times), the one of largest IoU ≥ t (a
//!   later box of equal IoU wins); once a regular box is held, ignored boxes are not
//!   considered. A detection matched to an ignored box is ignored; an unmatched detection
//!   outside the area range is ignored; any other unmatched detection is a false positive.
//! - **Precision at 101 recall points.** Per category and area range, the detections of all
//!   images (images in id order, then rank) are sorted by score (descending, stable);
//!   cumulative TP and FP counts give recall `TP / P` (P = the non-ignored ground truth) and
//!   precision `TP / (TP + FP + 2⁻⁵²)`; precision is made non-increasing (maximum to the
//!   right) and read at recall thresholds 0:.01:1, each at the first point whose recall
//!   reaches it (`searchsorted(..., 'left')`), 0 past the last point.
//! - **AP** is the mean of those precisions over the thresholds and categories; a category
//!   with no non-ignored ground truth in the range gets -1 and is left out of the mean, and
//!   an AP with nothing left is -1. AP50 and AP75 use one threshold; APs/APm/APl one area.
//!   All six use up to 100 detections per image and category.
//! - **Recall** at `maxDets` m in [`MAX_DETS`] = [1, 10, 100], per IoU threshold, category
//!   and area range: the true positives among the first m detections (by score) of each
//!   image, over all images, divided by P; the matching is the one made with 100 detections
//!   (greedy in score order, so the first m detections match as they would alone). A
//!   category with P = 0 gets -1; with P > 0 and no detections, 0.
//! - **AR** is the mean of those recalls over the IoU thresholds and categories, the -1
//!   entries left out, -1 when nothing is left: AR1, AR10, AR100 over all areas at
//!   m = 1, 10, 100; ARs/ARm/ARl at m = 100. As the AP stats, an AR is the *mean over
//!   thresholds* of the recall reached at each threshold (the "max recall" of the
//!   definition: recall only grows down the ranking, so its last value is its maximum).
//!
//! Thresholds are computed as numpy's `linspace` computes them and the means sum in numpy's
//! pairwise order, so the numbers agree with pycocotools to the last bit (checked on random
//! sets by `bench-detect/tests/fixtures/coco_eval/make_fixture.py`), provided the JSON is
//! parsed exactly: serde_json's `float_roundtrip` feature, which `bench-detect` turns on. Because of the 2⁻⁵² term, precision after a single true
//! positive is `1 - 2.2e-16`, so a perfect result can print as 0.9999999999999998.
//! One corner we do not copy: pycocotools marks a match by the ground truth's `id` and so
//! loses matches to an annotation of id 0; here a match is a match.
//! All values are on the 0-1 scale; higher is better.

use std::path::Path;

use glcan_core::{Error, Result};
use glcan_data::coco::CocoDataset;
use serde::{Deserialize, Serialize};

use super::voc_ap::{voc_ap, VocDetection, VocEval, VocObject, VOC_IOU_THRESHOLD};

/// Detections kept per image and category (pycocotools' largest `maxDets`).
pub const MAX_DETECTIONS: usize = 100;
/// pycocotools' `maxDets`: the numbers of detections per image (and category) at which
/// recall is measured.
pub const MAX_DETS: [usize; 3] = [1, 10, MAX_DETECTIONS];
/// IoU thresholds .50:.05:.95.
pub const NUM_IOU_THRESHOLDS: usize = 10;
/// Recall thresholds 0:.01:1.
pub const NUM_RECALL_POINTS: usize = 101;

/// pycocotools' `np.spacing(1)`, added to `TP + FP` in the precision's denominator.
const PRECISION_EPS: f64 = f64::EPSILON;
/// The matching threshold is `min(t, 1 - 1e-10)`, as in pycocotools.
const MAX_MATCH_IOU: f64 = 1.0 - 1e-10;

/// The IoU thresholds `np.linspace(.5, .95, 10)`: `i * step + .5`, the last one exactly .95.
pub fn iou_thresholds() -> [f64; NUM_IOU_THRESHOLDS] {
    let step = (0.95 - 0.5) / (NUM_IOU_THRESHOLDS - 1) as f64;
    let mut thresholds = [0.0; NUM_IOU_THRESHOLDS];
    for (i, t) in thresholds.iter_mut().enumerate() {
        *t = i as f64 * step + 0.5;
    }
    thresholds[NUM_IOU_THRESHOLDS - 1] = 0.95;
    thresholds
}

/// The recall thresholds `np.linspace(0, 1, 101)`: `i * 0.01`, the last one exactly 1.
pub fn recall_thresholds() -> [f64; NUM_RECALL_POINTS] {
    let step = 1.0 / (NUM_RECALL_POINTS - 1) as f64;
    let mut thresholds = [0.0; NUM_RECALL_POINTS];
    for (i, r) in thresholds.iter_mut().enumerate() {
        *r = i as f64 * step;
    }
    thresholds[NUM_RECALL_POINTS - 1] = 1.0;
    thresholds
}

/// COCO's object-size ranges, in pixels².
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AreaRange {
    All,
    Small,
    Medium,
    Large,
}

/// The ranges in pycocotools' order.
pub const AREA_RANGES: [AreaRange; 4] = [AreaRange::All, AreaRange::Small, AreaRange::Medium, AreaRange::Large];

impl AreaRange {
    /// `(low, high)`, both included.
    pub fn bounds(self) -> (f64, f64) {
        match self {
            AreaRange::All => (0.0, 1e10),
            AreaRange::Small => (0.0, 32.0 * 32.0),
            AreaRange::Medium => (32.0 * 32.0, 96.0 * 96.0),
            AreaRange::Large => (96.0 * 96.0, 1e10),
        }
    }

    pub fn contains(self, area: f64) -> bool {
        let (low, high) = self.bounds();
        // pycocotools drops `area < low or area > high`.
        !(area < low || area > high)
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// One ground-truth box.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GroundTruth {
    pub image_id: i64,
    pub category_id: i64,
    /// `[x, y, width, height]`.
    pub bbox: [f64; 4],
    /// What the size ranges use: the annotation's `area` field.
    pub area: f64,
    pub iscrowd: bool,
}

/// One entry of a COCO results file, `{image_id, category_id, bbox: [x, y, w, h], score}`
/// (other keys are ignored).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Detection {
    pub image_id: i64,
    pub category_id: i64,
    pub bbox: [f64; 4],
    pub score: f64,
}

impl Detection {
    /// The area the size ranges use for a detection: `w * h`.
    pub fn area(&self) -> f64 {
        self.bbox[2] * self.bbox[3]
    }
}

/// The twelve numbers of pycocotools' `summarize()` (`stats[0..12]`), in its order, on the
/// 0-1 scale, -1 where undefined. Serialised with the names of its printout (`AP`, `AP50`,
/// ..., `AR1`, `AR10`, `AR100`, `ARs`, `ARm`, `ARl`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CocoSummary {
    /// AP averaged over IoU .50:.05:.95, all sizes.
    #[serde(rename = "AP")]
    pub ap: f64,
    #[serde(rename = "AP50")]
    pub ap50: f64,
    #[serde(rename = "AP75")]
    pub ap75: f64,
    /// Objects of area ≤ 32².
    #[serde(rename = "APs")]
    pub ap_small: f64,
    /// Objects of area in [32², 96²].
    #[serde(rename = "APm")]
    pub ap_medium: f64,
    /// Objects of area ≥ 96².
    #[serde(rename = "APl")]
    pub ap_large: f64,
    /// Recall averaged over IoU .50:.95 and the categories, all sizes, 1 detection per image.
    #[serde(rename = "AR1")]
    pub ar1: f64,
    /// The same with 10 detections per image.
    #[serde(rename = "AR10")]
    pub ar10: f64,
    /// The same with 100 detections per image.
    #[serde(rename = "AR100")]
    pub ar100: f64,
    /// AR100 of objects of area ≤ 32².
    #[serde(rename = "ARs")]
    pub ar_small: f64,
    /// AR100 of objects of area in [32², 96²].
    #[serde(rename = "ARm")]
    pub ar_medium: f64,
    /// AR100 of objects of area ≥ 96².
    #[serde(rename = "ARl")]
    pub ar_large: f64,
}

/// The ground truth of a COCO-style evaluation, ready to score any number of result sets.
#[derive(Debug, Clone)]
pub struct CocoEvaluator {
    /// Sorted, unique.
    image_ids: Vec<i64>,
    /// Sorted, unique.
    category_ids: Vec<i64>,
    /// `ground_truth[k * images + i]`: the boxes of category `k` on image `i`, input order.
    ground_truth: Vec<Vec<GroundTruth>>,
}

impl CocoEvaluator {
    /// An evaluator over `image_ids` and `category_ids` (order and repeats do not matter).
    /// Each box must name one of them and have a finite box of non-negative size and a
    /// finite, non-negative area.
    pub fn new(image_ids: &[i64], category_ids: &[i64], ground_truth: &[GroundTruth]) -> Result<Self> {
        let mut image_ids = image_ids.to_vec();
        image_ids.sort_unstable();
        image_ids.dedup();
        let mut category_ids = category_ids.to_vec();
        category_ids.sort_unstable();
        category_ids.dedup();
        let mut evaluator = CocoEvaluator { ground_truth: vec![Vec::new(); image_ids.len() * category_ids.len()], image_ids, category_ids };
        for (index, gt) in ground_truth.iter().enumerate() {
            let slot = evaluator
                .slot(gt.image_id, gt.category_id)
                .and_then(|slot| check_box(&gt.bbox).map(|()| slot))
                .and_then(|slot| {
                    if gt.area.is_finite() && gt.area >= 0.0 {
                        Ok(slot)
                    } else {
                        Err(format!("area {} is not a finite non-negative number", gt.area))
                    }
                })
                .map_err(|fault| Error::config("ground truth", format!("box {index}: {fault}")))?;
            evaluator.ground_truth[slot].push(*gt);
        }
        Ok(evaluator)
    }

    /// The ground truth of an opened COCO instances file, crowd regions and `area` fields
    /// included. (The reader's checks are stricter than [`Self::new`]'s, so this fails only
    /// if they change.)
    pub fn from_dataset(dataset: &CocoDataset) -> Result<Self> {
        let image_ids: Vec<i64> = dataset.images().iter().map(|image| image.id).collect();
        let category_ids: Vec<i64> = dataset.categories().iter().map(|c| c.id).collect();
        let ground_truth: Vec<GroundTruth> = (0..image_ids.len())
            .flat_map(|i| dataset.annotations_of(i).unwrap_or(&[]))
            .map(|a| GroundTruth { image_id: a.image_id, category_id: a.category_id, bbox: a.bbox, area: a.area, iscrowd: a.iscrowd })
            .collect();
        CocoEvaluator::new(&image_ids, &category_ids, &ground_truth)
    }

    /// The image ids, sorted.
    pub fn image_ids(&self) -> &[i64] {
        &self.image_ids
    }

    /// The category ids, sorted; category index `k` of [`CocoEval`] is `category_ids()[k]`.
    pub fn category_ids(&self) -> &[i64] {
        &self.category_ids
    }

    /// Reads a COCO results file and checks it against this ground truth. Errors name the
    /// file and the fault: malformed JSON (with its line and column), an image or category
    /// id the ground truth lacks, a box that is not finite or has a negative width or
    /// height, a score that is not a finite number.
    pub fn read_detections(&self, path: impl AsRef<Path>) -> Result<Vec<Detection>> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let detections: Vec<Detection> = serde_json::from_str(&text).map_err(|e| {
            let hint = non_finite_hint(&text, &e);
            Error::bad_data(path, format!("malformed COCO results JSON (a list of {{image_id, category_id, bbox, score}}): {e}{hint}"))
        })?;
        for (index, det) in detections.iter().enumerate() {
            self.check_detection(det).map_err(|fault| Error::bad_data(path, format!("detection {index} (counting from 0): {fault}")))?;
        }
        Ok(detections)
    }

    /// Scores `detections` (see the module docs). Errors as [`Self::read_detections`]'s,
    /// naming the detection's position.
    pub fn evaluate(&self, detections: &[Detection]) -> Result<CocoEval> {
        let images = self.image_ids.len();
        let categories = self.category_ids.len();
        let mut grouped: Vec<Vec<&Detection>> = vec![Vec::new(); images * categories];
        for (index, det) in detections.iter().enumerate() {
            let slot = self
                .check_detection(det)
                .and_then(|()| self.slot(det.image_id, det.category_id))
                .map_err(|fault| Error::config("detections", format!("detection {index} (counting from 0): {fault}")))?;
            grouped[slot].push(det);
        }

        let mut precision = vec![-1.0; NUM_IOU_THRESHOLDS * NUM_RECALL_POINTS * categories * AREA_RANGES.len()];
        let mut recall = vec![-1.0; NUM_IOU_THRESHOLDS * categories * AREA_RANGES.len() * MAX_DETS.len()];
        for k in 0..categories {
            let mut per_area: [Vec<ImageEval>; 4] = Default::default();
            for i in 0..images {
                let gt = &self.ground_truth[k * images + i];
                let dt = &mut grouped[k * images + i];
                if gt.is_empty() && dt.is_empty() {
                    continue;
                }
                // Stable: equal scores keep the input order, as numpy's mergesort does.
                dt.sort_by(|a, b| b.score.total_cmp(&a.score));
                dt.truncate(MAX_DETECTIONS);
                let ious: Vec<f64> = dt.iter().flat_map(|d| gt.iter().map(|g| box_iou(&d.bbox, &g.bbox, g.iscrowd))).collect();
                for area in AREA_RANGES {
                    per_area[area.index()].push(evaluate_image(gt, dt, &ious, area));
                }
            }
            for area in AREA_RANGES {
                if let Some(accumulated) = accumulate(&per_area[area.index()]) {
                    for (t, curve) in accumulated.precision.iter().enumerate() {
                        for (r, &p) in curve.iter().enumerate() {
                            precision[precision_index(t, r, k, area.index(), categories)] = p;
                        }
                    }
                    for (t, recalls) in accumulated.recall.iter().enumerate() {
                        for (m, &value) in recalls.iter().enumerate() {
                            recall[recall_index(t, k, area.index(), m, categories)] = value;
                        }
                    }
                }
            }
        }
        Ok(CocoEval { category_ids: self.category_ids.clone(), precision, recall })
    }

    /// VOC AP50 (all-point, see [`super::voc_ap`]) of the same detections: each category a
    /// class, crowd regions as `difficult`, no limit on detections per image.
    pub fn voc_ap50(&self, detections: &[Detection]) -> Result<VocEval> {
        let images = self.image_ids.len();
        let corners = |b: &[f64; 4]| [b[0], b[1], b[0] + b[2], b[1] + b[3]];
        let objects: Vec<VocObject> = self
            .ground_truth
            .iter()
            .enumerate()
            .flat_map(|(slot, boxes)| boxes.iter().map(move |g| (slot / images, g)))
            .map(|(class, g)| VocObject { image_id: g.image_id, class, bbox: corners(&g.bbox), difficult: g.iscrowd })
            .collect();
        let mut voc_detections = Vec::with_capacity(detections.len());
        for (index, det) in detections.iter().enumerate() {
            let class = self
                .check_detection(det)
                .and_then(|()| self.slot(det.image_id, det.category_id))
                .map_err(|fault| Error::config("detections", format!("detection {index} (counting from 0): {fault}")))?
                / images;
            voc_detections.push(VocDetection { image_id: det.image_id, class, bbox: corners(&det.bbox), score: det.score });
        }
        voc_ap(&objects, &voc_detections, self.category_ids.len(), VOC_IOU_THRESHOLD)
    }

    /// The position of (image, category) in `ground_truth`, or the fault.
    fn slot(&self, image_id: i64, category_id: i64) -> std::result::Result<usize, String> {
        let i = self.image_ids.binary_search(&image_id).map_err(|_| format!("image_id {image_id} is not an image of the ground truth"))?;
        let k = self
            .category_ids
            .binary_search(&category_id)
            .map_err(|_| format!("category_id {category_id} is not a category of the ground truth"))?;
        Ok(k * self.image_ids.len() + i)
    }

    fn check_detection(&self, det: &Detection) -> std::result::Result<(), String> {
        self.slot(det.image_id, det.category_id)?;
        check_box(&det.bbox)?;
        if !det.score.is_finite() {
            return Err(format!("score {} is not a finite number", det.score));
        }
        Ok(())
    }
}

/// The fault of an `[x, y, w, h]` box, if any.
fn check_box(bbox: &[f64; 4]) -> std::result::Result<(), String> {
    if bbox.iter().any(|v| !v.is_finite()) {
        return Err(format!("bbox {bbox:?} is not finite"));
    }
    if bbox[2] < 0.0 || bbox[3] < 0.0 {
        return Err(format!("bbox {bbox:?} has a negative width or height"));
    }
    Ok(())
}

/// JSON has no NaN or Infinity, which Python's `json.dump` writes for such floats: say so
/// when the parser stopped on one.
fn non_finite_hint(text: &str, error: &serde_json::Error) -> &'static str {
    let Some(line) = text.lines().nth(error.line().saturating_sub(1)) else { return "" };
    let column = error.column().saturating_sub(1);
    let window: String = line.chars().skip(column.saturating_sub(12)).take(24).collect();
    if window.contains("NaN") || window.contains("Infinity") {
        " (JSON has no NaN or Infinity: every score and box value must be a finite number)"
    } else {
        ""
    }
}

/// pycocotools' box IoU (`maskApi.c`, `bbIou`), same operations in the same order; for a
/// crowd region the denominator is the detection's area.
fn box_iou(det: &[f64; 4], gt: &[f64; 4], crowd: bool) -> f64 {
    let w = (det[2] + det[0]).min(gt[2] + gt[0]) - det[0].max(gt[0]);
    if w <= 0.0 {
        return 0.0;
    }
    let h = (det[3] + det[1]).min(gt[3] + gt[1]) - det[1].max(gt[1]);
    if h <= 0.0 {
        return 0.0;
    }
    let intersection = w * h;
    let det_area = det[2] * det[3];
    let union = if crowd { det_area } else { det_area + gt[2] * gt[3] - intersection };
    intersection / union
}

/// What a detection is at one IoU threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    TruePositive,
    FalsePositive,
    /// Matched to ignored ground truth, or unmatched and outside the area range.
    Ignored,
}

/// The matching of one image, category and area range.
#[derive(Debug)]
struct ImageEval {
    /// Of the kept detections, in rank order.
    scores: Vec<f64>,
    /// `outcomes[t * scores.len() + d]`.
    outcomes: Vec<Outcome>,
    /// Ground truth that counts (not crowd, inside the range).
    positives: usize,
}

/// Greedy matching of ranked detections `dt` to `gt` at every IoU threshold; `ious` is
/// `dt.len() x gt.len()`, row-major, in the inputs' order.
fn evaluate_image(gt: &[GroundTruth], dt: &[&Detection], ious: &[f64], area: AreaRange) -> ImageEval {
    let ignored: Vec<bool> = gt.iter().map(|g| g.iscrowd || !area.contains(g.area)).collect();
    // Regular boxes first, ignored ones after, each group in input order.
    let mut order: Vec<usize> = (0..gt.len()).collect();
    order.sort_by_key(|&g| ignored[g]);

    let mut outcomes = Vec::with_capacity(NUM_IOU_THRESHOLDS * dt.len());
    for threshold in iou_thresholds() {
        let mut taken = vec![false; gt.len()];
        for (d, det) in dt.iter().enumerate() {
            let mut best = threshold.min(MAX_MATCH_IOU);
            let mut matched: Option<usize> = None;
            for &g in &order {
                if taken[g] && !gt[g].iscrowd {
                    continue;
                }
                // Holding a regular box: the ignored ones (all later) cannot replace it.
                if matched.is_some_and(|m| !ignored[m]) && ignored[g] {
                    break;
                }
                let iou = ious[d * gt.len() + g];
                if iou < best {
                    continue;
                }
                best = iou;
                matched = Some(g);
            }
            outcomes.push(match matched {
                Some(m) => {
                    taken[m] = true;
                    if ignored[m] {
                        Outcome::Ignored
                    } else {
                        Outcome::TruePositive
                    }
                }
                None if !area.contains(det.area()) => Outcome::Ignored,
                None => Outcome::FalsePositive,
            });
        }
    }
    ImageEval { scores: dt.iter().map(|d| d.score).collect(), outcomes, positives: ignored.iter().filter(|&&i| !i).count() }
}

/// What one category and area range add up to over the images.
struct Accumulated {
    /// Per IoU threshold: precision at the 101 recall thresholds (100 detections per image).
    precision: Vec<[f64; NUM_RECALL_POINTS]>,
    /// Per IoU threshold: recall at each of [`MAX_DETS`].
    recall: Vec<[f64; MAX_DETS.len()]>,
}

/// Precision and recall for each IoU threshold, from the matchings of all images of one
/// category and area range (in image order); `None` when nothing counts.
fn accumulate(images: &[ImageEval]) -> Option<Accumulated> {
    let positives: usize = images.iter().map(|e| e.positives).sum();
    if positives == 0 {
        return None;
    }
    // Recall at m detections per image: the true positives among each image's first m
    // (they are in rank order), over P. pycocotools takes the last value of the cumulative
    // TP / P, the same count divided the same way.
    let recall = (0..NUM_IOU_THRESHOLDS)
        .map(|t| {
            MAX_DETS.map(|max_dets| {
                let tp: usize = images
                    .iter()
                    .map(|e| {
                        let n = e.scores.len();
                        e.outcomes[t * n..t * n + n.min(max_dets)].iter().filter(|&&o| o == Outcome::TruePositive).count()
                    })
                    .sum();
                tp as f64 / positives as f64
            })
        })
        .collect();
    // (image, rank) of every kept detection, by score; stable, so ties keep image order.
    let mut ranked: Vec<(usize, usize)> = images.iter().enumerate().flat_map(|(i, e)| (0..e.scores.len()).map(move |d| (i, d))).collect();
    ranked.sort_by(|&(i, d), &(j, e)| images[j].scores[e].total_cmp(&images[i].scores[d]));

    let recall_thresholds = recall_thresholds();
    let mut curves = Vec::with_capacity(NUM_IOU_THRESHOLDS);
    for t in 0..NUM_IOU_THRESHOLDS {
        let (mut tp, mut fp) = (0usize, 0usize);
        let mut recall = Vec::with_capacity(ranked.len());
        let mut precision = Vec::with_capacity(ranked.len());
        // Ignored detections stay in the ranking with unchanged counts, as in pycocotools.
        for &(i, d) in &ranked {
            let image = &images[i];
            match image.outcomes[t * image.scores.len() + d] {
                Outcome::TruePositive => tp += 1,
                Outcome::FalsePositive => fp += 1,
                Outcome::Ignored => {}
            }
            recall.push(tp as f64 / positives as f64);
            precision.push(tp as f64 / (fp as f64 + tp as f64 + PRECISION_EPS));
        }
        for j in (1..precision.len()).rev() {
            if precision[j] > precision[j - 1] {
                precision[j - 1] = precision[j];
            }
        }
        let mut curve = [0.0; NUM_RECALL_POINTS];
        for (value, &threshold) in curve.iter_mut().zip(&recall_thresholds) {
            let at = recall.partition_point(|&r| r < threshold);
            *value = precision.get(at).copied().unwrap_or(0.0);
        }
        curves.push(curve);
    }
    Some(Accumulated { precision: curves, recall })
}

fn precision_index(t: usize, r: usize, k: usize, a: usize, categories: usize) -> usize {
    ((t * NUM_RECALL_POINTS + r) * categories + k) * AREA_RANGES.len() + a
}

/// pycocotools' `eval['recall']` layout: IoU threshold, category, area, maxDets.
fn recall_index(t: usize, k: usize, a: usize, m: usize, categories: usize) -> usize {
    ((t * categories + k) * AREA_RANGES.len() + a) * MAX_DETS.len() + m
}

/// The interpolated precisions of one evaluation (pycocotools' `eval['precision']` at
/// 100 detections) and its recalls (`eval['recall']` at 1, 10 and 100 detections): -1
/// where a category has nothing to find in an area range.
#[derive(Debug, Clone)]
pub struct CocoEval {
    category_ids: Vec<i64>,
    /// Indexed by [`precision_index`]: IoU threshold, recall threshold, category, area.
    precision: Vec<f64>,
    /// Indexed by [`recall_index`]: IoU threshold, category, area, index into [`MAX_DETS`].
    recall: Vec<f64>,
}

impl CocoEval {
    /// The category ids, sorted: category index `k` is `category_ids()[k]`.
    pub fn category_ids(&self) -> &[i64] {
        &self.category_ids
    }

    /// Precision at IoU threshold `t` (index into [`iou_thresholds`]), recall threshold `r`
    /// (index into [`recall_thresholds`]), category index `k`; `None` past the ends.
    pub fn precision(&self, t: usize, r: usize, k: usize, area: AreaRange) -> Option<f64> {
        (t < NUM_IOU_THRESHOLDS && r < NUM_RECALL_POINTS && k < self.category_ids.len())
            .then(|| self.precision[precision_index(t, r, k, area.index(), self.category_ids.len())])
    }

    /// Mean precision over the IoU thresholds (all, or the one of index `iou`), recall
    /// thresholds and categories, leaving out the -1 entries; -1 when nothing is left.
    pub fn average_precision(&self, iou: Option<usize>, area: AreaRange) -> f64 {
        self.mean_over(iou, area, 0..self.category_ids.len())
    }

    /// AP of one category (IoU .50:.95 or the threshold of index `iou`); -1 when it has no
    /// ground truth in `area` or is not a category of the evaluation.
    pub fn category_ap(&self, category_id: i64, iou: Option<usize>, area: AreaRange) -> f64 {
        match self.category_ids.binary_search(&category_id) {
            Ok(k) => self.mean_over(iou, area, k..k + 1),
            Err(_) => -1.0,
        }
    }

    /// Recall at IoU threshold `t`, category index `k`, area range and `max_dets` (one of
    /// [`MAX_DETS`]); -1 where the category has nothing to find; `None` past the ends or for
    /// another `max_dets`.
    pub fn recall(&self, t: usize, k: usize, area: AreaRange, max_dets: usize) -> Option<f64> {
        let m = MAX_DETS.iter().position(|&d| d == max_dets)?;
        (t < NUM_IOU_THRESHOLDS && k < self.category_ids.len())
            .then(|| self.recall[recall_index(t, k, area.index(), m, self.category_ids.len())])
    }

    /// Mean recall over the IoU thresholds (all, or the one of index `iou`) and the
    /// categories at `max_dets` detections per image (one of [`MAX_DETS`]), leaving out the
    /// -1 entries; -1 when nothing is left or `max_dets` is not one of them.
    pub fn average_recall(&self, iou: Option<usize>, area: AreaRange, max_dets: usize) -> f64 {
        let Some(m) = MAX_DETS.iter().position(|&d| d == max_dets) else { return -1.0 };
        let Some(thresholds) = threshold_range(iou) else { return -1.0 };
        let categories = self.category_ids.len();
        // The defined entries in numpy's C order (t, k), as `s[s > -1]` lists them.
        let defined: Vec<f64> = thresholds
            .flat_map(|t| (0..categories).map(move |k| self.recall[recall_index(t, k, area.index(), m, categories)]))
            .filter(|&r| r > -1.0)
            .collect();
        mean_or_undefined(&defined)
    }

    /// The twelve numbers of pycocotools' `summarize()`, in its order.
    pub fn summary(&self) -> CocoSummary {
        CocoSummary {
            ap: self.average_precision(None, AreaRange::All),
            ap50: self.average_precision(Some(0), AreaRange::All),
            ap75: self.average_precision(Some(5), AreaRange::All),
            ap_small: self.average_precision(None, AreaRange::Small),
            ap_medium: self.average_precision(None, AreaRange::Medium),
            ap_large: self.average_precision(None, AreaRange::Large),
            ar1: self.average_recall(None, AreaRange::All, MAX_DETS[0]),
            ar10: self.average_recall(None, AreaRange::All, MAX_DETS[1]),
            ar100: self.average_recall(None, AreaRange::All, MAX_DETS[2]),
            ar_small: self.average_recall(None, AreaRange::Small, MAX_DETECTIONS),
            ar_medium: self.average_recall(None, AreaRange::Medium, MAX_DETECTIONS),
            ar_large: self.average_recall(None, AreaRange::Large, MAX_DETECTIONS),
        }
    }

    fn mean_over(&self, iou: Option<usize>, area: AreaRange, categories: std::ops::Range<usize>) -> f64 {
        let Some(thresholds) = threshold_range(iou) else { return -1.0 };
        // The defined entries in numpy's C order (t, r, k), as `s[s > -1]` lists them.
        let mut defined = Vec::new();
        for t in thresholds {
            for r in 0..NUM_RECALL_POINTS {
                for k in categories.clone() {
                    let p = self.precision[precision_index(t, r, k, area.index(), self.category_ids.len())];
                    if p > -1.0 {
                        defined.push(p);
                    }
                }
            }
        }
        mean_or_undefined(&defined)
    }
}

/// The IoU threshold indices a mean runs over: all, or the one of index `iou`; `None` for
/// an index past the end.
fn threshold_range(iou: Option<usize>) -> Option<std::ops::Range<usize>> {
    match iou {
        Some(t) if t < NUM_IOU_THRESHOLDS => Some(t..t + 1),
        Some(_) => None,
        None => Some(0..NUM_IOU_THRESHOLDS),
    }
}

/// `np.mean` of the defined entries, -1 when there are none (pycocotools' `summarize`).
fn mean_or_undefined(defined: &[f64]) -> f64 {
    if defined.is_empty() {
        -1.0
    } else {
        pairwise_sum(defined) / defined.len() as f64
    }
}

/// numpy's float sum (`pairwise_sum` of its `add.reduce`): plain below 8 values, eight
/// interleaved partial sums up to 128, halves (cut at a multiple of 8) above. Summing in
/// the same order makes `np.mean` and this mean agree to the last bit.
fn pairwise_sum(values: &[f64]) -> f64 {
    const BLOCK: usize = 128;
    let n = values.len();
    if n < 8 {
        values.iter().fold(0.0, |sum, &v| sum + v)
    } else if n <= BLOCK {
        let mut partial = [0.0; 8];
        partial.copy_from_slice(&values[..8]);
        let whole = n - n % 8;
        for chunk in values[8..whole].chunks_exact(8) {
            for (p, &v) in partial.iter_mut().zip(chunk) {
                *p += v;
            }
        }
        let mut sum = ((partial[0] + partial[1]) + (partial[2] + partial[3])) + ((partial[4] + partial[5]) + (partial[6] + partial[7]));
        for &v in &values[whole..] {
            sum += v;
        }
        sum
    } else {
        let half = n / 2;
        let half = half - half % 8;
        pairwise_sum(&values[..half]) + pairwise_sum(&values[half..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Precision is `TP / (TP + FP + 2^-52)`, so hand values hold to about 1e-15.
    fn close(actual: f64, expected: f64) -> bool {
        (actual - expected).abs() < 1e-12
    }

    macro_rules! assert_close {
        ($actual:expr, $expected:expr) => {{
            let (a, e) = ($actual, $expected);
            assert!(close(a, e), "{} = {a}, expected {e}", stringify!($actual));
        }};
    }

    fn gt(image_id: i64, category_id: i64, bbox: [f64; 4]) -> GroundTruth {
        GroundTruth { image_id, category_id, bbox, area: bbox[2] * bbox[3], iscrowd: false }
    }

    fn crowd(image_id: i64, category_id: i64, bbox: [f64; 4]) -> GroundTruth {
        GroundTruth { iscrowd: true, ..gt(image_id, category_id, bbox) }
    }

    fn det(image_id: i64, category_id: i64, bbox: [f64; 4], score: f64) -> Detection {
        Detection { image_id, category_id, bbox, score }
    }

    fn evaluate(gts: &[GroundTruth], dets: &[Detection]) -> CocoEval {
        CocoEvaluator::new(&[1, 2, 3], &[1, 2], gts).unwrap().evaluate(dets).unwrap()
    }

    const A: [f64; 4] = [0.0, 0.0, 10.0, 10.0];
    const FAR: [f64; 4] = [50.0, 50.0, 10.0, 10.0];

    #[test]
    fn thresholds_match_numpy_linspace() {
        // Values printed by numpy 2.4: repr(np.linspace(.5, .95, 10)).
        let t = iou_thresholds();
        assert_eq!(t[0], 0.5);
        assert_eq!(t[5], 0.75);
        assert_eq!(t[8], 0.8999999999999999);
        assert_eq!(t[9], 0.95);
        let r = recall_thresholds();
        assert_eq!((r[0], r[7], r[50], r[100]), (0.0, 7.0 * 0.01, 0.5, 1.0));
    }

    #[test]
    fn sum_matches_numpy() {
        // numpy 2.4: np.full(1010, 0.1).sum() = 101.00000000000001, while a plain loop
        // gives 100.99999999999854; np.full(1010, 1 / (1 + 2**-52)).mean() =
        // 0.9999999999999998.
        assert_eq!(pairwise_sum(&[0.1; 1010]), 101.00000000000001);
        assert_eq!([0.1; 1010].iter().sum::<f64>(), 100.99999999999854);
        let x = 1.0 / (1.0 + f64::EPSILON);
        assert_eq!(pairwise_sum(&[x; 1010]) / 1010.0, 0.9999999999999998);
        assert_eq!(pairwise_sum(&[1.0, 2.0, 3.0]), 6.0);
        assert_eq!(pairwise_sum(&[]), 0.0);
    }

    #[test]
    fn iou_by_hand() {
        // [0,10]^2 against [5,15]x[0,10]: 50 / (100 + 100 - 50).
        assert_close!(box_iou(&[5.0, 0.0, 10.0, 10.0], &A, false), 1.0 / 3.0);
        // Against a crowd region the union is the detection's area: 50 / 100.
        assert_close!(box_iou(&[5.0, 0.0, 10.0, 10.0], &A, true), 0.5);
        assert_eq!(box_iou(&FAR, &A, false), 0.0);
        // Touching edges do not overlap.
        assert_eq!(box_iou(&[10.0, 0.0, 5.0, 5.0], &A, false), 0.0);
    }

    #[test]
    fn perfect_detections_give_one() {
        // One box per size range, two categories, two images.
        let small = [0.0, 0.0, 10.0, 10.0];
        let medium = [20.0, 20.0, 50.0, 50.0];
        let large = [0.0, 100.0, 120.0, 100.0];
        let gts = [gt(1, 1, small), gt(1, 2, medium), gt(2, 1, large), gt(2, 1, medium)];
        let dets: Vec<Detection> = gts.iter().zip([0.9, 0.8, 0.7, 0.6]).map(|(g, s)| det(g.image_id, g.category_id, g.bbox, s)).collect();
        let summary = evaluate(&gts, &dets).summary();
        for value in [summary.ap, summary.ap50, summary.ap75, summary.ap_small, summary.ap_medium, summary.ap_large] {
            assert_close!(value, 1.0);
        }
        // One box found by one detection: 1 / (1 + 2^-52), pycocotools' term in the
        // precision's denominator, which is lost in rounding from two true positives on.
        let eval = evaluate(&[gt(1, 1, A)], &[det(1, 1, A, 0.9)]);
        assert_eq!(eval.precision(0, 100, 0, AreaRange::All), Some(1.0 / (1.0 + f64::EPSILON)));
        assert!(eval.summary().ap < 1.0);
    }

    #[test]
    fn false_positive_above_true_positive() {
        // One box; FP (0.9) then TP (0.8): recall [0, 1], precision [0, 1/2], envelope 1/2
        // at every recall point, at every IoU threshold.
        let eval = evaluate(&[gt(1, 1, A)], &[det(1, 1, FAR, 0.9), det(1, 1, A, 0.8)]);
        assert_close!(eval.summary().ap50, 0.5);
        assert_close!(eval.summary().ap, 0.5);
        // The other order is perfect.
        let eval = evaluate(&[gt(1, 1, A)], &[det(1, 1, FAR, 0.8), det(1, 1, A, 0.9)]);
        assert_close!(eval.summary().ap, 1.0);
    }

    #[test]
    fn duplicate_detection_is_a_false_positive() {
        // Boxes on images 1 and 2; ranking TP(1, 0.9), duplicate(1, 0.8), TP(2, 0.7):
        // recall [.5, .5, 1], precision [1, 1/2, 2/3] -> envelope [1, 2/3, 2/3]. Recall
        // points 0..=.50 read 1 (51 of them), .51..=1 read 2/3 (50): AP = (51 + 100/3) / 101.
        let gts = [gt(1, 1, A), gt(2, 1, A)];
        let dets = [det(2, 1, A, 0.7), det(1, 1, A, 0.9), det(1, 1, A, 0.8)];
        let expected = (51.0 + 50.0 * 2.0 / 3.0) / 101.0;
        let summary = evaluate(&gts, &dets).summary();
        assert_close!(summary.ap, expected);
        assert_close!(summary.ap50, expected);
        // One duplicate after the only box changes nothing: recall 1 is reached first.
        let summary = evaluate(&[gt(1, 1, A)], &[det(1, 1, A, 0.9), det(1, 1, A, 0.8)]).summary();
        assert_close!(summary.ap, 1.0);
    }

    #[test]
    fn no_detections_give_zero() {
        let summary = evaluate(&[gt(1, 1, A), gt(2, 2, A)], &[]).summary();
        assert_eq!((summary.ap, summary.ap50, summary.ap_small), (0.0, 0.0, 0.0));
        assert_eq!((summary.ar1, summary.ar10, summary.ar100, summary.ar_small), (0.0, 0.0, 0.0, 0.0));
        // Nothing of medium or large size to find: undefined.
        assert_eq!((summary.ap_medium, summary.ap_large), (-1.0, -1.0));
        assert_eq!((summary.ar_medium, summary.ar_large), (-1.0, -1.0));
    }

    /// Image 1: three small boxes G1..G3 and twelve detections, ranked FP, G1, G2, seven
    /// FPs, G3, FP; image 2: box G4 found by its only detection. P = 4, the same at every
    /// IoU threshold (every match has IoU 1, every FP IoU 0).
    fn ranked_on_two_images() -> (Vec<GroundTruth>, Vec<Detection>) {
        let at = |x: f64| [x, 0.0, 10.0, 10.0];
        let gts = vec![gt(1, 1, at(0.0)), gt(1, 1, at(20.0)), gt(1, 1, at(40.0)), gt(2, 1, at(0.0))];
        let fp = |i: usize, score: f64| det(1, 1, [0.0, 100.0 + 20.0 * i as f64, 10.0, 10.0], score);
        let mut dets = vec![fp(0, 0.99), det(1, 1, at(0.0), 0.9), det(1, 1, at(20.0), 0.8)];
        dets.extend((1..=7).map(|i| fp(i, 0.7 - 0.01 * i as f64)));
        dets.extend([det(1, 1, at(40.0), 0.1), fp(8, 0.05), det(2, 1, at(0.0), 0.5)]);
        (gts, dets)
    }

    #[test]
    fn recall_at_1_10_and_100_detections_per_image() {
        let (gts, dets) = ranked_on_two_images();
        let eval = evaluate(&gts, &dets);
        // maxDets is per image, not over the ranking of all images: at 1 the FP of image 1
        // and G4 of image 2 count (1/4), at 10 G1 and G2 join (3/4), at 100 G3 (1).
        for t in 0..NUM_IOU_THRESHOLDS {
            assert_eq!(eval.recall(t, 0, AreaRange::All, 1), Some(0.25));
            assert_eq!(eval.recall(t, 0, AreaRange::All, 10), Some(0.75));
            assert_eq!(eval.recall(t, 0, AreaRange::All, 100), Some(1.0));
        }
        assert_eq!(eval.recall(0, 0, AreaRange::All, 5), None);
        assert_eq!(eval.recall(0, 2, AreaRange::All, 100), None);
        let summary = eval.summary();
        assert_eq!((summary.ar1, summary.ar10, summary.ar100), (0.25, 0.75, 1.0));
        // All four boxes are small; category 2 has none and is left out of the means.
        assert_eq!((summary.ar_small, summary.ar_medium, summary.ar_large), (1.0, -1.0, -1.0));
        assert_eq!(eval.recall(0, 1, AreaRange::All, 100), Some(-1.0));
        // Pycocotools' `average_recall` arguments outside its maxDets give -1.
        assert_eq!(eval.average_recall(None, AreaRange::All, 20), -1.0);
        assert_eq!(eval.average_recall(Some(10), AreaRange::All, 100), -1.0);
        assert_eq!(eval.average_recall(Some(0), AreaRange::All, 10), 0.75);
    }

    #[test]
    fn recall_is_averaged_over_iou_thresholds() {
        // IoU 0.72 with the only box: a match at .50 .. .70 (5 of 10 thresholds) -> AR .5.
        let summary = evaluate(&[gt(1, 1, A)], &[det(1, 1, [0.0, 0.0, 10.0, 7.2], 0.9)]).summary();
        assert_close!(summary.ar100, 0.5);
        assert_close!(summary.ar1, 0.5);
        // The box found by the first detection at .50 and .55 (IoU .58) and by the second
        // (IoU 1) above: recall reaches 1 at every threshold with both, 2/10 with one.
        let dets = [det(1, 1, [0.0, 0.0, 10.0, 5.8], 0.9), det(1, 1, A, 0.8)];
        let summary = evaluate(&[gt(1, 1, A)], &dets).summary();
        assert_close!(summary.ar1, 0.2);
        assert_close!(summary.ar10, 1.0);
        assert_close!(summary.ar100, 1.0);
        // Over categories: category 1 found (1), category 2 one of two boxes (1/2) -> 3/4.
        let gts = [gt(1, 1, A), gt(1, 2, A), gt(2, 2, A)];
        let summary = evaluate(&gts, &[det(1, 1, A, 0.9), det(2, 2, A, 0.8)]).summary();
        assert_close!(summary.ar100, 0.75);
    }

    #[test]
    fn category_without_ground_truth_is_left_out() {
        // Category 2 has only false positives and no box: excluded, so AP is category 1's.
        let eval = evaluate(&[gt(1, 1, A)], &[det(1, 1, A, 0.5), det(1, 2, A, 0.9), det(2, 2, A, 0.9)]);
        assert_close!(eval.summary().ap, 1.0);
        assert_eq!(eval.category_ap(2, None, AreaRange::All), -1.0);
        assert_eq!(eval.precision(0, 0, 1, AreaRange::All), Some(-1.0));
        // Alone, it leaves nothing: -1 everywhere.
        let summary = evaluate(&[], &[det(1, 2, A, 0.9)]).summary();
        let undefined = CocoSummary {
            ap: -1.0,
            ap50: -1.0,
            ap75: -1.0,
            ap_small: -1.0,
            ap_medium: -1.0,
            ap_large: -1.0,
            ar1: -1.0,
            ar10: -1.0,
            ar100: -1.0,
            ar_small: -1.0,
            ar_medium: -1.0,
            ar_large: -1.0,
        };
        assert_eq!(summary, undefined);
        assert_eq!(evaluate(&[], &[det(1, 2, A, 0.9)]).recall(0, 1, AreaRange::All, 100), Some(-1.0));
    }

    #[test]
    fn mean_is_over_categories() {
        // Category 1 perfect (1), category 2 FP above TP (1/2): AP = 3/4.
        let gts = [gt(1, 1, A), gt(1, 2, A)];
        let dets = [det(1, 1, A, 0.5), det(1, 2, FAR, 0.9), det(1, 2, A, 0.8)];
        let eval = evaluate(&gts, &dets);
        assert_close!(eval.summary().ap, 0.75);
        assert_close!(eval.category_ap(2, Some(0), AreaRange::All), 0.5);
    }

    #[test]
    fn iou_threshold_is_inclusive() {
        // IoU exactly 0.5: a match at .50 only. AP50 = 1, AP75 = 0, AP = 1/10.
        let summary = evaluate(&[gt(1, 1, A)], &[det(1, 1, [0.0, 0.0, 10.0, 5.0], 0.9)]).summary();
        assert_close!(summary.ap50, 1.0);
        assert_eq!(summary.ap75, 0.0);
        assert_close!(summary.ap, 0.1);
    }

    #[test]
    fn greedy_matching_by_score() {
        // Boxes A = [0,10]^2 and B = [6,16]x[0,10]. d1 = [2,12]x[0,10] (0.9) has IoU 2/3
        // with A, 3/7 with B; d2 = A (0.8) has IoU 1 with A, 1/4 with B.
        // t <= .65: d1 takes A, d2 finds A taken and B too far: TP, FP -> recall [.5, .5],
        //   precision [1, .5]: points 0..=.50 read 1, the rest 0 -> 51/101.
        // t >= .70: d1 unmatched (FP), d2 takes A: recall [0, .5], precision [0, .5] ->
        //   points 0..=.50 read .5 -> 25.5/101.
        // AP = (4 * 51 + 6 * 25.5) / 1010.
        let gts = [gt(1, 1, A), gt(1, 1, [6.0, 0.0, 10.0, 10.0])];
        let dets = [det(1, 1, [2.0, 0.0, 10.0, 10.0], 0.9), det(1, 1, A, 0.8)];
        let summary = evaluate(&gts, &dets).summary();
        assert_close!(summary.ap50, 51.0 / 101.0);
        assert_close!(summary.ap75, 25.5 / 101.0);
        assert_close!(summary.ap, (4.0 * 51.0 + 6.0 * 25.5) / 1010.0);
    }

    #[test]
    fn equal_iou_goes_to_the_later_box() {
        // d1 = [3,13]x[0,10] overlaps A and B = [6,16]x[0,10] by 70 / 130 each; pycocotools
        // keeps the later box (B), which leaves A to d2: two TPs at .50, AP50 = 1. Taking A
        // instead would make d2 a FP (IoU 1/4 with B) and AP50 51/101.
        let gts = [gt(1, 1, A), gt(1, 1, [6.0, 0.0, 10.0, 10.0])];
        let dets = [det(1, 1, [3.0, 0.0, 10.0, 10.0], 0.9), det(1, 1, A, 0.8)];
        assert_close!(evaluate(&gts, &dets).summary().ap50, 1.0);
    }

    #[test]
    fn crowd_regions_are_ignored() {
        // Box A, crowd C = [20,60]x[0,40]. d1 = [25,35]x[5,15] (0.95) and d3 = [40,50]x[20,30]
        // (0.85) lie inside C (IoU 1 by the crowd rule; a crowd takes any number): ignored.
        // FP (0.92) far away, d2 = A (0.9). Counted ranking FP, TP with P = 1 -> AP 1/2.
        let gts = [gt(1, 1, A), crowd(1, 1, [20.0, 0.0, 40.0, 40.0])];
        let dets =
            [det(1, 1, [25.0, 5.0, 10.0, 10.0], 0.95), det(1, 1, FAR, 0.92), det(1, 1, A, 0.9), det(1, 1, [40.0, 20.0, 10.0, 10.0], 0.85)];
        let summary = evaluate(&gts, &dets).summary();
        assert_close!(summary.ap, 0.5);
        // Crowds are not boxes to find, and detections matched to them are not found boxes.
        assert_eq!(summary.ar100, 1.0);
        // Were C an ordinary box, d1 and d3 would be false positives (IoU 1/16 with C), and
        // C a box to find: FP, FP, TP, FP with P = 2 -> recall reaches only 1/2 at precision
        // 1/3: points 0..=.50 read 1/3 -> (51/3)/101.
        let plain = [gt(1, 1, A), gt(1, 1, [20.0, 0.0, 40.0, 40.0])];
        let summary = evaluate(&plain, &dets).summary();
        assert_close!(summary.ap, 17.0 / 101.0);
        assert_eq!(summary.ar100, 0.5);
    }

    #[test]
    fn crowd_iou_uses_the_detection_area() {
        // d1 = [15,25]x[0,10] (0.95) overlaps crowd C = [20,60]x[0,40] by 50 of its 100:
        // IoU 0.5 under the crowd rule, so at .50 it is ignored (AP50 = 1 with d2 = A TP);
        // above .50 it is a FP ranked first (1/2). AP = (1 + 9 * 0.5) / 10.
        let gts = [gt(1, 1, A), crowd(1, 1, [20.0, 0.0, 40.0, 40.0])];
        let dets = [det(1, 1, [15.0, 0.0, 10.0, 10.0], 0.95), det(1, 1, A, 0.9)];
        let summary = evaluate(&gts, &dets).summary();
        assert_close!(summary.ap50, 1.0);
        assert_close!(summary.ap75, 0.5);
        assert_close!(summary.ap, 0.55);
    }

    #[test]
    fn size_ranges_by_hand() {
        // Small S (area 100), medium M (1600), large L (14400) on one image. Detections: a
        // small FP (area 25, 0.95), S (0.9), L (0.8); M is missed.
        let s = [0.0, 0.0, 10.0, 10.0];
        let m = [100.0, 0.0, 40.0, 40.0];
        let l = [0.0, 100.0, 120.0, 120.0];
        let gts = [gt(1, 1, s), gt(1, 1, m), gt(1, 1, l)];
        let dets = [det(1, 1, [300.0, 300.0, 5.0, 5.0], 0.95), det(1, 1, s, 0.9), det(1, 1, l, 0.8)];
        let summary = evaluate(&gts, &dets).summary();
        // all: FP, TP, TP with P = 3 -> recall [0, 1/3, 2/3], precision envelope 2/3 up to
        // recall 2/3 (points 0..=.66, 67 of them), then 0: 67 * (2/3) / 101.
        assert_close!(summary.ap, 67.0 * 2.0 / 3.0 / 101.0);
        // small: M and L ignored; FP, TP(S), ignored(L) -> 1/2.
        assert_close!(summary.ap_small, 0.5);
        // medium: only M counts; the FP is outside the range and unmatched, S and L match
        // ignored boxes: nothing ranked counts -> 0.
        assert_eq!(summary.ap_medium, 0.0);
        // large: only L counts and is found first among the counted ones -> 1.
        assert_close!(summary.ap_large, 1.0);
        // Recall: two of three over all sizes; S found, M missed, L found.
        assert_close!(summary.ar100, 2.0 / 3.0);
        assert_eq!((summary.ar_small, summary.ar_medium, summary.ar_large), (1.0, 0.0, 1.0));
        // At one detection per image only the FP counts.
        assert_eq!(summary.ar1, 0.0);
    }

    #[test]
    fn size_bounds_are_inclusive_and_use_the_area_field() {
        // A 32x32 box (1024) is both small and medium.
        let b = [0.0, 0.0, 32.0, 32.0];
        let summary = evaluate(&[gt(1, 1, b)], &[det(1, 1, b, 0.9)]).summary();
        assert_close!(summary.ap_small, 1.0);
        assert_close!(summary.ap_medium, 1.0);
        assert_eq!(summary.ap_large, -1.0);
        // The annotation's `area` (a segment's area) decides, not the box: a 40x40 box
        // with area 500 is small.
        let segment = GroundTruth { area: 500.0, ..gt(1, 1, [0.0, 0.0, 40.0, 40.0]) };
        let summary = evaluate(&[segment], &[det(1, 1, segment.bbox, 0.9)]).summary();
        assert_close!(summary.ap_small, 1.0);
        assert_eq!(summary.ap_medium, -1.0);
    }

    #[test]
    fn at_most_100_detections_per_image_and_category() {
        let fps: Vec<Detection> = (0..100).map(|i| det(1, 1, [100.0 + i as f64 * 20.0, 0.0, 10.0, 10.0], 0.9)).collect();
        // 99 FPs above the TP: it ranks 100th and is kept -> precision 1/100 at recall 1.
        let mut dets = fps[..99].to_vec();
        dets.push(det(1, 1, A, 0.5));
        assert_close!(evaluate(&[gt(1, 1, A)], &dets).summary().ap, 0.01);
        // 100 FPs above it: it is cut.
        let mut dets = fps.clone();
        dets.push(det(1, 1, A, 0.5));
        assert_eq!(evaluate(&[gt(1, 1, A)], &dets).summary().ap, 0.0);
        // 100 FPs of another category on the same image do not push it out.
        let mut dets: Vec<Detection> = fps.iter().map(|d| Detection { category_id: 2, ..*d }).collect();
        dets.push(det(1, 1, A, 0.5));
        assert_close!(evaluate(&[gt(1, 1, A)], &dets).summary().ap, 1.0);
    }

    #[test]
    fn equal_scores_keep_image_order() {
        // A FP on image 1 and a TP on image 2, both 0.9: image 1 ranks first -> 1/2. On
        // image 3 (after image 2) the FP does not hurt -> 1.
        let gts = [gt(2, 1, A)];
        assert_close!(evaluate(&gts, &[det(2, 1, A, 0.9), det(1, 1, A, 0.9)]).summary().ap, 0.5);
        assert_close!(evaluate(&gts, &[det(3, 1, A, 0.9), det(2, 1, A, 0.9)]).summary().ap, 1.0);
    }

    #[test]
    fn voc_ap50_of_the_same_data() {
        // Duplicate case: TP, duplicate, TP -> VOC all-point 0.5 + 0.5 * 2/3 (the COCO
        // 101-point value is (51 + 100/3) / 101).
        let gts = [gt(1, 1, A), gt(2, 1, A), crowd(3, 1, A)];
        let dets = [det(2, 1, A, 0.7), det(1, 1, A, 0.9), det(1, 1, A, 0.8), det(3, 1, A, 0.95)];
        let evaluator = CocoEvaluator::new(&[1, 2, 3], &[1, 2], &gts).unwrap();
        let voc = evaluator.voc_ap50(&dets).unwrap();
        assert_eq!(voc.per_class.len(), 2);
        assert_close!(voc.per_class[0].unwrap(), 0.5 + 1.0 / 3.0);
        assert_eq!(voc.per_class[1], None);
        assert_close!(voc.mean_ap(), 0.5 + 1.0 / 3.0);
    }

    #[test]
    fn bad_detections_are_errors() {
        let evaluator = CocoEvaluator::new(&[1], &[1], &[gt(1, 1, A)]).unwrap();
        for (bad, expected) in [
            (det(9, 1, A, 0.5), "image_id 9 is not an image"),
            (det(1, 7, A, 0.5), "category_id 7 is not a category"),
            (det(1, 1, [0.0, 0.0, -1.0, 4.0], 0.5), "negative width or height"),
            (det(1, 1, A, f64::NAN), "score NaN is not a finite number"),
            (det(1, 1, [0.0, f64::INFINITY, 1.0, 1.0], 0.5), "not finite"),
        ] {
            let error = evaluator.evaluate(&[det(1, 1, A, 0.1), bad]).unwrap_err().to_string();
            assert!(error.contains("detection 1 (counting from 0)") && error.contains(expected), "{error}");
            assert!(evaluator.voc_ap50(&[bad]).is_err());
        }
        let error = CocoEvaluator::new(&[1], &[1], &[gt(2, 1, A)]).unwrap_err().to_string();
        assert!(error.contains("ground truth") && error.contains("image_id 2"), "{error}");
    }

    #[test]
    fn ground_truth_from_a_coco_file() {
        // A 40x40 box whose segment covers 500 px (small by its `area`) and a crowd region.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("instances.json");
        std::fs::write(
            &path,
            r#"{"images": [{"id": 4, "file_name": "a.jpg", "width": 100, "height": 100}],
                "annotations": [
                  {"id": 1, "image_id": 4, "category_id": 3, "bbox": [0, 0, 40, 40], "area": 500, "iscrowd": 0},
                  {"id": 2, "image_id": 4, "category_id": 3, "bbox": [50, 50, 50, 50], "area": 2500, "iscrowd": 1}],
                "categories": [{"id": 3, "name": "c"}]}"#,
        )
        .unwrap();
        let evaluator = CocoEvaluator::from_dataset(&CocoDataset::open(&path, dir.path()).unwrap()).unwrap();
        assert_eq!((evaluator.image_ids(), evaluator.category_ids()), (&[4][..], &[3][..]));
        // A detection inside the crowd is ignored, so the FP-free ranking gives 1; the box
        // counts as small, and no medium box is left to find.
        let dets = [det(4, 3, [60.0, 60.0, 20.0, 20.0], 0.9), det(4, 3, [0.0, 0.0, 40.0, 40.0], 0.8)];
        let summary = evaluator.evaluate(&dets).unwrap().summary();
        assert_close!(summary.ap, 1.0);
        assert_close!(summary.ap_small, 1.0);
        assert_eq!(summary.ap_medium, -1.0);
    }

    #[test]
    fn results_file_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.json");
        let evaluator = CocoEvaluator::new(&[1], &[1], &[gt(1, 1, A)]).unwrap();
        let read = |text: &str| {
            std::fs::write(&path, text).unwrap();
            evaluator.read_detections(&path)
        };
        let good = read(r#"[{"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.5, "id": 3}]"#).unwrap();
        assert_eq!(good, [det(1, 1, A, 0.5)]);
        assert_eq!(read("[]").unwrap(), []);
        for (text, expected) in [
            ("[{\"image_id\": 1,\n \"category_id\": 1, \"bbox\": [0, 0, 10, 10] \"score\": 0.5}]", "line 2 column"),
            (r#"[{"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": NaN}]"#, "JSON has no NaN or Infinity"),
            (r#"[{"image_id": 1, "category_id": 1, "bbox": [0, 0, 10], "score": 0.5}]"#, "invalid length 3"),
            (r#"{"image_id": 1}"#, "malformed COCO results JSON"),
            (r#"[{"image_id": 5, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.5}]"#, "detection 0 (counting from 0): image_id 5"),
            (r#"[{"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, -2], "score": 0.5}]"#, "negative width or height"),
        ] {
            let error = read(text).unwrap_err().to_string();
            assert!(error.contains("results.json") && error.contains(expected), "{text}: {error}");
        }
        let error = evaluator.read_detections(dir.path().join("missing.json")).unwrap_err().to_string();
        assert!(error.contains("missing.json"), "{error}");
    }
}
