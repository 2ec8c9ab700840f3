//! RetinaNet's training loss (Lin et al. 2017, <https://arxiv.org/abs/1708.02002>): anchors
//! are matched to ground-truth boxes (IoU >= 0.5 positive, < 0.4 negative, in between
//! ignored; each box also claims its best anchors, so that thin or small objects get one),
//! the class logits of all non-ignored anchors take the sigmoid focal loss, the box deltas
//! of positive anchors a smooth-L1 loss, both summed and divided by the number of positives.
//!
//! Ground truth comes as one tensor `[B, M, 5]`: `(x1, y1, x2, y2, class)` per box, rows
//! with class -1 are padding.

use tch::{Kind, Reduction, Tensor};

use super::boxes;

/// Matching thresholds and loss weights.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LossConfig {
    pub positive_iou: f64,
    pub negative_iou: f64,
    pub focal_alpha: f64,
    pub focal_gamma: f64,
    /// Smooth-L1 transition point (Detectron's RetinaNet: 1/9).
    pub smooth_l1_beta: f64,
    pub box_weight: f64,
}

impl Default for LossConfig {
    fn default() -> Self {
        LossConfig { positive_iou: 0.5, negative_iou: 0.4, focal_alpha: 0.25, focal_gamma: 2.0, smooth_l1_beta: 1.0 / 9.0, box_weight: 1.0 }
    }
}

/// Sigmoid focal loss of `logits` against 0/1 `targets`, elementwise (no reduction):
/// `-alpha_t (1 - p_t)^gamma ln p_t`.
///
/// Written through `z = logits * (2 t - 1)`, where `p_t = sigmoid(z)`, `1 - p_t =
/// sigmoid(-z)` and `-ln p_t = softplus(-z)`: autograd then keeps about half as many
/// `[B, N, C]` tensors as the textbook form, and the loss over every anchor and class is
/// the largest activation of a small detector's training step.
pub fn sigmoid_focal_loss(logits: &Tensor, targets: &Tensor, alpha: f64, gamma: f64) -> Tensor {
    let (sign, alpha_t) = tch::no_grad(|| (targets * 2.0 - 1.0, targets * (2.0 * alpha - 1.0) + (1.0 - alpha)));
    let minus_z = -(logits * sign);
    let modulating = if gamma == 2.0 { minus_z.sigmoid().square() } else { minus_z.sigmoid().pow_tensor_scalar(gamma) };
    modulating * minus_z.softplus() * alpha_t
}

/// What the matching gave each anchor of each image.
pub struct Matches {
    /// `[B, N]` bool.
    pub positive: Tensor,
    /// `[B, N]` bool: positive or negative (the focal loss covers these).
    pub counted: Tensor,
    /// `[B, N]` int64 class of the matched box (meaningful where positive).
    pub class: Tensor,
    /// `[B, N, 4]` matched box (meaningful where positive).
    pub boxes: Tensor,
}

/// Matches `anchors` `[N, 4]` to the ground truth `[B, M, 5]`.
pub fn match_anchors(anchors: &Tensor, ground_truth: &Tensor, config: &LossConfig) -> Matches {
    tch::no_grad(|| {
        let gt_boxes = ground_truth.narrow(-1, 0, 4);
        let gt_class = ground_truth.select(-1, 4);
        let valid = gt_class.ge(0.0); // [B, M]
        let overlaps = boxes::iou(&anchors.unsqueeze(0).unsqueeze(2), &gt_boxes.unsqueeze(1)); // [B, N, M]
        let overlaps = overlaps.masked_fill(&valid.unsqueeze(1).logical_not(), -1.0);
        let (best, which) = overlaps.max_dim(2, false); // [B, N]
                                                        // Each box's best anchors (ties included), if it overlaps any at all.
        let best_per_box = overlaps.amax([1], true); // [B, 1, M]
        let claimed =
            overlaps.eq_tensor(&best_per_box).logical_and(&best_per_box.gt(0.0)).logical_and(&valid.unsqueeze(1)).any_dim(2, false);
        let positive = best.ge(config.positive_iou).logical_or(&claimed);
        let negative = best.lt(config.negative_iou).logical_and(&positive.logical_not());
        let class = gt_class.gather(1, &which, false).to_kind(Kind::Int64).clamp_min(0);
        let index = which.unsqueeze(-1).expand([-1, -1, 4], false);
        let matched = gt_boxes.gather(1, &index, false);
        Matches { counted: positive.logical_or(&negative), positive, class, boxes: matched }
    })
}

/// The loss (a scalar) of class `logits` `[B, N, C]` and box `deltas` `[B, N, 4]` predicted
/// at `anchors` `[N, 4]`, against `ground_truth` `[B, M, 5]`.
pub fn detection_loss(logits: &Tensor, deltas: &Tensor, anchors: &Tensor, ground_truth: &Tensor, config: &LossConfig) -> Tensor {
    let num_classes = logits.size()[2];
    let m = match_anchors(anchors, ground_truth, config);
    let positive = m.positive.to_kind(Kind::Float);
    let num_positive = positive.sum(Kind::Float).clamp_min(1.0);
    let class_targets = m.class.one_hot(num_classes).to_kind(Kind::Float) * positive.unsqueeze(-1);
    let focal = sigmoid_focal_loss(logits, &class_targets, config.focal_alpha, config.focal_gamma);
    let class_loss = (focal * m.counted.to_kind(Kind::Float).unsqueeze(-1)).sum(Kind::Float);
    let box_targets = boxes::encode(&m.boxes, &anchors.unsqueeze(0).expand_as(&m.boxes));
    let box_loss = (deltas.smooth_l1_loss(&box_targets, Reduction::None, config.smooth_l1_beta) * positive.unsqueeze(-1)).sum(Kind::Float);
    (class_loss + box_loss * config.box_weight) / num_positive
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(values: &[f32], shape: &[i64]) -> Tensor {
        Tensor::from_slice(values).view(shape)
    }

    #[test]
    fn focal_loss_matches_its_formula() {
        // p = sigmoid(0) = 0.5 with target 1: 0.25 * 0.5^2 * ln 2; target 0: 0.75 * 0.5^2 * ln 2.
        let loss = Vec::<f32>::try_from(sigmoid_focal_loss(&t(&[0.0, 0.0], &[2]), &t(&[1.0, 0.0], &[2]), 0.25, 2.0)).unwrap();
        let ln2 = 2f32.ln();
        assert!((loss[0] - 0.25 * 0.25 * ln2).abs() < 1e-6 && (loss[1] - 0.75 * 0.25 * ln2).abs() < 1e-6, "{loss:?}");
        // A confident right answer costs almost nothing, a confident wrong one a lot.
        let easy = sigmoid_focal_loss(&t(&[5.0], &[1]), &t(&[1.0], &[1]), 0.25, 2.0).double_value(&[0]);
        let hard = sigmoid_focal_loss(&t(&[-5.0], &[1]), &t(&[1.0], &[1]), 0.25, 2.0).double_value(&[0]);
        assert!(easy < 1e-4 && hard > 1.0, "{easy} {hard}");
    }

    #[test]
    fn matching_marks_positive_ignored_negative_and_best_anchors() {
        let anchors = t(&[0.0, 0.0, 10.0, 10.0, 5.0, 0.0, 15.0, 10.0, 50.0, 50.0, 60.0, 60.0, 3.0, 0.0, 13.0, 10.0], &[4, 4]);
        // One box equal to anchor 0 (class 2), one small box far from all (class 7), padding.
        let gt = t(&[0.0, 0.0, 10.0, 10.0, 2.0, 48.0, 48.0, 52.0, 52.0, 7.0, 0.0, 0.0, 0.0, 0.0, -1.0], &[1, 3, 5]);
        let m = match_anchors(&anchors, &gt, &LossConfig::default());
        let positive = Vec::<bool>::try_from(m.positive.flatten(0, -1)).unwrap();
        let counted = Vec::<bool>::try_from(m.counted.flatten(0, -1)).unwrap();
        // Anchor 0: IoU 1. Anchor 1: IoU 1/3, negative. Anchor 2: the small box's best (IoU 4/112 > 0).
        // Anchor 3: IoU 7/13 = 0.54 with the first box: positive.
        assert_eq!(positive, [true, false, true, true]);
        assert_eq!(counted, [true, true, true, true]);
        assert_eq!(Vec::<i64>::try_from(m.class.flatten(0, -1)).unwrap(), [2, 2, 7, 2]);
        // An anchor at IoU 0.45 is ignored.
        let anchors = t(&[0.0, 0.0, 10.0, 10.0, 0.0, 0.0, 10.0, 4.5], &[2, 4]);
        let m = match_anchors(&anchors, &gt.narrow(1, 0, 1), &LossConfig::default());
        assert_eq!(Vec::<bool>::try_from(m.counted.flatten(0, -1)).unwrap(), [true, false]);
    }

    #[test]
    fn loss_is_finite_with_padding_and_falls_for_better_predictions() {
        let anchors = t(&[0.0, 0.0, 10.0, 10.0, 20.0, 20.0, 30.0, 30.0], &[2, 4]);
        let gt = t(&[0.0, 0.0, 10.0, 10.0, 1.0, 0.0, 0.0, 0.0, 0.0, -1.0], &[1, 2, 5]);
        let config = LossConfig::default();
        let deltas = Tensor::zeros([1, 2, 4], (Kind::Float, tch::Device::Cpu));
        let bad = detection_loss(&t(&[5.0, -5.0, 5.0, -5.0], &[1, 2, 2]), &deltas, &anchors, &gt, &config).double_value(&[]);
        let good = detection_loss(&t(&[-5.0, 5.0, -5.0, -5.0], &[1, 2, 2]), &deltas, &anchors, &gt, &config).double_value(&[]);
        assert!(bad.is_finite() && good.is_finite() && good < 0.01 && bad > 1.0, "{good} {bad}");
        // No box at all: every anchor is negative, the loss stays finite.
        let empty = t(&[0.0, 0.0, 0.0, 0.0, -1.0], &[1, 1, 5]);
        assert!(detection_loss(&t(&[0.0; 4], &[1, 2, 2]), &deltas, &anchors, &empty, &config).double_value(&[]).is_finite());
    }
}
