//! PASCAL VOC average precision, "all-point" (VOC2010 onwards): Everingham et al., "The
//! PASCAL Visual Object Classes (VOC) Challenge", IJCV 2010, §4.2, as the devkit computes it
//! (`VOCevaldet.m`, and `voc_eval.py` with `use_07_metric=False`).
//!
//! Per class, over all images at once:
//! - detections are taken by decreasing score (ties keep their input order);
//! - each is compared with *every* ground-truth box of its image and class and takes the one
//!   of largest IoU (the first on ties); IoU strictly above the threshold (0.5 for AP50)
//!   makes it a true positive if that box is not yet detected, a false positive if it is (a
//!   duplicate); IoU at or below the threshold is a false positive;
//! - a detection whose best box is `difficult` counts neither way, and difficult boxes are
//!   not among the positives to find;
//! - recall = TP / positives, precision = TP / (TP + FP) after each counted detection, and
//!   AP is the area under the precision envelope (precision made non-increasing in recall),
//!   summed at every recall change ([`all_point_ap`]).
//!
//! Boxes are corners in continuous coordinates, so IoU uses `x_max - x_min` as the width.
//! The devkit adds 1 to widths because its boxes are inclusive pixel indices; the VOC reader
//! stores those as `[xmin - 1, xmax]` (see `data::voc`), which gives the same IoU.
//! A class with no non-difficult box has no AP (the devkit divides by zero there); the mean
//! is over the classes that have one. AP is on the 0-1 scale, higher is better.

use std::collections::HashMap;

use glcan_core::{Error, Result};

/// The IoU a VOC detection must exceed (strictly) to match.
pub const VOC_IOU_THRESHOLD: f64 = 0.5;

/// A ground-truth box for VOC evaluation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VocObject {
    pub image_id: i64,
    /// Contiguous class index, `< num_classes`.
    pub class: usize,
    /// `[x_min, y_min, x_max, y_max]`, continuous coordinates.
    pub bbox: [f64; 4],
    /// VOC `difficult` (or COCO `iscrowd`): neither to be found nor a false positive.
    pub difficult: bool,
}

/// A scored detection for VOC evaluation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VocDetection {
    pub image_id: i64,
    pub class: usize,
    /// `[x_min, y_min, x_max, y_max]`, continuous coordinates.
    pub bbox: [f64; 4],
    pub score: f64,
}

/// Per-class VOC AP.
#[derive(Debug, Clone, PartialEq)]
pub struct VocEval {
    /// AP of each class; `None` for a class without non-difficult ground truth.
    pub per_class: Vec<Option<f64>>,
}

impl VocEval {
    /// Mean AP over the classes that have one; -1 when none has (pycocotools' convention
    /// for "undefined", so both evaluators print the same sentinel).
    pub fn mean_ap(&self) -> f64 {
        let defined: Vec<f64> = self.per_class.iter().flatten().copied().collect();
        if defined.is_empty() {
            -1.0
        } else {
            defined.iter().sum::<f64>() / defined.len() as f64
        }
    }
}

/// Area under the precision envelope of `(recall, precision)` points taken in ranking order:
/// with recall padded by 0 and 1 and precision by 0 and 0, precision is replaced by its
/// maximum over all later points, and `sum (r[i+1] - r[i]) * p[i+1]` is taken over the
/// steps where recall changes. No points gives 0.
pub fn all_point_ap(points: &[(f64, f64)]) -> f64 {
    let mut recall = Vec::with_capacity(points.len() + 2);
    let mut precision = Vec::with_capacity(points.len() + 2);
    recall.push(0.0);
    precision.push(0.0);
    for &(r, p) in points {
        recall.push(r);
        precision.push(p);
    }
    recall.push(1.0);
    precision.push(0.0);
    for i in (1..precision.len()).rev() {
        precision[i - 1] = precision[i - 1].max(precision[i]);
    }
    (0..recall.len() - 1).filter(|&i| recall[i + 1] != recall[i]).map(|i| (recall[i + 1] - recall[i]) * precision[i + 1]).sum()
}

/// IoU of two corner boxes in continuous coordinates (0 when they do not overlap).
pub fn iou_xyxy(a: &[f64; 4], b: &[f64; 4]) -> f64 {
    let w = a[2].min(b[2]) - a[0].max(b[0]);
    let h = a[3].min(b[3]) - a[1].max(b[1]);
    if w <= 0.0 || h <= 0.0 {
        return 0.0;
    }
    let inter = w * h;
    let union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
    if union > 0.0 {
        inter / union
    } else {
        0.0
    }
}

/// What one ranked detection turned out to be.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Outcome {
    TruePositive,
    FalsePositive,
    /// Best match is a difficult box: left out of the ranking.
    Ignored,
}

/// VOC AP of `detections` against `ground_truth` for classes `0..num_classes`, a detection
/// matching when its IoU exceeds `iou_threshold` (use [`VOC_IOU_THRESHOLD`] for AP50).
/// Errors name the offending entry: a class out of range, a box that is not finite or has
/// its corners swapped, a score that is not finite.
pub fn voc_ap(ground_truth: &[VocObject], detections: &[VocDetection], num_classes: usize, iou_threshold: f64) -> Result<VocEval> {
    for (index, object) in ground_truth.iter().enumerate() {
        check_box(object.class, &object.bbox, num_classes)
            .map_err(|fault| Error::config("ground truth", format!("object {index} (image id {}): {fault}", object.image_id)))?;
    }
    for (index, det) in detections.iter().enumerate() {
        check_box(det.class, &det.bbox, num_classes)
            .and_then(|()| if det.score.is_finite() { Ok(()) } else { Err(format!("score {} is not a finite number", det.score)) })
            .map_err(|fault| Error::config("detections", format!("detection {index} (image id {}): {fault}", det.image_id)))?;
    }

    let mut per_class = Vec::with_capacity(num_classes);
    for class in 0..num_classes {
        // Ground truth of this class by image, in input order; `detected` marks matched boxes.
        let mut by_image: HashMap<i64, Vec<usize>> = HashMap::new();
        for (index, object) in ground_truth.iter().enumerate().filter(|(_, o)| o.class == class) {
            by_image.entry(object.image_id).or_default().push(index);
        }
        let positives = ground_truth.iter().filter(|o| o.class == class && !o.difficult).count();
        if positives == 0 {
            per_class.push(None);
            continue;
        }
        let mut detected = vec![false; ground_truth.len()];
        let mut ranked: Vec<&VocDetection> = detections.iter().filter(|d| d.class == class).collect();
        // Stable, so equal scores keep their input order.
        ranked.sort_by(|a, b| b.score.total_cmp(&a.score));

        let (mut tp, mut fp) = (0usize, 0usize);
        let mut points = Vec::with_capacity(ranked.len());
        for det in ranked {
            let mut best: Option<(usize, f64)> = None;
            for &g in by_image.get(&det.image_id).map(Vec::as_slice).unwrap_or(&[]) {
                let iou = iou_xyxy(&det.bbox, &ground_truth[g].bbox);
                // Strictly greater: the first box of largest IoU wins, as numpy's argmax.
                if best.is_none_or(|(_, b)| iou > b) {
                    best = Some((g, iou));
                }
            }
            let outcome = match best {
                Some((g, iou)) if iou > iou_threshold => {
                    if ground_truth[g].difficult {
                        Outcome::Ignored
                    } else if detected[g] {
                        Outcome::FalsePositive
                    } else {
                        detected[g] = true;
                        Outcome::TruePositive
                    }
                }
                _ => Outcome::FalsePositive,
            };
            match outcome {
                Outcome::TruePositive => tp += 1,
                Outcome::FalsePositive => fp += 1,
                // The devkit leaves a zero in both counts there: the point repeats the last
                // one and changes neither recall nor the envelope, so it is simply skipped.
                Outcome::Ignored => continue,
            }
            points.push((tp as f64 / positives as f64, tp as f64 / (tp + fp) as f64));
        }
        per_class.push(Some(all_point_ap(&points)));
    }
    Ok(VocEval { per_class })
}

/// The fault of a class index or corner box, if any.
fn check_box(class: usize, bbox: &[f64; 4], num_classes: usize) -> std::result::Result<(), String> {
    if class >= num_classes {
        return Err(format!("class {class} is out of range for {num_classes} classes"));
    }
    if bbox.iter().any(|v| !v.is_finite()) {
        return Err(format!("box {bbox:?} is not finite"));
    }
    if bbox[2] < bbox[0] || bbox[3] < bbox[1] {
        return Err(format!("box {bbox:?} has x_max < x_min or y_max < y_min"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(image_id: i64, bbox: [f64; 4]) -> VocObject {
        VocObject { image_id, class: 0, bbox, difficult: false }
    }

    fn det(image_id: i64, bbox: [f64; 4], score: f64) -> VocDetection {
        VocDetection { image_id, class: 0, bbox, score }
    }

    const A: [f64; 4] = [0.0, 0.0, 10.0, 10.0];
    const B: [f64; 4] = [20.0, 0.0, 30.0, 10.0];
    const FAR: [f64; 4] = [50.0, 50.0, 60.0, 60.0];

    fn ap(gt: &[VocObject], dets: &[VocDetection]) -> f64 {
        voc_ap(gt, dets, 1, VOC_IOU_THRESHOLD).unwrap().per_class[0].unwrap()
    }

    #[test]
    fn envelope_area_by_hand() {
        // Points (0.5, 1), (0.5, 0.5), (1, 2/3): the envelope is 1 up to recall 0.5 and 2/3
        // after it, so AP = 0.5 * 1 + 0.5 * 2/3.
        let ap = all_point_ap(&[(0.5, 1.0), (0.5, 0.5), (1.0, 2.0 / 3.0)]);
        assert!((ap - (0.5 + 1.0 / 3.0)).abs() < 1e-15, "{ap}");
        assert_eq!(all_point_ap(&[]), 0.0);
        // Recall that stops at 0.25 with precision 1.
        assert_eq!(all_point_ap(&[(0.25, 1.0)]), 0.25);
    }

    #[test]
    fn perfect_and_missing_detections() {
        let gt = [object(1, A), object(1, B)];
        assert_eq!(ap(&gt, &[det(1, A, 0.9), det(1, B, 0.8)]), 1.0);
        assert_eq!(ap(&gt, &[]), 0.0);
        // Only one of two boxes found, with precision 1: AP = 0.5.
        assert_eq!(ap(&gt, &[det(1, A, 0.9)]), 0.5);
    }

    #[test]
    fn false_positive_ranked_first_halves_ap() {
        // FP then TP: points (0, 0), (1, 0.5); envelope 0.5 over the whole recall range.
        assert_eq!(ap(&[object(1, A)], &[det(1, FAR, 0.9), det(1, A, 0.8)]), 0.5);
    }

    #[test]
    fn duplicate_is_a_false_positive_even_with_another_box_near() {
        // The duplicate of A overlaps C at IoU 0.6, but VOC matches only the best box (A,
        // IoU 1) and that one is taken: a false positive, not a match to C.
        let c = [0.0, 0.0, 10.0, 6.0];
        let gt = [object(1, A), object(1, c)];
        // TP(A), FP(dup of A): points (0.5, 1), (0.5, 0.5) -> AP 0.5.
        assert_eq!(ap(&gt, &[det(1, A, 0.9), det(1, A, 0.8)]), 0.5);
    }

    #[test]
    fn threshold_is_strict() {
        // IoU exactly 0.5 ([0,10]x[0,5] inside A): not a match in VOC.
        let half = [0.0, 0.0, 10.0, 5.0];
        assert_eq!(iou_xyxy(&half, &A), 0.5);
        assert_eq!(ap(&[object(1, A)], &[det(1, half, 0.9)]), 0.0);
        assert_eq!(voc_ap(&[object(1, A)], &[det(1, half, 0.9)], 1, 0.49).unwrap().per_class[0], Some(1.0));
    }

    #[test]
    fn difficult_boxes_are_ignored() {
        let gt = [object(1, A), VocObject { difficult: true, ..object(1, B) }];
        // The detection of the difficult box counts neither way; A alone is the positive.
        assert_eq!(ap(&gt, &[det(1, B, 0.95), det(1, A, 0.9)]), 1.0);
        // A class with only difficult boxes has no AP, and the mean skips it.
        let only_difficult = [VocObject { difficult: true, ..object(1, A) }, VocObject { class: 1, ..object(1, A) }];
        let eval = voc_ap(&only_difficult, &[], 3, VOC_IOU_THRESHOLD).unwrap();
        assert_eq!(eval.per_class, [None, Some(0.0), None]);
        assert_eq!(eval.mean_ap(), 0.0);
        assert_eq!(voc_ap(&[], &[], 2, 0.5).unwrap().mean_ap(), -1.0);
    }

    #[test]
    fn mixed_ranking_by_hand() {
        // Two boxes on two images; ranking TP(0.9), FP(0.8), TP(0.7): points (0.5, 1),
        // (0.5, 0.5), (1, 2/3) -> AP = 0.5 + 0.5 * 2/3.
        let gt = [object(1, A), object(2, A)];
        let ap = ap(&gt, &[det(2, A, 0.7), det(1, A, 0.9), det(1, FAR, 0.8)]);
        assert!((ap - (0.5 + 1.0 / 3.0)).abs() < 1e-15, "{ap}");
    }

    #[test]
    fn bad_entries_are_errors() {
        let e = voc_ap(&[VocObject { class: 2, ..object(1, A) }], &[], 2, 0.5).unwrap_err().to_string();
        assert!(e.contains("ground truth") && e.contains("class 2 is out of range"), "{e}");
        let e = voc_ap(&[], &[det(4, A, f64::NAN)], 1, 0.5).unwrap_err().to_string();
        assert!(e.contains("detection 0 (image id 4)") && e.contains("score NaN"), "{e}");
        let e = voc_ap(&[], &[det(4, [5.0, 0.0, 1.0, 1.0], 0.5)], 1, 0.5).unwrap_err().to_string();
        assert!(e.contains("x_max < x_min"), "{e}");
    }
}
