//! Greedy non-maximum suppression: keep the best-scoring box, drop every box overlapping it
//! by more than the threshold, repeat. (libtorch has no NMS; torchvision's is a separate
//! library.) Per class, as RetinaNet's post-processing does it.

/// One candidate detection.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    /// `(x1, y1, x2, y2)` in pixels.
    pub bbox: [f32; 4],
    pub score: f32,
    pub class: usize,
}

fn iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let w = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let h = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = w * h;
    let area = |r: &[f32; 4]| (r[2] - r[0]).max(0.0) * (r[3] - r[1]).max(0.0);
    let union = area(a) + area(b) - inter;
    if union > 0.0 {
        inter / union
    } else {
        0.0
    }
}

/// The candidates that survive class-wise NMS at `iou_threshold`, best score first, at
/// most `max_keep` of them. Ties keep the input order.
pub fn batched_nms(mut candidates: Vec<Candidate>, iou_threshold: f32, max_keep: usize) -> Vec<Candidate> {
    candidates.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Candidate> = Vec::new();
    for candidate in candidates {
        if kept.len() == max_keep {
            break;
        }
        let suppressed = kept.iter().any(|k| k.class == candidate.class && iou(&k.bbox, &candidate.bbox) > iou_threshold);
        if !suppressed {
            kept.push(candidate);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(bbox: [f32; 4], score: f32, class: usize) -> Candidate {
        Candidate { bbox, score, class }
    }

    #[test]
    fn overlapping_boxes_of_one_class_collapse_to_the_best() {
        let kept = batched_nms(
            vec![
                c([0.0, 0.0, 10.0, 10.0], 0.8, 0),
                c([1.0, 0.0, 11.0, 10.0], 0.9, 0), // IoU 9/11 with the first: suppresses it
                c([1.0, 0.0, 11.0, 10.0], 0.7, 1), // another class: kept
                c([5.0, 0.0, 15.0, 10.0], 0.6, 0), // IoU 6/14 < 0.5 with the best: kept
                c([30.0, 30.0, 40.0, 40.0], 0.5, 0),
            ],
            0.5,
            100,
        );
        let scores: Vec<f32> = kept.iter().map(|k| k.score).collect();
        assert_eq!(scores, [0.9, 0.7, 0.6, 0.5]);
        assert_eq!(batched_nms(kept.clone(), 0.5, 2).len(), 2);
        assert!(batched_nms(Vec::new(), 0.5, 10).is_empty());
    }
}
