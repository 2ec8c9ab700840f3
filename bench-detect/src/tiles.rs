//! Large aerial images cut into square tiles, each with the boxes that lie mostly inside
//! it (clipped to the tile): how the deepforest sample images (2 of them 1-2k px wide)
//! become a detection set a small network trains on.

use glcan_core::{Error, Result};
use glcan_data::{BoundingBox, Dataset, DetectionTarget, ImageU8, ObjectBox, Sample};

/// Every tile of some images, decoded once and held in memory.
pub struct Tiles {
    images: Vec<ImageU8>,
    targets: Vec<DetectionTarget>,
    /// (image, x, y) of each tile's top-left corner.
    tiles: Vec<(usize, usize, usize)>,
    side: usize,
    min_visible: f32,
    /// Every box as class 0 (deepforest labels trees as Tree, Alive or Dead).
    one_class: bool,
}

impl Tiles {
    /// Tiles of `side` pixels at a step of `side` (the last row and column shifted back to
    /// end at the border; images smaller than a tile are skipped). A box is kept in a tile
    /// when at least `min_visible` of its area lies inside; `ignore` boxes stay ignored.
    pub fn new(source: &dyn Dataset<Target = DetectionTarget>, side: usize, min_visible: f32, one_class: bool) -> Result<Self> {
        if side == 0 || !(0.0..=1.0).contains(&min_visible) {
            return Err(Error::config("tiles", format!("need side > 0 and min_visible in [0, 1], got {side} and {min_visible}")));
        }
        let (mut images, mut targets, mut tiles) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..source.len() {
            let sample = source.get(i)?;
            let (w, h) = (sample.image.width(), sample.image.height());
            if w < side || h < side {
                continue;
            }
            let starts = |extent: usize| -> Vec<usize> {
                let mut s: Vec<usize> = (0..=extent - side).step_by(side).collect();
                if s.last() != Some(&(extent - side)) {
                    s.push(extent - side);
                }
                s
            };
            for &y in &starts(h) {
                for &x in &starts(w) {
                    tiles.push((images.len(), x, y));
                }
            }
            images.push(sample.image);
            targets.push(sample.target);
        }
        Ok(Tiles { images, targets, tiles, side, min_visible, one_class })
    }
}

impl Dataset for Tiles {
    type Target = DetectionTarget;

    fn len(&self) -> usize {
        self.tiles.len()
    }

    fn get(&self, index: usize) -> glcan_data::Result<Sample<DetectionTarget>> {
        let &(image, x0, y0) =
            self.tiles.get(index).ok_or_else(|| glcan_data::Error::config("index", format!("tile {index} of {}", self.tiles.len())))?;
        let source = &self.images[image];
        let (c, s) = (source.channels(), self.side);
        let mut data = Vec::with_capacity(c * s * s);
        for channel in 0..c {
            for y in y0..y0 + s {
                data.extend((x0..x0 + s).map(|x| source.at(channel, y, x)));
            }
        }
        let (fx, fy, fs) = (x0 as f32, y0 as f32, s as f32);
        let objects = self.targets[image]
            .objects
            .iter()
            .filter_map(|o| {
                let b = o.bbox;
                let clipped = BoundingBox {
                    x_min: (b.x_min - fx).clamp(0.0, fs),
                    y_min: (b.y_min - fy).clamp(0.0, fs),
                    x_max: (b.x_max - fx).clamp(0.0, fs),
                    y_max: (b.y_max - fy).clamp(0.0, fs),
                };
                (b.area() > 0.0 && clipped.area() >= self.min_visible * b.area()).then_some(ObjectBox {
                    bbox: clipped,
                    class: if self.one_class { 0 } else { o.class },
                    ignore: o.ignore,
                })
            })
            .collect();
        Ok(Sample { image: ImageU8::from_chw(c, s, s, data), target: DetectionTarget { image_id: index as i64, objects } })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct One(Sample<DetectionTarget>);

    impl Dataset for One {
        type Target = DetectionTarget;
        fn len(&self) -> usize {
            1
        }
        fn get(&self, _: usize) -> glcan_data::Result<Sample<DetectionTarget>> {
            Ok(self.0.clone())
        }
    }

    fn object(x_min: f32, y_min: f32, x_max: f32, y_max: f32) -> ObjectBox {
        ObjectBox { class: 0, bbox: BoundingBox { x_min, y_min, x_max, y_max }, ignore: false }
    }

    #[test]
    fn tiles_cover_the_image_and_keep_mostly_visible_boxes_clipped() {
        let pixels: Vec<u8> = (0..10 * 9).map(|v| v as u8).collect();
        let objects = vec![object(1.0, 1.0, 3.0, 3.0), object(3.0, 0.0, 5.0, 2.0), object(3.5, 0.0, 4.5, 1.0)];
        let source = One(Sample { image: ImageU8::from_chw(1, 9, 10, pixels), target: DetectionTarget { image_id: 0, objects } });
        let tiles = Tiles::new(&source, 4, 0.5, false).unwrap();
        // x starts 0, 4, 6 (shifted back to the border); y starts 0, 4, 5.
        assert_eq!(tiles.len(), 9);
        let first = tiles.get(0).unwrap();
        assert_eq!(first.image.at(0, 1, 2), 12, "row 1, column 2 of the source");
        // Box 1 lies inside; box 2 is half inside (kept, clipped); box 3 is half in
        // tile 0 and half out ([3.5, 4.5] against the edge at 4): kept as well.
        let boxes: Vec<[f32; 4]> = first.target.objects.iter().map(|o| [o.bbox.x_min, o.bbox.y_min, o.bbox.x_max, o.bbox.y_max]).collect();
        assert_eq!(boxes, [[1.0, 1.0, 3.0, 3.0], [3.0, 0.0, 4.0, 2.0], [3.5, 0.0, 4.0, 1.0]]);
        // Tile (x = 4, y = 0) sees box 2 half and box 3 half; box 1 not at all.
        let second = tiles.get(1).unwrap();
        assert_eq!(second.target.objects.len(), 2);
        assert!(Tiles::new(&source, 20, 0.5, true).unwrap().is_empty(), "images smaller than a tile are skipped");
        assert!(tiles.get(9).is_err());
    }
}
