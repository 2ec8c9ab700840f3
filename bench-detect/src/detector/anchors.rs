//! Anchor boxes: at every cell of a feature map of stride `s`, boxes of a few sizes and
//! aspect ratios centred on the cell. RetinaNet's (Lin et al. 2017) are 3 scales
//! (`2^0, 2^(1/3), 2^(2/3)` times a base of `anchor_scale * s`) x 3 ratios per level.
//!
//! Anchors are listed cell by cell (row-major), all of a cell's anchors together, in the
//! order `ratio`-major then `size`: the order a head's `[B, A*X, H, W]` output takes once
//! permuted to `[B, H, W, A, X]` and flattened.

use tch::{Device, Kind, Tensor};

/// Aspect ratios `height / width` of every anchor set.
pub const RATIOS: [f64; 3] = [0.5, 1.0, 2.0];

/// The sizes (square-root of the area, pixels) of one level's anchors.
pub fn level_sizes(anchor_scale: f64, stride: i64) -> Vec<f64> {
    (0..3).map(|i| anchor_scale * stride as f64 * 2f64.powf(i as f64 / 3.0)).collect()
}

/// Anchors per cell for `sizes`.
pub fn per_cell(sizes: &[f64]) -> i64 {
    (sizes.len() * RATIOS.len()) as i64
}

/// The `[height * width * A, 4]` anchors of a `height` x `width` map of stride `stride`.
pub fn grid(height: i64, width: i64, stride: i64, sizes: &[f64], device: Device) -> Tensor {
    let mut shapes = Vec::with_capacity(sizes.len() * RATIOS.len() * 4);
    for ratio in RATIOS {
        for &size in sizes {
            let (w, h) = (size / ratio.sqrt(), size * ratio.sqrt());
            shapes.extend_from_slice(&[-w / 2.0, -h / 2.0, w / 2.0, h / 2.0]);
        }
    }
    let shapes = Tensor::from_slice(&shapes).view([1, -1, 4]).to_kind(Kind::Float);
    let s = stride as f64;
    let xs = Tensor::arange(width, (Kind::Float, Device::Cpu)) * s + s / 2.0;
    let ys = Tensor::arange(height, (Kind::Float, Device::Cpu)) * s + s / 2.0;
    let grids = Tensor::meshgrid_indexing(&[&ys, &xs], "ij");
    let (cy, cx) = (grids[0].flatten(0, -1), grids[1].flatten(0, -1));
    let centres = Tensor::stack(&[&cx, &cy, &cx, &cy], 1).view([-1, 1, 4]);
    (centres + shapes).view([-1, 4]).to_device(device)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_sit_on_cell_centres_with_their_sizes_and_ratios() {
        let sizes = level_sizes(4.0, 8);
        assert!((sizes[0] - 32.0).abs() < 1e-9 && (sizes[2] - 32.0 * 2f64.powf(2.0 / 3.0)).abs() < 1e-9);
        let anchors = grid(2, 3, 8, &[16.0], Device::Cpu);
        assert_eq!(anchors.size(), [2 * 3 * 3, 4]);
        let all = Vec::<f32>::try_from(anchors.flatten(0, -1)).unwrap();
        // Cell (row 0, col 0), ratio 1 (the second anchor): a 16x16 box centred on (4, 4).
        assert_eq!(&all[4..8], &[-4.0, -4.0, 12.0, 12.0]);
        // Cell (row 1, col 2) comes last; its ratio-2 anchor is tall: w = 16/sqrt 2, h = 16 sqrt 2.
        let last = &all[all.len() - 4..];
        let (w, h) = (last[2] - last[0], last[3] - last[1]);
        assert!((w - 16.0 / 2f32.sqrt()).abs() < 1e-4 && (h - 16.0 * 2f32.sqrt()).abs() < 1e-4, "{last:?}");
        assert!(((last[0] + last[2]) / 2.0 - 20.0).abs() < 1e-5 && ((last[1] + last[3]) / 2.0 - 12.0).abs() < 1e-5);
    }
}
