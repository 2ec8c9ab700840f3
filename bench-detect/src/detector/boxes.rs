//! Boxes as tensors `[..., 4]` of corners `(x1, y1, x2, y2)` in pixels: pairwise IoU, and
//! the RetinaNet box coder (Lin et al. 2017, after Girshick's Fast R-CNN parametrisation):
//! `dx = (gx - ax) / aw`, `dy = (gy - ay) / ah`, `dw = ln(gw / aw)`, `dh = ln(gh / ah)`
//! with centres `g*, a*` and sizes of the ground-truth box and the anchor.

use tch::Tensor;

/// Smallest side a box may have in the coder: padded or degenerate boxes would otherwise
/// give `ln 0` and a NaN loss even where they are masked out.
const MIN_SIDE: f64 = 1e-3;

/// Largest `dw`/`dh` decoded: a box at most 1000/16 times its anchor (Detectron's clamp).
const MAX_LOG_RATIO: f64 = 4.135_166_556_742_356; // ln(1000 / 16)

/// Centre x, centre y, width, height of `[..., 4]` corner boxes, each `[...]`.
fn centre_size(boxes: &Tensor) -> (Tensor, Tensor, Tensor, Tensor) {
    let (x1, y1, x2, y2) = (boxes.select(-1, 0), boxes.select(-1, 1), boxes.select(-1, 2), boxes.select(-1, 3));
    let w = (&x2 - &x1).clamp_min(MIN_SIDE);
    let h = (&y2 - &y1).clamp_min(MIN_SIDE);
    ((&x1 + &x2) * 0.5, (&y1 + &y2) * 0.5, w, h)
}

/// IoU of every box of `a` `[N, 4]` with every box of `b` `[M, 4]`: `[N, M]`; broadcasting
/// leading dimensions work too (`[B, N, 1, 4]` with `[B, 1, M, 4]` gives `[B, N, M]`).
pub fn iou(a: &Tensor, b: &Tensor) -> Tensor {
    let (a, b) = if a.dim() == 2 && b.dim() == 2 { (a.unsqueeze(1), b.unsqueeze(0)) } else { (a.shallow_clone(), b.shallow_clone()) };
    let area = |t: &Tensor| (t.select(-1, 2) - t.select(-1, 0)).clamp_min(0.0) * (t.select(-1, 3) - t.select(-1, 1)).clamp_min(0.0);
    let left = a.select(-1, 0).maximum(&b.select(-1, 0));
    let top = a.select(-1, 1).maximum(&b.select(-1, 1));
    let right = a.select(-1, 2).minimum(&b.select(-1, 2));
    let bottom = a.select(-1, 3).minimum(&b.select(-1, 3));
    let intersection = (right - left).clamp_min(0.0) * (bottom - top).clamp_min(0.0);
    let union = area(&a) + area(&b) - &intersection;
    intersection / union.clamp_min(1e-9)
}

/// The regression targets `[..., 4]` of `boxes` relative to `anchors` (same shape).
pub fn encode(boxes: &Tensor, anchors: &Tensor) -> Tensor {
    let (gx, gy, gw, gh) = centre_size(boxes);
    let (ax, ay, aw, ah) = centre_size(anchors);
    Tensor::stack(&[(gx - &ax) / &aw, (gy - &ay) / &ah, (gw / &aw).log(), (gh / &ah).log()], -1)
}

/// The boxes `[..., 4]` that `deltas` encode relative to `anchors` (the inverse of [`encode`]).
pub fn decode(deltas: &Tensor, anchors: &Tensor) -> Tensor {
    let (ax, ay, aw, ah) = centre_size(anchors);
    let cx = deltas.select(-1, 0) * &aw + ax;
    let cy = deltas.select(-1, 1) * &ah + ay;
    let w = deltas.select(-1, 2).clamp_max(MAX_LOG_RATIO).exp() * aw;
    let h = deltas.select(-1, 3).clamp_max(MAX_LOG_RATIO).exp() * ah;
    Tensor::stack(&[&cx - &w * 0.5, &cy - &h * 0.5, &cx + &w * 0.5, &cy + &h * 0.5], -1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxes(values: &[[f32; 4]]) -> Tensor {
        Tensor::from_slice(&values.concat()).view([values.len() as i64, 4])
    }

    #[test]
    fn iou_of_hand_checked_pairs() {
        let a = boxes(&[[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 2.0, 2.0]]);
        let b = boxes(&[[0.0, 0.0, 10.0, 10.0], [5.0, 0.0, 15.0, 10.0], [20.0, 20.0, 30.0, 30.0]]);
        let m = Vec::<f32>::try_from(iou(&a, &b).flatten(0, -1)).unwrap();
        // Half overlap: 50 / (100 + 100 - 50) = 1/3; the small box lies inside the first: 4/100.
        let expected = [1.0, 1.0 / 3.0, 0.0, 0.04, 0.0, 0.0];
        for (got, want) in m.iter().zip(expected) {
            assert!((got - want).abs() < 1e-6, "{m:?}");
        }
    }

    #[test]
    fn encode_then_decode_gives_the_box_back() {
        let anchors = boxes(&[[0.0, 0.0, 16.0, 16.0], [10.0, 20.0, 42.0, 36.0]]);
        let gt = boxes(&[[2.0, 3.0, 12.0, 19.0], [5.0, 25.0, 50.0, 30.0]]);
        let deltas = encode(&gt, &anchors);
        // The first box: centre (7, 11) vs (8, 8), size 10x16 vs 16x16.
        let first = Vec::<f32>::try_from(deltas.get(0)).unwrap();
        let want = [-1.0 / 16.0, 3.0 / 16.0, (10.0f32 / 16.0).ln(), 0.0];
        for (got, want) in first.iter().zip(want) {
            assert!((got - want).abs() < 1e-6, "{first:?}");
        }
        let back = decode(&deltas, &anchors);
        assert!(bool::try_from((back - gt).abs().max().lt(1e-4)).unwrap());
    }
}
