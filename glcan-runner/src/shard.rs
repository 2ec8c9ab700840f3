//! Shards of a grid for job arrays: shard I of N runs every N-th run of the grid, starting
//! at run I, and writes its own results file; read together, the shards' files are the
//! grid's results.

use std::fmt;
use std::str::FromStr;

use anyhow::{bail, Context, Result};

/// Shard `index` (0-based, as Slurm numbers array tasks) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// Whether this shard runs the grid's run number `position` (0-based).
    pub fn runs(&self, position: usize) -> bool {
        position % self.count == self.index
    }

    /// `shard-I-of-N`: the name of the shard's results and lock files.
    pub fn name(&self) -> String {
        format!("shard-{}-of-{}", self.index, self.count)
    }

    /// The shard of a Slurm array task: `SLURM_ARRAY_TASK_ID` less `SLURM_ARRAY_TASK_MIN`
    /// (0 when unset) of `SLURM_ARRAY_TASK_COUNT`; none outside a job array.
    pub fn from_slurm(var: impl Fn(&str) -> Option<String>) -> Result<Option<Shard>> {
        let (Some(id), Some(count)) = (var("SLURM_ARRAY_TASK_ID"), var("SLURM_ARRAY_TASK_COUNT")) else {
            return Ok(None);
        };
        let number = |name: &str, text: &str| text.trim().parse::<usize>().with_context(|| format!("{name}={text:?} is not a task number"));
        let min = match var("SLURM_ARRAY_TASK_MIN") {
            Some(text) => number("SLURM_ARRAY_TASK_MIN", &text)?,
            None => 0,
        };
        let id = number("SLURM_ARRAY_TASK_ID", &id)?;
        let index = id.checked_sub(min).with_context(|| format!("SLURM_ARRAY_TASK_ID={id} is below SLURM_ARRAY_TASK_MIN={min}"))?;
        Shard::new(index, number("SLURM_ARRAY_TASK_COUNT", &count)?).map(Some).context("Slurm's array task variables")
    }

    fn new(index: usize, count: usize) -> Result<Shard> {
        if count == 0 {
            bail!("a grid splits into at least 1 shard, not 0");
        }
        if index >= count {
            bail!("shard {index} of {count} does not exist: shards are numbered 0 to {}", count - 1);
        }
        Ok(Shard { index, count })
    }
}

impl FromStr for Shard {
    type Err = anyhow::Error;

    /// `I/N`, e.g. `0/4`.
    fn from_str(text: &str) -> Result<Shard> {
        let bad = || anyhow::anyhow!("shard {text:?}: expected I/N with 0 <= I < N, e.g. 0/4");
        let (index, count) = text.split_once('/').ok_or_else(bad)?;
        Shard::new(index.trim().parse().map_err(|_| bad())?, count.trim().parse().map_err(|_| bad())?)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_deal_the_runs_round_robin() {
        let shards: Vec<Shard> = ["0/3", "1/3", "2/3"].iter().map(|s| s.parse().unwrap()).collect();
        for position in 0..10 {
            assert_eq!(shards.iter().filter(|s| s.runs(position)).count(), 1);
        }
        assert!(shards[1].runs(4) && !shards[1].runs(5));
        assert_eq!(shards[2].name(), "shard-2-of-3");
        for (bad, expected) in [("3/3", "numbered 0 to 2"), ("0/0", "at least 1"), ("1", "expected I/N"), ("a/2", "expected I/N")] {
            let message = format!("{:#}", bad.parse::<Shard>().unwrap_err());
            assert!(message.contains(expected), "{bad}: {message}");
        }
    }

    #[test]
    fn slurm_array_tasks_name_their_shard() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string())
        };
        assert_eq!(Shard::from_slurm(env(&[])).unwrap(), None);
        assert_eq!(
            Shard::from_slurm(env(&[("SLURM_ARRAY_TASK_ID", "2"), ("SLURM_ARRAY_TASK_COUNT", "4")])).unwrap(),
            Some(Shard { index: 2, count: 4 })
        );
        const ONE_BASED: [(&str, &str); 3] = [("SLURM_ARRAY_TASK_ID", "4"), ("SLURM_ARRAY_TASK_COUNT", "4"), ("SLURM_ARRAY_TASK_MIN", "1")];
        assert_eq!(Shard::from_slurm(env(&ONE_BASED)).unwrap(), Some(Shard { index: 3, count: 4 }));
        let message =
            format!("{:#}", Shard::from_slurm(env(&[("SLURM_ARRAY_TASK_ID", "x"), ("SLURM_ARRAY_TASK_COUNT", "4")])).unwrap_err());
        assert!(message.contains("SLURM_ARRAY_TASK_ID"), "{message}");
    }
}
