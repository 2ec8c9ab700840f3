//! Progress of a training run: a bar on a terminal, one plain line per epoch always.

use std::io::IsTerminal;

use glcan_core::train::{EpochMetrics, LogProgress, Progress};
use indicatif::{ProgressBar, ProgressStyle};

pub struct RunProgress {
    log: LogProgress,
    bar: Option<ProgressBar>,
}

impl RunProgress {
    pub fn new(label: String) -> Self {
        RunProgress { log: LogProgress { label }, bar: None }
    }
}

impl Progress for RunProgress {
    fn step(&mut self, epoch: usize, step: usize, steps: usize, losses: &[f64]) {
        if !std::io::stderr().is_terminal() {
            return;
        }
        let bar = self.bar.get_or_insert_with(|| {
            let bar = ProgressBar::new(steps as u64);
            bar.set_style(
                ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} ({eta})")
                    .expect("valid template")
                    .progress_chars("=> "),
            );
            bar
        });
        bar.set_prefix(format!("{} epoch {epoch}", self.log.label));
        bar.set_position(step as u64 + 1);
        bar.set_message(format!("loss {:.3}", losses.last().copied().unwrap_or(f64::NAN)));
    }

    fn epoch(&mut self, metrics: &EpochMetrics, epochs: usize) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        self.log.epoch(metrics, epochs);
    }
}
