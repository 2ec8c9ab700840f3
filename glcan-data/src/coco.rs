//! COCO object detection: an `instances_<split><year>.json` file and its image folder.
//!
//! The format is the official one of <https://cocodataset.org/#format-data> (as in
//! `annotations/instances_val2017.json` beside `val2017/*.jpg`). Of the JSON this reader uses:
//!
//! ```text
//! images:      [{ id, file_name, width, height, ... }]
//! annotations: [{ id, image_id, category_id, bbox: [x, y, width, height], area, iscrowd, ... }]
//! categories:  [{ id, name, supercategory }]
//! ```
//!
//! Other keys (`info`, `licenses`, `segmentation`, `coco_url`, ...) are skipped. `bbox` is in
//! continuous pixel coordinates, `(x, y)` its top-left corner, so it maps directly onto
//! [`BoundingBox`] as `[x, x + width] x [y, y + height]`. Category ids have gaps (COCO 2017
//! uses 80 ids out of 1..=90); classes are the categories in increasing id order, `0..n`.
//! `iscrowd = 1` regions become `ignore` objects, as COCO's evaluation treats them.
//!
//! The whole file is checked when opened (ids resolve, boxes lie in their images); images
//! are decoded only in [`Dataset::get`]. The raw records, `area` included, stay available
//! through [`CocoDataset::annotations_of`] for a COCO-style evaluator.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{index_error, BoundingBox, Dataset, DetectionTarget, ImageU8, ObjectBox, Sample};
use crate::{Error, Result};

/// Boxes may overhang their image by this many pixels: COCO's float boxes are rounded and
/// some end a fraction of a pixel past the border.
const BOX_SLACK: f64 = 1.0;

/// One entry of `images`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
pub struct CocoImage {
    pub id: i64,
    /// Relative to the image folder.
    pub file_name: String,
    pub width: i64,
    pub height: i64,
}

/// One entry of `categories`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
pub struct CocoCategory {
    pub id: i64,
    pub name: String,
    #[serde(default)]
    pub supercategory: Option<String>,
}

/// One entry of `annotations` as read from the file (segmentation left out).
#[derive(Debug, Clone, PartialEq)]
pub struct CocoAnnotation {
    pub id: i64,
    pub image_id: i64,
    pub category_id: i64,
    /// The class of `category_id` (its position among the categories sorted by id).
    pub class: usize,
    /// `[x, y, width, height]` as in the file.
    pub bbox: [f64; 4],
    /// The segment's area in pixels (what COCO's evaluation sorts into small/medium/large);
    /// `width * height` of the box when the file has none.
    pub area: f64,
    pub iscrowd: bool,
}

impl CocoAnnotation {
    /// The box as corners, `[x, x + w] x [y, y + h]`.
    pub fn xyxy(&self) -> BoundingBox {
        let [x, y, w, h] = self.bbox;
        BoundingBox { x_min: x as f32, y_min: y as f32, x_max: (x + w) as f32, y_max: (y + h) as f32 }
    }
}

/// `annotations` entries as serde reads them, before the checks.
#[derive(Deserialize)]
struct RawAnnotation {
    id: i64,
    image_id: i64,
    category_id: i64,
    bbox: [f64; 4],
    #[serde(default)]
    area: Option<f64>,
    #[serde(default)]
    iscrowd: i64,
}

#[derive(Deserialize)]
struct CocoFile {
    images: Vec<CocoImage>,
    // Absent from the image-info files of test-dev: images with no boxes.
    #[serde(default)]
    annotations: Vec<RawAnnotation>,
    categories: Vec<CocoCategory>,
}

/// A detection dataset in COCO format; see the module docs.
#[derive(Debug, Clone)]
pub struct CocoDataset {
    annotations_path: PathBuf,
    images_dir: PathBuf,
    /// In file order; sample `i` is `images[i]`.
    images: Vec<CocoImage>,
    /// The annotations of `images[i]`, in file order.
    per_image: Vec<Vec<CocoAnnotation>>,
    index_of_image: HashMap<i64, usize>,
    /// Sorted by id: class `c` is `categories[c]`.
    categories: Vec<CocoCategory>,
}

impl CocoDataset {
    /// Reads and checks `annotations_json`; image `file_name`s are taken relative to
    /// `images_dir`. Images without annotations are kept, with an empty target.
    pub fn open(annotations_json: impl AsRef<Path>, images_dir: impl AsRef<Path>) -> Result<Self> {
        let path = annotations_json.as_ref();
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        // serde_json's message carries the line and column of the fault.
        let file: CocoFile = serde_json::from_slice(&bytes).map_err(|e| Error::bad_data(path, format!("malformed COCO JSON: {e}")))?;
        drop(bytes);
        let fault = |message: String| Error::bad_data(path, message);

        let mut index_of_image = HashMap::with_capacity(file.images.len());
        for (index, image) in file.images.iter().enumerate() {
            if index_of_image.insert(image.id, index).is_some() {
                return Err(fault(format!("duplicate image id {}", image.id)));
            }
            if image.width <= 0 || image.height <= 0 {
                return Err(fault(format!(
                    "image id {} ({}) has size {}x{}; width and height must be positive",
                    image.id, image.file_name, image.width, image.height
                )));
            }
            if image.file_name.is_empty() {
                return Err(fault(format!("image id {} has an empty file_name", image.id)));
            }
        }

        let mut categories = file.categories;
        if categories.is_empty() {
            return Err(fault("no categories".into()));
        }
        categories.sort_by_key(|c| c.id);
        if let Some(pair) = categories.windows(2).find(|pair| pair[0].id == pair[1].id) {
            return Err(fault(format!("duplicate category id {}", pair[0].id)));
        }

        let mut per_image = vec![Vec::new(); file.images.len()];
        let mut annotation_ids = std::collections::HashSet::with_capacity(file.annotations.len());
        for raw in file.annotations {
            let which = format!("annotation id {} (image id {}, category id {})", raw.id, raw.image_id, raw.category_id);
            if !annotation_ids.insert(raw.id) {
                return Err(fault(format!("duplicate annotation id {}", raw.id)));
            }
            let Some(&index) = index_of_image.get(&raw.image_id) else {
                return Err(fault(format!("{which}: no image has id {}", raw.image_id)));
            };
            let Ok(class) = categories.binary_search_by_key(&raw.category_id, |c| c.id) else {
                return Err(fault(format!("{which}: no category has id {}", raw.category_id)));
            };
            let annotation = check_annotation(raw, class, &file.images[index]).map_err(|problem| fault(format!("{which}: {problem}")))?;
            per_image[index].push(annotation);
        }

        Ok(CocoDataset {
            annotations_path: path.to_path_buf(),
            images_dir: images_dir.as_ref().to_path_buf(),
            images: file.images,
            per_image,
            index_of_image,
            categories,
        })
    }

    pub fn annotations_path(&self) -> &Path {
        &self.annotations_path
    }

    pub fn images_dir(&self) -> &Path {
        &self.images_dir
    }

    /// The images, in sample order (the file's order).
    pub fn images(&self) -> &[CocoImage] {
        &self.images
    }

    /// The sample index of COCO image `id`.
    pub fn index_of_image(&self, id: i64) -> Option<usize> {
        self.index_of_image.get(&id).copied()
    }

    /// The categories in class order (increasing id).
    pub fn categories(&self) -> &[CocoCategory] {
        &self.categories
    }

    /// The class (`0..n`) of category `id`.
    pub fn class_of_category(&self, id: i64) -> Option<usize> {
        self.categories.binary_search_by_key(&id, |c| c.id).ok()
    }

    /// The category id of `class`.
    pub fn category_of_class(&self, class: usize) -> Option<i64> {
        self.categories.get(class).map(|c| c.id)
    }

    /// The annotations of sample `image_index`, as read from the file (`None` past the end).
    pub fn annotations_of(&self, image_index: usize) -> Option<&[CocoAnnotation]> {
        self.per_image.get(image_index).map(Vec::as_slice)
    }

    /// Annotations over all images, crowd regions included.
    pub fn num_annotations(&self) -> usize {
        self.per_image.iter().map(Vec::len).sum()
    }
}

/// Checks one annotation against its image; the error is the fault alone.
fn check_annotation(raw: RawAnnotation, class: usize, image: &CocoImage) -> std::result::Result<CocoAnnotation, String> {
    let [x, y, w, h] = raw.bbox;
    if raw.bbox.iter().any(|v| !v.is_finite()) {
        return Err(format!("bbox {:?} is not finite", raw.bbox));
    }
    // Zero is allowed: COCO 2017 train holds boxes of height 0 (cocoapi issue #355) and
    // its evaluation keeps them; only a negative extent is nonsense.
    if w < 0.0 || h < 0.0 {
        return Err(format!("bbox [{x}, {y}, {w}, {h}] has a negative width or height"));
    }
    let (width, height) = (image.width as f64, image.height as f64);
    if x < -BOX_SLACK || y < -BOX_SLACK || x + w > width + BOX_SLACK || y + h > height + BOX_SLACK {
        return Err(format!("bbox [{x}, {y}, {w}, {h}] lies outside its image {} of {}x{}", image.file_name, image.width, image.height));
    }
    let iscrowd = match raw.iscrowd {
        0 => false,
        1 => true,
        other => return Err(format!("iscrowd is {other}, expected 0 or 1")),
    };
    let area = raw.area.unwrap_or(w * h);
    if area < 0.0 {
        return Err(format!("area {area} is negative"));
    }
    Ok(CocoAnnotation { id: raw.id, image_id: raw.image_id, category_id: raw.category_id, class, bbox: raw.bbox, area, iscrowd })
}

impl Dataset for CocoDataset {
    type Target = DetectionTarget;

    fn len(&self) -> usize {
        self.images.len()
    }

    fn get(&self, index: usize) -> Result<Sample<DetectionTarget>> {
        let info = self.images.get(index).ok_or_else(|| index_error("COCO dataset", index, self.len()))?;
        let path = self.images_dir.join(&info.file_name);
        let image = ImageU8::open_rgb(&path)?;
        // Boxes were checked against the JSON's size; another size would misplace them.
        if (image.width() as i64, image.height() as i64) != (info.width, info.height) {
            return Err(Error::bad_data(
                &path,
                format!(
                    "image is {}x{} pixels, but {} gives {}x{} for image id {}",
                    image.width(),
                    image.height(),
                    self.annotations_path.display(),
                    info.width,
                    info.height,
                    info.id
                ),
            ));
        }
        let (width, height) = (info.width as f32, info.height as f32);
        let objects = self.per_image[index]
            .iter()
            .map(|a| {
                let b = a.xyxy();
                // The 1 px of slack allowed at open is clipped off here: targets lie in the image.
                let bbox = BoundingBox {
                    x_min: b.x_min.clamp(0.0, width),
                    y_min: b.y_min.clamp(0.0, height),
                    x_max: b.x_max.clamp(0.0, width),
                    y_max: b.y_max.clamp(0.0, height),
                };
                ObjectBox { class: a.class, bbox, ignore: a.iscrowd }
            })
            .collect();
        Ok(Sample { image, target: DetectionTarget { image_id: info.id, objects } })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An `instances_val2017.json` in the official shape: two images (one without
    /// annotations), a polygon, a crowd RLE, gapped category ids listed out of order.
    const INSTANCES: &str = r#"{
  "info": {"description": "COCO 2017 Dataset", "url": "http://cocodataset.org", "version": "1.0",
           "year": 2017, "contributor": "COCO Consortium", "date_created": "2017/09/01"},
  "licenses": [{"url": "http://creativecommons.org/licenses/by-nc-sa/2.0/", "id": 1,
                "name": "Attribution-NonCommercial-ShareAlike License"}],
  "images": [
    {"license": 4, "file_name": "000000000139.jpg", "coco_url": "http://images.cocodataset.org/val2017/000000000139.jpg",
     "height": 30, "width": 40, "date_captured": "2013-11-21 01:34:01",
     "flickr_url": "http://farm9.staticflickr.com/8035/8024364858_9c41dc1666_z.jpg", "id": 139},
    {"license": 1, "file_name": "000000000285.jpg", "coco_url": "http://images.cocodataset.org/val2017/000000000285.jpg",
     "height": 20, "width": 16, "date_captured": "2013-11-18 22:18:57", "flickr_url": "", "id": 285}
  ],
  "annotations": [
    {"segmentation": [[10.0, 5.0, 30.5, 5.0, 30.5, 25.0]], "area": 205.0, "iscrowd": 0,
     "image_id": 139, "bbox": [10.0, 5.0, 20.5, 20.0], "category_id": 64, "id": 26547},
    {"segmentation": {"counts": [0, 12, 28], "size": [30, 40]}, "area": 600.25, "iscrowd": 1,
     "image_id": 139, "bbox": [0.0, 0.0, 40.5, 30.0], "category_id": 1, "id": 900100139},
    {"segmentation": [[1, 1, 2, 1, 2, 3]], "image_id": 139, "bbox": [1, 1, 1, 2], "category_id": 90, "id": 7}
  ],
  "categories": [
    {"supercategory": "indoor", "id": 90, "name": "toothbrush"},
    {"supercategory": "person", "id": 1, "name": "person"},
    {"supercategory": "furniture", "id": 64, "name": "potted plant"}
  ]
}"#;

    /// Writes `json` as the annotation file and 40x30 / 16x20 images for ids 139 and 285.
    fn write_set(json: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let annotations = dir.path().join("annotations");
        let images = dir.path().join("val2017");
        std::fs::create_dir_all(&annotations).unwrap();
        std::fs::create_dir_all(&images).unwrap();
        let json_path = annotations.join("instances_val2017.json");
        std::fs::write(&json_path, json).unwrap();
        for (name, w, h) in [("000000000139.jpg", 40, 30), ("000000000285.jpg", 16, 20)] {
            image::RgbImage::from_pixel(w, h, image::Rgb([10, 20, 30])).save(images.join(name)).unwrap();
        }
        (dir, json_path, images)
    }

    fn open_error(json: &str) -> String {
        let (_dir, json_path, images) = write_set(json);
        CocoDataset::open(json_path, images).unwrap_err().to_string()
    }

    #[test]
    fn reads_instances_file() {
        let (_dir, json_path, images) = write_set(INSTANCES);
        let set = CocoDataset::open(&json_path, &images).unwrap();
        assert_eq!(set.len(), 2);
        assert_eq!(set.num_annotations(), 3);
        let names: Vec<_> = set.categories().iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["person", "potted plant", "toothbrush"]);
        assert_eq!(set.categories()[0].supercategory.as_deref(), Some("person"));
        assert_eq!((set.class_of_category(64), set.class_of_category(90), set.class_of_category(2)), (Some(1), Some(2), None));
        assert_eq!((set.category_of_class(2), set.category_of_class(3)), (Some(90), None));
        assert_eq!(set.index_of_image(285), Some(1));

        let sample = set.get(0).unwrap();
        assert_eq!((sample.image.width(), sample.image.height()), (40, 30));
        assert_eq!(sample.target.image_id, 139);
        let [plant, crowd, brush] = &sample.target.objects[..] else { panic!("three objects expected") };
        assert_eq!((plant.class, plant.ignore), (1, false));
        assert_eq!(plant.bbox, BoundingBox { x_min: 10.0, y_min: 5.0, x_max: 30.5, y_max: 25.0 });
        // The crowd box overhangs by 0.5 px: accepted, then clipped to the image.
        assert_eq!((crowd.class, crowd.ignore), (0, true));
        assert_eq!(crowd.bbox, BoundingBox { x_min: 0.0, y_min: 0.0, x_max: 40.0, y_max: 30.0 });
        assert_eq!((brush.class, brush.ignore), (2, false));
        assert_eq!(brush.bbox, BoundingBox { x_min: 1.0, y_min: 1.0, x_max: 2.0, y_max: 3.0 });

        let raw = set.annotations_of(0).unwrap();
        assert_eq!((raw[0].id, raw[0].area, raw[0].category_id), (26547, 205.0, 64));
        assert_eq!((raw[1].area, raw[1].iscrowd, raw[1].bbox), (600.25, true, [0.0, 0.0, 40.5, 30.0]));
        // No area in the file: the box's.
        assert_eq!((raw[2].id, raw[2].area, raw[2].iscrowd), (7, 2.0, false));

        // Kept although nothing is annotated in it.
        let empty = set.get(1).unwrap();
        assert_eq!((empty.target.image_id, empty.target.objects.len()), (285, 0));
        assert_eq!(set.annotations_of(1).map(<[_]>::len), Some(0));
        assert!(set.annotations_of(2).is_none());
        assert!(set.get(2).unwrap_err().to_string().contains("sample 2 requested"));
    }

    #[test]
    fn malformed_json_gives_line_and_column() {
        let message = open_error(&INSTANCES[..INSTANCES.len() / 2]);
        assert!(message.contains("instances_val2017.json") && message.contains("malformed COCO JSON"), "{message}");
        assert!(message.contains("line") && message.contains("column"), "{message}");
        let message = open_error(&INSTANCES.replace("\"bbox\": [1, 1, 1, 2], ", ""));
        assert!(message.contains("missing field `bbox`") && message.contains("line 18"), "{message}");
        let message = open_error(&INSTANCES.replace("[1, 1, 1, 2]", "[1, 1, 1]"));
        assert!(message.contains("malformed COCO JSON"), "{message}");
    }

    #[test]
    fn unknown_image_id_names_both_ids() {
        let message = open_error(&INSTANCES.replace("\"image_id\": 139, \"bbox\": [1, 1", "\"image_id\": 138, \"bbox\": [1, 1"));
        assert!(message.contains("instances_val2017.json"), "{message}");
        assert!(message.contains("annotation id 7 (image id 138, category id 90): no image has id 138"), "{message}");
    }

    #[test]
    fn unknown_category_id_names_both_ids() {
        let message = open_error(&INSTANCES.replace("\"category_id\": 64", "\"category_id\": 65"));
        assert!(message.contains("instances_val2017.json"), "{message}");
        assert!(message.contains("annotation id 26547 (image id 139, category id 65): no category has id 65"), "{message}");
    }

    #[test]
    fn non_positive_image_size_fails() {
        let message = open_error(&INSTANCES.replace("\"height\": 20, \"width\": 16", "\"height\": 20, \"width\": 0"));
        assert!(message.contains("instances_val2017.json") && message.contains("image id 285"), "{message}");
        assert!(message.contains("has size 0x20"), "{message}");
    }

    #[test]
    fn negative_box_size_fails() {
        let message = open_error(&INSTANCES.replace("[1, 1, 1, 2]", "[1, 1, -1, 2]"));
        assert!(message.contains("annotation id 7") && message.contains("negative width or height"), "{message}");
        // Zero is not negative: COCO itself has such boxes.
        let (_dir, json_path, images) = write_set(&INSTANCES.replace("[1, 1, 1, 2]", "[1, 1, 1, 0]"));
        assert_eq!(CocoDataset::open(json_path, images).unwrap().num_annotations(), 3);
    }

    #[test]
    fn box_outside_image_fails() {
        let message = open_error(&INSTANCES.replace("[10.0, 5.0, 20.5, 20.0]", "[10.0, 5.0, 20.5, 26.5]"));
        assert!(message.contains("annotation id 26547") && message.contains("outside its image 000000000139.jpg of 40x30"), "{message}");
        let message = open_error(&INSTANCES.replace("[1, 1, 1, 2]", "[-1.5, 1, 1, 2]"));
        assert!(message.contains("annotation id 7") && message.contains("outside"), "{message}");
    }

    #[test]
    fn duplicate_ids_fail() {
        let message = open_error(&INSTANCES.replace("\"id\": 285", "\"id\": 139"));
        assert!(message.contains("instances_val2017.json") && message.contains("duplicate image id 139"), "{message}");
        let message = open_error(&INSTANCES.replace("\"id\": 7}", "\"id\": 26547}"));
        assert!(message.contains("duplicate annotation id 26547"), "{message}");
        let message = open_error(&INSTANCES.replace("\"id\": 90,", "\"id\": 64,"));
        assert!(message.contains("duplicate category id 64"), "{message}");
    }

    #[test]
    fn bad_iscrowd_fails() {
        let message = open_error(&INSTANCES.replace("\"iscrowd\": 1", "\"iscrowd\": 2"));
        assert!(message.contains("annotation id 900100139") && message.contains("iscrowd is 2"), "{message}");
    }

    #[test]
    fn missing_image_file_fails_in_get() {
        let (_dir, json_path, images) = write_set(INSTANCES);
        std::fs::remove_file(images.join("000000000285.jpg")).unwrap();
        let set = CocoDataset::open(json_path, &images).unwrap();
        let message = set.get(1).unwrap_err().to_string();
        assert!(message.contains("000000000285.jpg"), "{message}");
    }

    #[test]
    fn image_size_differing_from_json_fails_in_get() {
        let (_dir, json_path, images) = write_set(INSTANCES);
        image::RgbImage::new(20, 16).save(images.join("000000000285.jpg")).unwrap();
        let set = CocoDataset::open(json_path, &images).unwrap();
        let message = set.get(1).unwrap_err().to_string();
        assert!(message.contains("000000000285.jpg") && message.contains("image is 20x16 pixels"), "{message}");
        assert!(message.contains("instances_val2017.json gives 16x20 for image id 285"), "{message}");
    }
}
