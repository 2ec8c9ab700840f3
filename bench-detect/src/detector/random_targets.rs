//! Random ground truth in the layout of a training batch (`[B, rows, 5]`: corners in
//! pixels, then the class), for measuring a detector's training step without data.

use tch::{Device, Kind, Tensor};

/// `objects` random boxes per image of `height` x `width` pixels, sides from 1/16 to 1/2
/// of the image's, classes below `num_classes`, from torch's generator (seed it first).
pub fn random_ground_truth(batch: i64, objects: i64, height: i64, width: i64, num_classes: i64, device: Device) -> Tensor {
    let options = (Kind::Float, device);
    let scale = Tensor::from_slice(&[width as f32, height as f32]).to_device(device);
    let sides = (Tensor::rand([batch, objects, 2], options) * (0.5 - 1.0 / 16.0) + 1.0 / 16.0) * &scale;
    let corners = Tensor::rand([batch, objects, 2], options) * (&scale - &sides);
    let classes = Tensor::randint(num_classes, [batch, objects, 1], options);
    Tensor::cat(&[&corners, &(&corners + &sides), &classes], 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boxes_lie_inside_the_image_with_valid_classes() {
        tch::manual_seed(0);
        let truth = random_ground_truth(3, 50, 40, 100, 7, Device::Cpu);
        assert_eq!(truth.size(), [3, 50, 5]);
        let column = |i: i64| truth.select(2, i);
        let (x1, y1, x2, y2, class) = (column(0), column(1), column(2), column(3), column(4));
        let all = |t: Tensor| bool::try_from(t.all()).unwrap();
        assert!(all(x1.ge(0.0)) && all(y1.ge(0.0)) && all(x2.le(100.0)) && all(y2.le(40.0)));
        assert!(all((&x2 - &x1).ge(100.0 / 16.0 - 1e-3)) && all((&y2 - &y1).le(20.0 + 1e-3)));
        assert!(all(class.ge(0.0)) && all(class.lt(7.0)) && all((&class - class.round()).eq(0.0)));
    }
}
