//! The task metrics a table or chart can show: each knows its name, its unit, how to read
//! itself from a result row, and whether higher or lower is better.

use glcan_store::ResultRow;

/// Which way is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    LowerIsBetter,
    HigherIsBetter,
}

/// A task metric of one run, as printed in the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Metric {
    /// Classification: top-1 test error in %, `100 − test_accuracy`.
    TestError,
    /// Detection: COCO AP@[.5:.95], printed ×100 as the detection literature does.
    Ap,
    /// Detection: COCO AP at IoU 0.5, printed ×100.
    Ap50,
    /// Super-resolution: PSNR on the Y channel, dB.
    PsnrY,
    /// Super-resolution: SSIM on the Y channel, 0-1.
    SsimY,
}

impl Metric {
    /// Every metric, in the order a report shows them.
    pub const ALL: [Metric; 5] = [Metric::TestError, Metric::Ap, Metric::Ap50, Metric::PsnrY, Metric::SsimY];

    pub fn name(self) -> &'static str {
        match self {
            Metric::TestError => "Test error",
            Metric::Ap => "AP@[.5:.95]",
            Metric::Ap50 => "AP50",
            Metric::PsnrY => "PSNR (Y)",
            Metric::SsimY => "SSIM (Y)",
        }
    }

    /// Unit as printed after the name; empty for unitless values.
    pub fn unit(self) -> &'static str {
        match self {
            Metric::TestError | Metric::Ap | Metric::Ap50 => "%",
            Metric::PsnrY => "dB",
            Metric::SsimY => "",
        }
    }

    /// `Test error (%)`, `SSIM (Y)`.
    pub fn heading(self) -> String {
        match self.unit() {
            "" => self.name().to_string(),
            unit => format!("{} ({unit})", self.name()),
        }
    }

    /// A file-name friendly id.
    pub fn slug(self) -> &'static str {
        match self {
            Metric::TestError => "error",
            Metric::Ap => "ap",
            Metric::Ap50 => "ap50",
            Metric::PsnrY => "psnr",
            Metric::SsimY => "ssim",
        }
    }

    pub fn direction(self) -> Direction {
        match self {
            Metric::TestError => Direction::LowerIsBetter,
            _ => Direction::HigherIsBetter,
        }
    }

    /// What the printed number is, for the note under a table.
    pub fn definition(self) -> &'static str {
        match self {
            Metric::TestError => "Test error (%) = 100 − top-1 accuracy on the held-out test set",
            Metric::Ap => "COCO AP@[.5:.95] × 100 on the held-out test set (101-point interpolation)",
            Metric::Ap50 => "COCO AP at IoU 0.5 × 100 on the held-out test set",
            Metric::PsnrY => "PSNR (dB) on the Y channel (BT.601), border of `scale` pixels cropped",
            Metric::SsimY => "SSIM on the Y channel (BT.601), border of `scale` pixels cropped",
        }
    }

    /// Decimals printed: enough to separate methods, no more than the runs support.
    pub fn decimals(self) -> usize {
        match self {
            Metric::TestError | Metric::PsnrY => 2,
            Metric::Ap | Metric::Ap50 => 1,
            Metric::SsimY => 4,
        }
    }

    /// The printed value of `row`, or `None` when the run did not measure it.
    pub fn value(self, row: &ResultRow) -> Option<f64> {
        let value = self.recorded(row).map(|v| match self {
            Metric::TestError => 100.0 - v,
            Metric::Ap | Metric::Ap50 => 100.0 * v,
            Metric::PsnrY | Metric::SsimY => v,
        });
        value.filter(|v| v.is_finite())
    }

    /// The results CSV column the metric is read from.
    pub fn column(self) -> &'static str {
        match self {
            Metric::TestError => "test_accuracy",
            Metric::Ap => "ap",
            Metric::Ap50 => "ap50",
            Metric::PsnrY => "psnr_y",
            Metric::SsimY => "ssim_y",
        }
    }

    /// The value as the results CSV holds it (accuracy in %, AP in 0-1), unchecked: it may
    /// be NaN or out of range in a broken file (see [`crate::validate`]).
    pub fn recorded(self, row: &ResultRow) -> Option<f64> {
        match self {
            Metric::TestError => row.test_accuracy,
            Metric::Ap => row.ap,
            Metric::Ap50 => row.ap50,
            Metric::PsnrY => row.psnr_y,
            Metric::SsimY => row.ssim_y,
        }
    }

    /// The bounds a recorded value must lie within, inclusive; PSNR has none beyond being
    /// finite (a perfect reconstruction is +∞ and means a broken evaluation here).
    pub fn recorded_bounds(self) -> Option<(f64, f64)> {
        match self {
            Metric::TestError => Some((0.0, 100.0)),
            Metric::Ap | Metric::Ap50 => Some((0.0, 1.0)),
            Metric::SsimY => Some((-1.0, 1.0)),
            Metric::PsnrY => None,
        }
    }

    /// The metrics every finished run of `suite` records (the SR bicubic rows too), or
    /// `None` for a suite this crate does not know.
    pub fn of_suite(suite: &str) -> Option<&'static [Metric]> {
        match suite {
            "classify" => Some(&[Metric::TestError]),
            "detect" => Some(&[Metric::Ap, Metric::Ap50]),
            "sr" => Some(&[Metric::PsnrY, Metric::SsimY]),
            _ => None,
        }
    }

    /// Whether `a` is strictly better than `b`.
    pub fn better(self, a: f64, b: f64) -> bool {
        match self.direction() {
            Direction::LowerIsBetter => a < b,
            Direction::HigherIsBetter => a > b,
        }
    }

    /// The column of a run's `metrics.csv` that follows the task over epochs (the trainer
    /// logs each task's headline metric as `test_metric`: accuracy, AP50 or PSNR-Y), with how
    /// it is labelled on a chart, the chart's file name, and the factor to the chart's unit
    /// (AP is logged on 0-1 and shown in %, as in the tables).
    pub fn epoch_column(self) -> (&'static str, &'static str, &'static str, f64) {
        match self {
            Metric::TestError => ("test_metric", "Test accuracy (%)", "test-accuracy", 1.0),
            Metric::Ap | Metric::Ap50 => ("test_metric", "AP50 (%)", "ap50", 100.0),
            Metric::PsnrY | Metric::SsimY => ("test_metric", "PSNR (Y, dB)", "psnr-y", 1.0),
        }
    }

    /// The metrics that at least one of `rows` measured.
    pub fn present_in<'a>(rows: impl IntoIterator<Item = &'a ResultRow> + Clone) -> Vec<Metric> {
        Metric::ALL.into_iter().filter(|m| rows.clone().into_iter().any(|r| m.value(r).is_some())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directions_and_values() {
        assert!(Metric::TestError.better(7.0, 8.0));
        assert!(Metric::PsnrY.better(30.0, 29.0));
        assert!(!Metric::Ap.better(0.3, 0.3));
        assert_eq!(Metric::TestError.heading(), "Test error (%)");
        assert_eq!(Metric::SsimY.heading(), "SSIM (Y)");
    }
}
