//! Detection data for the local trainer: batches of square images with their boxes padded
//! into one `[B, M, 5]` tensor (`x1, y1, x2, y2, class`; class -1 pads), and the held-out
//! evaluation: the real head's detections scored with COCO's rules (AP50 the headline; AP,
//! AP75, APs/m/l and VOC AP50 beside it).
//!
//! Images of another size than the network input are resized (bicubic, aspect not kept)
//! and their boxes scaled alike; evaluation then happens at the network's resolution.

use std::sync::{Arc, Mutex};

use glcan_core::train::{Evaluation, LocalNetwork, TaskData, TrainBatch};
use glcan_core::{Error, Result};
use glcan_data::augment::Normalization;
use glcan_data::loader::{BatchLoader, Collate, LoaderConfig};
use glcan_data::resize::imresize_bicubic;
use glcan_data::{Dataset, DetectionTarget, DynDataset, ImageU8, Sample};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use tch::{Device, Kind, Tensor};

use crate::detector::nms::Candidate;
use crate::detector::{decode, loss, DetectorConfig};
use crate::metrics::coco_eval::{CocoEvaluator, Detection, GroundTruth};

/// A dataset of detection images, chosen at run time.
pub type DetectionSet = DynDataset<DetectionTarget>;

/// One collated batch.
pub struct DetectionBatch {
    pub images: Tensor,
    /// `[B, M, 5]`, M at least 1.
    pub target: Tensor,
    /// The ground truth at the network's resolution (ignored objects included).
    pub truths: Vec<DetectionTarget>,
    /// The images at the network's resolution, for drawing.
    pub pixels: Vec<ImageU8>,
}

/// Resizes to `size` x `size`, optionally flips horizontally, normalises, pads the boxes.
#[derive(Debug, Clone)]
pub struct DetectionCollate {
    pub size: usize,
    pub normalization: Normalization,
    pub horizontal_flip: bool,
}

impl DetectionCollate {
    fn prepare(&self, sample: Sample<DetectionTarget>, rng: &mut ChaCha8Rng) -> glcan_data::Result<(ImageU8, DetectionTarget)> {
        let Sample { mut image, mut target } = sample;
        let (w, h) = (image.width(), image.height());
        if (w, h) != (self.size, self.size) {
            image = imresize_bicubic(&image, self.size, self.size)?;
            let (sx, sy) = (self.size as f32 / w as f32, self.size as f32 / h as f32);
            for object in &mut target.objects {
                let b = &mut object.bbox;
                (b.x_min, b.x_max, b.y_min, b.y_max) = (b.x_min * sx, b.x_max * sx, b.y_min * sy, b.y_max * sy);
            }
        }
        if self.horizontal_flip && rng.random_bool(0.5) {
            let (c, side) = (image.channels(), self.size);
            let mut data = image.as_slice().to_vec();
            for row in data.chunks_mut(side) {
                row.reverse();
            }
            image = ImageU8::from_chw(c, side, side, data);
            let s = side as f32;
            for object in &mut target.objects {
                let b = &mut object.bbox;
                (b.x_min, b.x_max) = (s - b.x_max, s - b.x_min);
            }
        }
        Ok((image, target))
    }
}

impl Collate<DetectionTarget> for DetectionCollate {
    type Batch = DetectionBatch;

    fn collate(&self, samples: Vec<Sample<DetectionTarget>>, rng: &mut ChaCha8Rng) -> glcan_data::Result<DetectionBatch> {
        let batch = samples.len();
        let mut pixels = Vec::with_capacity(batch * 3 * self.size * self.size);
        let (mut truths, mut images) = (Vec::with_capacity(batch), Vec::with_capacity(batch));
        for sample in samples {
            let (image, target) = self.prepare(sample, rng)?;
            if image.channels() != self.normalization.channels() {
                return Err(glcan_data::Error::config(
                    "normalization",
                    format!("{} channel statistics for {} channels", self.normalization.channels(), image.channels()),
                ));
            }
            self.normalization.extend_normalized(&image, &mut pixels);
            truths.push(target);
            images.push(image);
        }
        let rows = truths.iter().map(|t| t.objects.iter().filter(|o| !o.ignore).count()).max().unwrap_or(0).max(1);
        let mut boxes = vec![0f32; batch * rows * 5];
        for (b, truth) in truths.iter().enumerate() {
            let mut slots = boxes[b * rows * 5..(b + 1) * rows * 5].chunks_mut(5);
            // Crowd / difficult objects are left out of training, as neither positive nor negative would be right.
            for object in truth.objects.iter().filter(|o| !o.ignore) {
                let slot = slots.next().expect("rows counts the objects");
                let bb = object.bbox;
                slot.copy_from_slice(&[bb.x_min, bb.y_min, bb.x_max, bb.y_max, object.class as f32]);
            }
            for slot in slots {
                slot[4] = -1.0;
            }
        }
        let (c, s) = (self.normalization.channels() as i64, self.size as i64);
        Ok(DetectionBatch {
            images: Tensor::from_slice(&pixels).view([batch as i64, c, s, s]),
            target: Tensor::from_slice(&boxes).view([batch as i64, rows as i64, 5]),
            truths,
            pixels: images,
        })
    }
}

/// One evaluated image, kept for the picture of predictions.
#[derive(Debug, Clone)]
pub struct Example {
    pub image: ImageU8,
    pub truth: DetectionTarget,
    pub detections: Vec<Candidate>,
}

/// Training and held-out loaders of a detection run, as the trainer's [`TaskData`].
pub struct DetectionData {
    train: BatchLoader<DynDataset<DetectionTarget>, DetectionCollate>,
    test: BatchLoader<DynDataset<DetectionTarget>, DetectionCollate>,
    size: i64,
    num_classes: usize,
    config: DetectorConfig,
    mean: Tensor,
    std: Tensor,
    /// The first images of the last evaluation, for [`crate::draw`].
    examples: Mutex<Vec<Example>>,
    keep_examples: usize,
}

impl DetectionData {
    pub fn new(
        train: DetectionSet,
        test: DetectionSet,
        num_classes: usize,
        size: usize,
        normalization: Normalization,
        horizontal_flip: bool,
        batch_size: usize,
        eval_batch_size: usize,
        seed: u64,
        config: &DetectorConfig,
    ) -> Result<Self> {
        let train_len = train.len();
        if train_len < batch_size {
            return Err(Error::config("batch_size", format!("{batch_size} exceeds the {train_len} training images")));
        }
        let mean = Tensor::from_slice(&normalization.mean).view([1, -1, 1, 1]);
        let std = Tensor::from_slice(&normalization.std).view([1, -1, 1, 1]);
        let collate = DetectionCollate { size, normalization, horizontal_flip };
        let test_collate = DetectionCollate { horizontal_flip: false, ..collate.clone() };
        Ok(DetectionData {
            train: BatchLoader::new(Arc::new(train), collate, LoaderConfig::train(batch_size, seed))?,
            test: BatchLoader::new(Arc::new(test), test_collate, LoaderConfig::eval(eval_batch_size))?,
            size: size as i64,
            num_classes,
            config: config.clone(),
            mean,
            std,
            examples: Mutex::new(Vec::new()),
            keep_examples: 8,
        })
    }

    pub fn test_images(&self) -> usize {
        self.test.dataset().len()
    }

    pub fn train_images(&self) -> usize {
        self.train.dataset().len()
    }

    /// The first images of the last evaluation with their truth and detections.
    pub fn examples(&self) -> Vec<Example> {
        self.examples.lock().map(|e| e.clone()).unwrap_or_default()
    }
}

impl TaskData for DetectionData {
    fn input_shape(&self) -> (i64, i64) {
        (self.mean.size()[1], self.size)
    }

    fn batches_per_epoch(&self) -> usize {
        self.train.batches_per_epoch()
    }

    fn train_epoch(&self, epoch: u64) -> Box<dyn Iterator<Item = Result<TrainBatch>> + Send + '_> {
        Box::new(self.train.epoch(epoch).map(|batch| Ok(batch.map(|b| TrainBatch { images: b.images, target: b.target })?)))
    }

    fn raw_images(&self, images: &Tensor) -> Tensor {
        (images * self.std.to_device(images.device()) + self.mean.to_device(images.device())).clamp(0.0, 1.0)
    }

    /// AP50 (COCO rules, 0-1) and the mean detection loss per image.
    fn evaluate(&self, net: &LocalNetwork, device: Device) -> Result<Evaluation> {
        let (mut image_ids, mut truths, mut found) = (Vec::new(), Vec::new(), Vec::new());
        let (mut loss_sum, mut count) = (0.0, 0usize);
        let mut examples = Vec::new();
        let side = self.size as f64;
        for batch in self.test.epoch(0) {
            let batch = batch?;
            let output = net.predict(&batch.images.to_device(device)).to_kind(Kind::Float);
            let c = output.size()[2] - 8;
            let anchors = output.get(0).narrow(1, c + 4, 4);
            let target = batch.target.to_device(device);
            let loss = loss::detection_loss(&output.narrow(2, 0, c), &output.narrow(2, c, 4), &anchors, &target, &self.config.loss);
            let n = batch.truths.len();
            loss_sum += loss.double_value(&[]) * n as f64;
            count += n;
            let detections = decode::detections(&output, side, side, &self.config);
            for ((truth, dets), image) in batch.truths.into_iter().zip(detections).zip(batch.pixels) {
                image_ids.push(truth.image_id);
                for object in &truth.objects {
                    let b = object.bbox;
                    let (w, h) = (f64::from(b.width()), f64::from(b.height()));
                    truths.push(GroundTruth {
                        image_id: truth.image_id,
                        category_id: object.class as i64,
                        bbox: [f64::from(b.x_min), f64::from(b.y_min), w, h],
                        area: w * h,
                        iscrowd: object.ignore,
                    });
                }
                for d in &dets {
                    let [x1, y1, x2, y2] = d.bbox.map(f64::from);
                    found.push(Detection {
                        image_id: truth.image_id,
                        category_id: d.class as i64,
                        bbox: [x1, y1, x2 - x1, y2 - y1],
                        score: f64::from(d.score),
                    });
                }
                if examples.len() < self.keep_examples {
                    examples.push(Example { image, truth, detections: dets });
                }
            }
        }
        let categories: Vec<i64> = (0..self.num_classes as i64).collect();
        let evaluator = CocoEvaluator::new(&image_ids, &categories, &truths)?;
        let summary = evaluator.evaluate(&found)?.summary();
        let voc = evaluator.voc_ap50(&found)?.mean_ap();
        if let Ok(mut kept) = self.examples.lock() {
            *kept = examples;
        }
        Ok(Evaluation {
            metric: summary.ap50,
            loss: loss_sum / count.max(1) as f64,
            details: vec![
                ("AP".into(), summary.ap),
                ("AP75".into(), summary.ap75),
                ("APs".into(), summary.ap_small),
                ("APm".into(), summary.ap_medium),
                ("APl".into(), summary.ap_large),
                ("VOC_AP50".into(), voc),
            ],
        })
    }
}
