//! Targets of object detection, shared by the VOC and COCO readers.

/// An axis-aligned box in continuous pixel coordinates, `x_min <= x_max`, `y_min <= y_max`;
/// the image spans `[0, width] x [0, height]`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BoundingBox {
    pub x_min: f32,
    pub y_min: f32,
    pub x_max: f32,
    pub y_max: f32,
}

impl BoundingBox {
    pub fn width(&self) -> f32 {
        self.x_max - self.x_min
    }

    pub fn height(&self) -> f32 {
        self.y_max - self.y_min
    }

    pub fn area(&self) -> f32 {
        self.width().max(0.0) * self.height().max(0.0)
    }
}

/// One annotated object.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ObjectBox {
    /// Contiguous class index `0..num_classes` (the reader keeps the map to the file's ids).
    pub class: usize,
    pub bbox: BoundingBox,
    /// VOC `difficult` or COCO `iscrowd`: neither a required detection nor a false positive.
    pub ignore: bool,
}

/// The ground truth of one detection image.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DetectionTarget {
    /// The COCO image id, or the position in the VOC image list.
    pub image_id: i64,
    pub objects: Vec<ObjectBox>,
}
