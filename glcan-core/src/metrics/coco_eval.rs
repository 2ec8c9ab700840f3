//! COCO-style detection AP (to be written).
