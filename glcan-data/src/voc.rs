//! Pascal VOC object detection: XML annotations and their images.
//!
//! The layout of the official devkit (`VOCdevkit/VOC2007`, `VOC2012`, from
//! <http://host.robots.ox.ac.uk/pascal/VOC/>):
//!
//! ```text
//! <root>/ImageSets/Main/<image_set>.txt   one image id per line (train, val, trainval, test)
//! <root>/Annotations/<id>.xml             one <annotation> per image
//! <root>/JPEGImages/<filename>            the image named by the XML's <filename>
//! ```
//!
//! An annotation holds `<filename>`, `<size><width><height><depth>` and one `<object>` per
//! box: `<name>` (the class), `<difficult>` (0/1, missing = 0) and
//! `<bndbox><xmin><ymin><xmax><ymax>`, written as integers or (in some VOC2012 files and
//! other tools' exports) as floats. Other elements (`pose`, `truncated`, the `part`s of a
//! person layout, ...) are ignored. [`VocDataset::from_folder`] reads the same XML from a flat
//! folder with the images beside it, as labelImg writes it and as deepforest ships its sample
//! data.
//!
//! **Coordinates.** VOC numbers pixels from 1 and its boxes are inclusive: `xmin = 1,
//! xmax = 3` covers the first three pixel columns. [`BoundingBox`] uses continuous
//! coordinates with the image spanning `[0, width]`, so the box is stored as
//! `[xmin - 1, xmax] x [ymin - 1, ymax]` (here `[0, 3]`): same pixels, width `xmax - xmin + 1`.
//!
//! Every XML is parsed when the dataset is opened, so a bad file stops a run before training
//! starts; images are decoded only in [`Dataset::get`].

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use quick_xml::events::Event;
use quick_xml::Reader;

use super::{index_error, BoundingBox, Dataset, DetectionTarget, ImageU8, ObjectBox, Sample};
use crate::{Error, Result};

/// The 20 Pascal VOC classes in the devkit's order; class `i` of a dataset opened with them
/// is `VOC_CLASSES[i]`.
pub const VOC_CLASSES: [&str; 20] = [
    "aeroplane",
    "bicycle",
    "bird",
    "boat",
    "bottle",
    "bus",
    "car",
    "cat",
    "chair",
    "cow",
    "diningtable",
    "dog",
    "horse",
    "motorbike",
    "person",
    "pottedplant",
    "sheep",
    "sofa",
    "train",
    "tvmonitor",
];

/// One parsed annotation file.
#[derive(Debug, Clone, PartialEq)]
pub struct VocAnnotation {
    /// The image id: the line of the image set, or the XML file's stem in a flat folder.
    pub id: String,
    pub xml_path: PathBuf,
    /// The image file, `<image dir>/<filename>`.
    pub image_path: PathBuf,
    pub width: usize,
    pub height: usize,
    /// `<size><depth>` when present (3 for colour). Images are decoded as RGB whatever it says.
    pub depth: Option<usize>,
    /// Boxes in continuous coordinates (see the module docs); `ignore` is VOC's `difficult`.
    pub objects: Vec<ObjectBox>,
}

impl VocAnnotation {
    /// Parses `xml_path`, whose image lies in `image_dir`, mapping class names to their
    /// position in `classes`. `id` names the image in the dataset.
    pub fn read(id: &str, xml_path: &Path, image_dir: &Path, classes: &[String]) -> Result<Self> {
        let text = std::fs::read_to_string(xml_path).map_err(|e| Error::io(xml_path, e))?;
        // Some Windows tools start the file with a byte-order mark; it is not content.
        let root = parse_xml(xml_path, text.strip_prefix('\u{feff}').unwrap_or(&text))?;
        let fault = |message: String| Error::bad_data(xml_path, message);
        if root.name != "annotation" {
            return Err(fault(format!("root element is <{}>, expected <annotation>", root.name)));
        }

        let filename = required(&root, "filename", "<annotation>", xml_path)?.text.as_str();
        if filename.is_empty() {
            return Err(fault("<filename> is empty".into()));
        }
        let size = required(&root, "size", "<annotation>", xml_path)?;
        let width = whole_number(required(size, "width", "<size>", xml_path)?, "<size>", xml_path)?;
        let height = whole_number(required(size, "height", "<size>", xml_path)?, "<size>", xml_path)?;
        let depth = size.child("depth").map(|d| whole_number(d, "<size>", xml_path)).transpose()?;

        let mut objects = Vec::new();
        for (number, object) in root.children_named("object").enumerate() {
            // Counted from 1, as a reader of the file counts them.
            let place = format!("<object> {}", number + 1);
            let name = required(object, "name", &place, xml_path)?.text.as_str();
            let class = classes
                .iter()
                .position(|c| c == name)
                .ok_or_else(|| fault(format!("unknown class {name:?} in {place} (known: {})", classes.join(", "))))?;
            let ignore = match object.child("difficult").map(|d| d.text.as_str()) {
                None | Some("0") => false,
                Some("1") => true,
                Some(other) => return Err(fault(format!("<difficult> of {place} is {other:?}, expected 0 or 1"))),
            };
            let bndbox = required(object, "bndbox", &place, xml_path)?;
            let place = format!("<bndbox> of {place}");
            let corner = |tag: &str| coordinate(required(bndbox, tag, &place, xml_path)?, &place, xml_path);
            let (x_min, y_min, x_max, y_max) = (corner("xmin")?, corner("ymin")?, corner("xmax")?, corner("ymax")?);
            if x_min >= x_max || y_min >= y_max {
                return Err(fault(format!("{place} is empty: xmin {x_min} must be < xmax {x_max} and ymin {y_min} < ymax {y_max}")));
            }
            if x_min < 1.0 || y_min < 1.0 || x_max > width as f64 || y_max > height as f64 {
                return Err(fault(format!(
                    "{place} ({x_min}, {y_min}, {x_max}, {y_max}) lies outside the image [1, {width}] x [1, {height}]"
                )));
            }
            // 1-based inclusive pixels -> continuous coordinates (module docs).
            let bbox = BoundingBox { x_min: (x_min - 1.0) as f32, y_min: (y_min - 1.0) as f32, x_max: x_max as f32, y_max: y_max as f32 };
            objects.push(ObjectBox { class, bbox, ignore });
        }

        let image_path = image_dir.join(filename);
        if !image_path.is_file() {
            return Err(fault(format!("its image {} (<filename> {filename:?}) does not exist", image_path.display())));
        }
        Ok(VocAnnotation { id: id.to_owned(), xml_path: xml_path.to_path_buf(), image_path, width, height, depth, objects })
    }
}

/// A detection dataset in Pascal VOC format; see the module docs.
#[derive(Debug, Clone)]
pub struct VocDataset {
    classes: Vec<String>,
    annotations: Vec<VocAnnotation>,
}

impl VocDataset {
    /// Reads the devkit layout under `root` (e.g. `VOCdevkit/VOC2007`): the ids of
    /// `ImageSets/Main/<image_set>.txt`, their `Annotations/<id>.xml` and `JPEGImages/`.
    /// `classes` is usually [`VOC_CLASSES`].
    pub fn open(root: impl AsRef<Path>, image_set: &str, classes: &[&str]) -> Result<Self> {
        let root = root.as_ref();
        let classes = check_classes(classes)?;
        let list = root.join("ImageSets").join("Main").join(format!("{image_set}.txt"));
        let ids = read_image_set(&list)?;
        let (xml_dir, image_dir) = (root.join("Annotations"), root.join("JPEGImages"));
        let annotations = ids
            .iter()
            .map(|id| VocAnnotation::read(id, &xml_dir.join(format!("{id}.xml")), &image_dir, &classes))
            .collect::<Result<_>>()?;
        Ok(VocDataset { classes, annotations })
    }

    /// Reads every `*.xml` of `dir` (sorted by name), each naming an image in the same folder.
    pub fn from_folder(dir: impl AsRef<Path>, classes: &[&str]) -> Result<Self> {
        let dir = dir.as_ref();
        let classes = check_classes(classes)?;
        let mut xml_files = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
            let path = entry.map_err(|e| Error::io(dir, e))?.path();
            let is_xml = path.extension().and_then(|e| e.to_str()).is_some_and(|e| e.eq_ignore_ascii_case("xml"));
            if is_xml && path.is_file() {
                xml_files.push(path);
            }
        }
        if xml_files.is_empty() {
            return Err(Error::bad_data(dir, "no *.xml annotation file in this folder"));
        }
        xml_files.sort();
        let annotations = xml_files
            .iter()
            .map(|path| {
                let id = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
                VocAnnotation::read(&id, path, dir, &classes)
            })
            .collect::<Result<_>>()?;
        Ok(VocDataset { classes, annotations })
    }

    /// Class names; `ObjectBox::class` indexes this list.
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// Image ids in sample order (`image_id` of sample `i` is `i`).
    pub fn image_ids(&self) -> Vec<&str> {
        self.annotations.iter().map(|a| a.id.as_str()).collect()
    }

    /// Boxes over all images, `difficult` ones included.
    pub fn num_objects(&self) -> usize {
        self.annotations.iter().map(|a| a.objects.len()).sum()
    }

    /// The parsed annotation files, in sample order.
    pub fn annotations(&self) -> &[VocAnnotation] {
        &self.annotations
    }
}

impl Dataset for VocDataset {
    type Target = DetectionTarget;

    fn len(&self) -> usize {
        self.annotations.len()
    }

    fn get(&self, index: usize) -> Result<Sample<DetectionTarget>> {
        let annotation = self.annotations.get(index).ok_or_else(|| index_error("VOC dataset", index, self.len()))?;
        let image = ImageU8::open_rgb(&annotation.image_path)?;
        // Boxes were checked against <size>; an image of another size would misplace them.
        if (image.width(), image.height()) != (annotation.width, annotation.height) {
            return Err(Error::bad_data(
                &annotation.image_path,
                format!(
                    "image is {}x{} pixels, but {} gives <size> {}x{}",
                    image.width(),
                    image.height(),
                    annotation.xml_path.display(),
                    annotation.width,
                    annotation.height
                ),
            ));
        }
        let target = DetectionTarget { image_id: index as i64, objects: annotation.objects.clone() };
        Ok(Sample { image, target })
    }
}

/// The class list as owned names, refusing an empty list and repeated names.
fn check_classes(classes: &[&str]) -> Result<Vec<String>> {
    if classes.is_empty() {
        return Err(Error::config("classes", "the class list is empty"));
    }
    let mut seen = HashSet::new();
    if let Some(twice) = classes.iter().find(|c| !seen.insert(**c)) {
        return Err(Error::config("classes", format!("class {twice:?} is listed twice")));
    }
    Ok(classes.iter().map(|c| c.to_string()).collect())
}

/// The ids of an `ImageSets/Main/<set>.txt` file: one per line, blank lines skipped.
fn read_image_set(list: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(list).map_err(|e| Error::io(list, e))?;
    let mut ids = Vec::new();
    let mut seen = HashSet::new();
    for (number, line) in text.lines().enumerate() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields[..] {
            [] => continue,
            [id] if seen.insert(id) => ids.push(id.to_owned()),
            [id] => return Err(Error::bad_data(list, format!("line {}: image id {id:?} is listed twice", number + 1))),
            // `<class>_<set>.txt` files carry "<id> <1|-1|0>": not an image list.
            _ => return Err(Error::bad_data(list, format!("line {}: expected one image id, found {:?}", number + 1, line.trim()))),
        }
    }
    if ids.is_empty() {
        return Err(Error::bad_data(list, "lists no image id"));
    }
    Ok(ids)
}

/// An XML element reduced to what annotations use: its name, its trimmed text and its
/// child elements (attributes are not used by VOC).
#[derive(Debug, Default)]
struct Element {
    name: String,
    text: String,
    children: Vec<Element>,
}

impl Element {
    fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }
}

/// Builds the element tree of `text` (the content of `path`), reporting any XML fault with
/// its line.
fn parse_xml(path: &Path, text: &str) -> Result<Element> {
    let line_of = |offset: u64| {
        let end = usize::try_from(offset).unwrap_or(usize::MAX).min(text.len());
        text.as_bytes()[..end].iter().filter(|&&b| b == b'\n').count() + 1
    };
    let mut reader = Reader::from_str(text);
    let mut open: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| Error::bad_data(path, format!("malformed XML at line {}: {e}", line_of(reader.error_position()))))?;
        let at = || line_of(reader.buffer_position());
        let utf8 = |bytes: &[u8]| {
            std::str::from_utf8(bytes)
                .map(str::to_owned)
                .map_err(|_| Error::bad_data(path, format!("malformed XML at line {}: invalid UTF-8", at())))
        };
        let finished = match event {
            Event::Start(tag) => {
                open.push(Element { name: utf8(tag.name().as_ref())?, ..Element::default() });
                None
            }
            Event::Empty(tag) => Some(Element { name: utf8(tag.name().as_ref())?, ..Element::default() }),
            Event::End(_) => {
                let mut element =
                    open.pop().ok_or_else(|| Error::bad_data(path, format!("malformed XML at line {}: unmatched end tag", at())))?;
                // Indentation around a value is layout, not content.
                element.text = element.text.trim().to_owned();
                Some(element)
            }
            Event::Text(t) => {
                append_text(&mut open, &utf8(&t)?, path, at())?;
                None
            }
            Event::CData(t) => {
                append_text(&mut open, &utf8(&t)?, path, at())?;
                None
            }
            Event::GeneralRef(reference) => {
                let name = utf8(&reference)?;
                let resolved = match reference.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    Ok(None) => quick_xml::escape::resolve_predefined_entity(&name)
                        .ok_or_else(|| Error::bad_data(path, format!("malformed XML at line {}: unknown entity &{name};", at())))?
                        .to_owned(),
                    Err(e) => return Err(Error::bad_data(path, format!("malformed XML at line {}: {e}", at()))),
                };
                append_text(&mut open, &resolved, path, at())?;
                None
            }
            Event::Eof => break,
            // Declaration, comments, processing instructions, DOCTYPE: no content.
            _ => None,
        };
        if let Some(element) = finished {
            if let Some(parent) = open.last_mut() {
                parent.children.push(element);
            } else if root.is_none() {
                root = Some(element);
            } else {
                return Err(Error::bad_data(path, format!("malformed XML at line {}: a second root element", at())));
            }
        }
    }
    if let Some(unclosed) = open.last() {
        return Err(Error::bad_data(path, format!("malformed XML: file ends inside <{}>", unclosed.name)));
    }
    root.ok_or_else(|| Error::bad_data(path, "malformed XML: no root element"))
}

/// Adds text to the innermost open element; outside the root only whitespace may appear.
fn append_text(open: &mut [Element], text: &str, path: &Path, line: usize) -> Result<()> {
    match open.last_mut() {
        Some(element) => element.text.push_str(text),
        None if text.trim().is_empty() => {}
        None => return Err(Error::bad_data(path, format!("malformed XML at line {line}: text outside the root element"))),
    }
    Ok(())
}

/// The child `<tag>` of `parent` (described as `place` in the error).
fn required<'a>(parent: &'a Element, tag: &str, place: &str, path: &Path) -> Result<&'a Element> {
    parent.child(tag).ok_or_else(|| Error::bad_data(path, format!("missing <{tag}> in {place}")))
}

/// A size field: a positive whole number (`500`, or `500.0` from some tools).
fn whole_number(element: &Element, place: &str, path: &Path) -> Result<usize> {
    match element.text.parse::<f64>() {
        Ok(v) if v >= 1.0 && v.fract() == 0.0 && v <= u32::MAX as f64 => Ok(v as usize),
        _ => Err(Error::bad_data(path, format!("<{}> of {place} is {:?}, not a positive whole number", element.name, element.text))),
    }
}

/// A box coordinate: a finite number, integer or float.
fn coordinate(element: &Element, place: &str, path: &Path) -> Result<f64> {
    match element.text.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(Error::bad_data(path, format!("<{}> of {place} is {:?}, not a number", element.name, element.text))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One `<object>` as the VOC2007 files write it; `extra` goes inside (e.g. a `<part>`).
    fn object(name: &str, difficult: Option<u8>, bndbox: [&str; 4], extra: &str) -> String {
        let difficult = difficult.map(|d| format!("\t\t<difficult>{d}</difficult>\n")).unwrap_or_default();
        format!(
            "\t<object>\n\t\t<name>{name}</name>\n\t\t<pose>Left</pose>\n\t\t<truncated>0</truncated>\n{difficult}\
             \t\t<bndbox>\n\t\t\t<xmin>{}</xmin>\n\t\t\t<ymin>{}</ymin>\n\t\t\t<xmax>{}</xmax>\n\t\t\t<ymax>{}</ymax>\n\
             \t\t</bndbox>\n{extra}\t</object>\n",
            bndbox[0], bndbox[1], bndbox[2], bndbox[3]
        )
    }

    /// A whole annotation file in the devkit's layout.
    fn annotation(filename: &str, width: u32, height: u32, objects: &[String]) -> String {
        format!(
            "<annotation>\n\t<folder>VOC2007</folder>\n\t<filename>{filename}</filename>\n\t<source>\n\
             \t\t<database>The VOC2007 Database</database>\n\t\t<annotation>PASCAL VOC2007</annotation>\n\
             \t</source>\n\t<size>\n\t\t<width>{width}</width>\n\t\t<height>{height}</height>\n\
             \t\t<depth>3</depth>\n\t</size>\n\t<segmented>0</segmented>\n{}</annotation>\n",
            objects.concat()
        )
    }

    fn write_image(path: &Path, width: u32, height: u32) {
        image::RgbImage::from_pixel(width, height, image::Rgb([90, 120, 150])).save(path).unwrap();
    }

    /// A devkit folder with the given image set, annotations (id, xml) and images (name, w, h).
    fn devkit(list: &str, xmls: &[(&str, String)], images: &[(&str, u32, u32)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["ImageSets/Main", "Annotations", "JPEGImages"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        std::fs::write(dir.path().join("ImageSets/Main/val.txt"), list).unwrap();
        for (id, xml) in xmls {
            std::fs::write(dir.path().join(format!("Annotations/{id}.xml")), xml).unwrap();
        }
        for &(name, w, h) in images {
            write_image(&dir.path().join("JPEGImages").join(name), w, h);
        }
        dir
    }

    /// A devkit with image 000001 holding one `dog` box given as `bndbox`.
    fn one_box(bndbox: [&str; 4]) -> tempfile::TempDir {
        let xml = annotation("000001.jpg", 40, 30, &[object("dog", Some(0), bndbox, "")]);
        devkit("000001\n", &[("000001", xml)], &[("000001.jpg", 40, 30)])
    }

    fn open_error(dir: &tempfile::TempDir) -> String {
        VocDataset::open(dir.path(), "val", &VOC_CLASSES).unwrap_err().to_string()
    }

    #[test]
    fn reads_devkit_layout() {
        let person_part = "\t\t<part>\n\t\t\t<name>hand</name>\n\t\t\t<bndbox>\n\t\t\t\t<xmin>2</xmin>\n\
                           \t\t\t\t<ymin>2</ymin>\n\t\t\t\t<xmax>3</xmax>\n\t\t\t\t<ymax>3</ymax>\n\t\t\t</bndbox>\n\t\t</part>\n";
        let first = annotation(
            "000005.jpg",
            40,
            30,
            &[object("chair", Some(0), ["1", "1", "40", "30"], ""), object("person", Some(1), ["10.5", "3", "20", "12.25"], person_part)],
        );
        let second = annotation("000007.jpg", 20, 10, &[object("car", None, ["5", "2", "5.5", "10"], "")]);
        let dir = devkit("000007\n000005\n\n", &[("000005", first), ("000007", second)], &[("000005.jpg", 40, 30), ("000007.jpg", 20, 10)]);
        let set = VocDataset::open(dir.path(), "val", &VOC_CLASSES).unwrap();
        assert_eq!(set.len(), 2);
        assert_eq!(set.image_ids(), ["000007", "000005"]);
        assert_eq!(set.num_objects(), 3);
        assert_eq!(set.classes().len(), 20);
        assert_eq!(set.annotations()[1].depth, Some(3));

        let sample = set.get(1).unwrap();
        assert_eq!((sample.image.width(), sample.image.height()), (40, 30));
        assert_eq!(sample.target.image_id, 1);
        let [chair, person] = &sample.target.objects[..] else { panic!("two objects expected") };
        // 1-based inclusive (1..=40) becomes the whole image [0, 40].
        assert_eq!((chair.class, chair.ignore), (8, false));
        assert_eq!(chair.bbox, BoundingBox { x_min: 0.0, y_min: 0.0, x_max: 40.0, y_max: 30.0 });
        // The hand <part> is not an object; difficult becomes ignore.
        assert_eq!((person.class, person.ignore), (14, true));
        assert_eq!(person.bbox, BoundingBox { x_min: 9.5, y_min: 2.0, x_max: 20.0, y_max: 12.25 });

        let car = set.get(0).unwrap().target;
        assert_eq!(car.image_id, 0);
        assert_eq!((car.objects[0].class, car.objects[0].ignore), (6, false));
        assert_eq!(car.objects[0].bbox, BoundingBox { x_min: 4.0, y_min: 1.0, x_max: 5.5, y_max: 10.0 });
        assert!(set.get(2).unwrap_err().to_string().contains("sample 2 requested"));
    }

    #[test]
    fn reads_flat_folder_like_deepforest() {
        let dir = tempfile::tempdir().unwrap();
        let trees = [object("Tree", Some(0), ["20", "6", "27", "19"], ""), object("Tree", Some(0), ["1", "1", "8", "9"], "")];
        std::fs::write(dir.path().join("OSBS_029.xml"), annotation("OSBS_029.tif", 30, 20, &trees)).unwrap();
        // With a byte-order mark and Windows line ends, as some labelling tools write.
        let soap = format!("\u{feff}{}", annotation("SOAP_061.png", 16, 12, &trees[1..]).replace('\n', "\r\n"));
        std::fs::write(dir.path().join("SOAP_061.xml"), soap).unwrap();
        write_image(&dir.path().join("SOAP_061.png"), 16, 12);
        write_image(&dir.path().join("OSBS_029.tif"), 30, 20);
        std::fs::write(dir.path().join("OSBS_029.csv"), "image_path,xmin\n").unwrap();

        let set = VocDataset::from_folder(dir.path(), &["Tree"]).unwrap();
        assert_eq!(set.image_ids(), ["OSBS_029", "SOAP_061"]);
        assert_eq!(set.num_objects(), 3);
        let tif = set.get(0).unwrap();
        assert_eq!((tif.image.width(), tif.image.height(), tif.image.at(2, 5, 5)), (30, 20, 150));
        assert_eq!(tif.target.objects[1].bbox, BoundingBox { x_min: 0.0, y_min: 0.0, x_max: 8.0, y_max: 9.0 });
        assert_eq!(set.get(1).unwrap().target.objects.len(), 1);
    }

    #[test]
    fn malformed_xml_names_file_and_line() {
        let xml = annotation("000001.jpg", 40, 30, &[object("dog", Some(0), ["1", "1", "5", "5"], "")]).replace("</pose>", "</truncated>");
        let dir = devkit("000001\n", &[("000001", xml)], &[("000001.jpg", 40, 30)]);
        let message = open_error(&dir);
        assert!(message.contains("000001.xml") && message.contains("malformed XML at line 16"), "{message}");

        let cut = annotation("000001.jpg", 40, 30, &[]).replace("</annotation>\n", "");
        let dir = devkit("000001\n", &[("000001", cut)], &[("000001.jpg", 40, 30)]);
        let message = open_error(&dir);
        assert!(message.contains("000001.xml") && message.contains("malformed XML"), "{message}");
    }

    #[test]
    fn missing_tag_is_named() {
        let xml =
            annotation("000001.jpg", 40, 30, &[object("dog", Some(0), ["1", "1", "5", "5"], "")]).replace("\t\t\t<ymax>5</ymax>\n", "");
        let dir = devkit("000001\n", &[("000001", xml)], &[("000001.jpg", 40, 30)]);
        let message = open_error(&dir);
        assert!(message.contains("000001.xml") && message.contains("missing <ymax> in <bndbox> of <object> 1"), "{message}");

        let xml = annotation("000001.jpg", 40, 30, &[]).replace("\t\t<width>40</width>\n", "");
        let dir = devkit("000001\n", &[("000001", xml)], &[("000001.jpg", 40, 30)]);
        let message = open_error(&dir);
        assert!(message.contains("missing <width> in <size>"), "{message}");
    }

    #[test]
    fn non_numeric_coordinate_is_named() {
        let message = open_error(&one_box(["1", "1", "12px", "5"]));
        assert!(message.contains("000001.xml") && message.contains("<xmax> of <bndbox> of <object> 1 is \"12px\""), "{message}");
        let message = open_error(&one_box(["1", "NaN", "12", "5"]));
        assert!(message.contains("<ymin>") && message.contains("not a number"), "{message}");
    }

    #[test]
    fn unknown_class_is_named() {
        let xml = annotation("000001.jpg", 40, 30, &[object("Tree", Some(0), ["1", "1", "5", "5"], "")]);
        let dir = devkit("000001\n", &[("000001", xml)], &[("000001.jpg", 40, 30)]);
        let message = open_error(&dir);
        assert!(message.contains("000001.xml") && message.contains("unknown class \"Tree\" in <object> 1"), "{message}");
    }

    #[test]
    fn empty_or_outside_box_fails() {
        let message = open_error(&one_box(["10", "1", "10", "5"]));
        assert!(message.contains("000001.xml") && message.contains("is empty: xmin 10 must be < xmax 10"), "{message}");
        let message = open_error(&one_box(["0", "1", "10", "5"]));
        assert!(message.contains("000001.xml") && message.contains("outside the image [1, 40] x [1, 30]"), "{message}");
        let message = open_error(&one_box(["1", "1", "10", "31"]));
        assert!(message.contains("outside the image"), "{message}");
    }

    #[test]
    fn bad_difficult_flag_fails() {
        let xml = annotation("000001.jpg", 40, 30, &[object("dog", Some(2), ["1", "1", "5", "5"], "")]);
        let dir = devkit("000001\n", &[("000001", xml)], &[("000001.jpg", 40, 30)]);
        let message = open_error(&dir);
        assert!(message.contains("<difficult> of <object> 1 is \"2\""), "{message}");
    }

    #[test]
    fn missing_image_file_fails_at_open() {
        let xml = annotation("000001.jpg", 40, 30, &[]);
        let dir = devkit("000001\n", &[("000001", xml)], &[]);
        let message = open_error(&dir);
        assert!(message.contains("000001.xml") && message.contains("000001.jpg") && message.contains("does not exist"), "{message}");
    }

    #[test]
    fn image_size_differing_from_xml_fails_in_get() {
        let xml = annotation("000001.jpg", 40, 30, &[]);
        let dir = devkit("000001\n", &[("000001", xml)], &[("000001.jpg", 30, 40)]);
        let set = VocDataset::open(dir.path(), "val", &VOC_CLASSES).unwrap();
        let message = set.get(0).unwrap_err().to_string();
        assert!(
            message.contains("000001.jpg") && message.contains("image is 30x40 pixels") && message.contains("<size> 40x30"),
            "{message}"
        );
    }

    #[test]
    fn bad_image_set_list_fails() {
        let xml = annotation("000001.jpg", 40, 30, &[]);
        let dir = devkit("000001  1\n", &[("000001", xml.clone())], &[("000001.jpg", 40, 30)]);
        let message = open_error(&dir);
        assert!(message.contains("val.txt") && message.contains("line 1: expected one image id"), "{message}");
        let dir = devkit("000001\n000002\n", &[("000001", xml.clone())], &[("000001.jpg", 40, 30)]);
        let message = open_error(&dir);
        assert!(message.contains("000002.xml"), "{message}");
        let dir = devkit("\n", &[("000001", xml)], &[("000001.jpg", 40, 30)]);
        assert!(open_error(&dir).contains("lists no image id"));
        let message = VocDataset::open(dir.path(), "test", &VOC_CLASSES).unwrap_err().to_string();
        assert!(message.contains("test.txt"), "{message}");
    }

    #[test]
    fn empty_flat_folder_fails() {
        let dir = tempfile::tempdir().unwrap();
        let message = VocDataset::from_folder(dir.path(), &["Tree"]).unwrap_err().to_string();
        assert!(message.contains("no *.xml annotation file"), "{message}");
        let message = VocDataset::from_folder(dir.path(), &[]).unwrap_err().to_string();
        assert!(message.contains("class list is empty"), "{message}");
    }
}
