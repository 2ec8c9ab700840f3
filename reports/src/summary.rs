//! Mean ± sample standard deviation over seeds, and how a table cell prints it.

/// The spread of one cell's values (one value per seed).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub n: usize,
    pub mean: f64,
    /// Sample standard deviation (divides by n − 1); `None` for a single run, where there
    /// is no spread to report.
    pub std: Option<f64>,
}

impl Summary {
    /// `None` for no values.
    pub fn of(values: &[f64]) -> Option<Summary> {
        let n = values.len();
        if n == 0 {
            return None;
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        let std = (n > 1).then(|| (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt());
        Some(Summary { n, mean, std })
    }

    /// `7.52 ± 0.13`, or `7.52 (n=1)` for a single run so nobody reads it as a mean.
    pub fn format(&self, decimals: usize) -> String {
        match self.std {
            Some(std) => format!("{:.*} ± {:.*}", decimals, self.mean, decimals, std),
            None => format!("{:.*} (n=1)", decimals, self.mean),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_std_and_single_runs() {
        // Values 1, 2, 3, 4: mean 2.5, squared deviations sum 5, sample variance 5/3.
        let s = Summary::of(&[1.0, 2.0, 3.0, 4.0]).unwrap();
        assert_eq!(s.n, 4);
        assert!((s.mean - 2.5).abs() < 1e-12);
        assert!((s.std.unwrap() - (5.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert_eq!(s.format(2), "2.50 ± 1.29");
        let one = Summary::of(&[7.5]).unwrap();
        assert_eq!(one.std, None);
        assert_eq!(one.format(2), "7.50 (n=1)");
        assert_eq!(Summary::of(&[]), None);
    }
}
