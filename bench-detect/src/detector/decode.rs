//! From the real head's output to detections: sigmoid scores, the best candidates above
//! the score threshold, boxes decoded at their anchors and clipped to the image, per-class
//! NMS, at most `max_detections` per image.

use tch::{Kind, Tensor};

use super::nms::{batched_nms, Candidate};
use super::{boxes, DetectorConfig};

/// The detections of every image of a head output `[B, N, C + 8]` (see
/// [`super::head::RetinaNetHead`]) on images of `width` x `height` pixels.
pub fn detections(output: &Tensor, width: f64, height: f64, config: &DetectorConfig) -> Vec<Vec<Candidate>> {
    let output = output.to_kind(Kind::Float).to_device(tch::Device::Cpu);
    let c = output.size()[2] - 8;
    (0..output.size()[0]).map(|b| image_detections(&output.get(b), c, width, height, config)).collect()
}

fn image_detections(output: &Tensor, c: i64, width: f64, height: f64, config: &DetectorConfig) -> Vec<Candidate> {
    let scores = output.narrow(1, 0, c).sigmoid().flatten(0, -1); // anchor-major, then class
    let keep = scores.gt(config.score_threshold).nonzero().flatten(0, -1);
    if keep.size()[0] == 0 {
        return Vec::new();
    }
    let kept_scores = scores.index_select(0, &keep);
    let k = (config.candidates as i64).min(kept_scores.size()[0]);
    let (top_scores, order) = kept_scores.topk(k, 0, true, true);
    let flat = keep.index_select(0, &order);
    let anchor = flat.divide_scalar_mode(c, "floor");
    let class = flat.remainder(c);
    let deltas = output.narrow(1, c, 4).index_select(0, &anchor);
    let anchors = output.narrow(1, c + 4, 4).index_select(0, &anchor);
    let decoded = boxes::decode(&deltas, &anchors);
    let x = |i: i64| decoded.select(1, i);
    let clipped = Tensor::stack(&[x(0).clamp(0.0, width), x(1).clamp(0.0, height), x(2).clamp(0.0, width), x(3).clamp(0.0, height)], 1);
    let coords = Vec::<f32>::try_from(clipped.flatten(0, -1)).unwrap_or_default();
    let scores = Vec::<f32>::try_from(top_scores).unwrap_or_default();
    let classes = Vec::<i64>::try_from(class).unwrap_or_default();
    let candidates = scores
        .iter()
        .zip(&classes)
        .enumerate()
        .map(|(i, (&score, &class))| Candidate {
            bbox: [coords[4 * i], coords[4 * i + 1], coords[4 * i + 2], coords[4 * i + 3]],
            score,
            class: class as usize,
        })
        .filter(|c| c.bbox[2] > c.bbox[0] && c.bbox[3] > c.bbox[1])
        .collect();
    batched_nms(candidates, config.nms_iou as f32, config.max_detections)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_confident_anchor_becomes_one_clipped_detection() {
        // Two anchors, two classes: anchor 0 says class 1 with logit 4, and a box shifted
        // right by a quarter of its width; anchor 1 is background everywhere.
        let row0 = [-6.0f32, 4.0, 0.25, 0.0, 0.0, 0.0, 0.0, 0.0, 16.0, 16.0];
        let row1 = [-6.0f32, -6.0, 0.0, 0.0, 0.0, 0.0, 20.0, 20.0, 40.0, 40.0];
        let output = Tensor::from_slice(&[row0, row1].concat()).view([1, 2, 10]);
        let config = DetectorConfig::default();
        let found = detections(&output, 18.0, 18.0, &config);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].len(), 1, "{:?}", found[0]);
        let d = found[0][0];
        assert_eq!(d.class, 1);
        assert!((d.score - 1.0 / (1.0 + (-4.0f32).exp())).abs() < 1e-6);
        // Shifted by 4 px to [4, 0, 20, 16], then clipped to the 18 px image.
        assert_eq!(d.bbox, [4.0, 0.0, 18.0, 16.0]);
    }
}
