//! The top-down path of a feature pyramid (FPN, Lin et al. 2017,
//! <https://arxiv.org/abs/1612.03144>), shared by the detector's real head and GLCAN's
//! `top-down` fusion.

use tch::nn;
use tch::Tensor;

/// `t` nearest-upsampled to the spatial size of `like`.
pub fn upsample_like(t: &Tensor, like: &Tensor) -> Tensor {
    let size = like.size();
    t.upsample_nearest2d([size[2], size[3]], None, None)
}

/// The pyramid of `levels` (finest first, each coarser than the one before): from the
/// coarsest, each level's `lateral` projection plus the upsampled level above it. Returns
/// the summed levels, finest first.
pub fn top_down(levels: &[Tensor], laterals: &[nn::Conv2D]) -> Vec<Tensor> {
    let mut pyramid: Vec<Tensor> = Vec::with_capacity(levels.len());
    for (level, lateral) in levels.iter().zip(laterals).rev() {
        let projected = level.apply(lateral);
        let summed = match pyramid.last() {
            Some(coarser) => upsample_like(coarser, &projected) + projected,
            None => projected,
        };
        pyramid.push(summed);
    }
    pyramid.reverse();
    pyramid
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    #[test]
    fn every_level_adds_the_upsampled_levels_above_it() {
        let vs = nn::VarStore::new(Device::Cpu);
        // 1x1 laterals with weights 1, 2, 3 and no bias.
        let laterals: Vec<nn::Conv2D> = (0..3).map(|i| nn::conv2d(vs.root() / i, 1, 1, 1, Default::default())).collect();
        tch::no_grad(|| {
            for (lateral, w) in laterals.iter().zip([1.0, 2.0, 3.0]) {
                let _ = lateral.ws.shallow_clone().fill_(w);
                let _ = lateral.bs.as_ref().unwrap().shallow_clone().fill_(0.0);
            }
        });
        let fine = Tensor::arange(16, (Kind::Float, Device::Cpu)).view([1, 1, 4, 4]);
        let middle = Tensor::from_slice(&[10.0f32, 20.0, 30.0, 40.0]).view([1, 1, 2, 2]);
        let coarse = Tensor::from_slice(&[100.0f32]).view([1, 1, 1, 1]);
        let pyramid = top_down(&[fine, middle, coarse], &laterals);
        let shapes: Vec<Vec<i64>> = pyramid.iter().map(Tensor::size).collect();
        assert_eq!(shapes, [vec![1, 1, 4, 4], vec![1, 1, 2, 2], vec![1, 1, 1, 1]]);
        assert_eq!(Vec::<f32>::try_from(pyramid[2].flatten(0, -1)).unwrap(), [300.0]);
        assert_eq!(Vec::<f32>::try_from(pyramid[1].flatten(0, -1)).unwrap(), [320.0, 340.0, 360.0, 380.0]);
        // Pixel (0, 0): 0 + 320; pixel (3, 3): 15 + 380; pixel (1, 2): 6 + 340.
        let finest = Vec::<f32>::try_from(pyramid[0].flatten(0, -1)).unwrap();
        assert_eq!((finest[0], finest[15], finest[6]), (320.0, 395.0, 346.0));
    }
}
