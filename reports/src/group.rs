//! Rows grouped the way tables are: one group per (suite, dataset, network, preset), with
//! failed runs kept aside so they can be counted but never averaged in.

use std::collections::{BTreeMap, BTreeSet};

use crate::methods;
use glcan_store::{ResultRow, RunStatus};

/// What makes runs comparable in one table.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupKey {
    pub suite: String,
    pub dataset: String,
    pub network: String,
    pub preset: String,
}

impl GroupKey {
    pub fn of(row: &ResultRow) -> GroupKey {
        GroupKey { suite: row.suite.clone(), dataset: row.dataset.clone(), network: row.network.clone(), preset: row.preset.clone() }
    }

    /// `classify · fashion-mnist · resnet8 · preset quick`
    pub fn title(&self) -> String {
        format!("{} · {} · {} · preset {}", self.suite, self.dataset, self.network, self.preset)
    }

    /// A file-name stem: `classify-fashion-mnist-resnet8-quick`.
    pub fn slug(&self) -> String {
        let parts = [&self.suite, &self.dataset, &self.network, &self.preset];
        let joined = parts.iter().map(|p| p.as_str()).collect::<Vec<_>>().join("-");
        joined.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c.to_ascii_lowercase() } else { '_' }).collect()
    }
}

/// The runs of one table.
#[derive(Debug, Clone)]
pub struct Group {
    pub key: GroupKey,
    /// Finished runs: the only ones any number is computed from.
    pub ok: Vec<ResultRow>,
    /// Failed runs: counted and listed, never averaged.
    pub failed: Vec<ResultRow>,
}

impl Group {
    /// Distinct K of the finished runs, ascending.
    pub fn ks(&self) -> Vec<usize> {
        self.ok.iter().map(|r| r.k).collect::<BTreeSet<_>>().into_iter().collect()
    }

    /// Distinct methods of the finished runs, in table order (E2E first).
    pub fn methods(&self) -> Vec<String> {
        methods_of(self.ok.iter())
    }
}

/// Distinct methods in table order.
pub fn methods_of<'a>(rows: impl Iterator<Item = &'a ResultRow>) -> Vec<String> {
    let mut names: Vec<String> = rows.map(|r| r.method.clone()).collect::<BTreeSet<_>>().into_iter().collect();
    names.sort_by_key(|m| methods::order(m));
    names.dedup_by(|a, b| methods::order(a) == methods::order(b));
    names
}

/// Groups `rows`, sorted by key.
pub fn group_rows(rows: &[ResultRow]) -> Vec<Group> {
    let mut groups: BTreeMap<GroupKey, Group> = BTreeMap::new();
    for row in rows {
        let key = GroupKey::of(row);
        let group = groups.entry(key.clone()).or_insert_with(|| Group { key, ok: Vec::new(), failed: Vec::new() });
        match row.status {
            RunStatus::Ok => group.ok.push(row.clone()),
            RunStatus::Failed => group.failed.push(row.clone()),
        }
    }
    groups.into_values().collect()
}

/// What memory and speed depend on beyond the group: two runs are compared on memory or
/// throughput only when these match.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Setting {
    pub batch_size: usize,
    pub device: String,
    pub dtype: String,
    pub threads: usize,
}

impl Setting {
    pub fn of(row: &ResultRow) -> Setting {
        Setting { batch_size: row.batch_size, device: row.device.clone(), dtype: row.dtype.clone(), threads: row.threads }
    }

    /// `batch 64, cpu, float32, 2 threads`
    pub fn describe(&self) -> String {
        format!("batch {}, {}, {}, {} threads", self.batch_size, self.device, self.dtype, self.threads)
    }

    /// `b64-cpu-float32-t2`, for file names.
    pub fn slug(&self) -> String {
        let raw = format!("b{}-{}-{}-t{}", self.batch_size, self.device, self.dtype, self.threads);
        raw.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect()
    }
}

/// `rows` split by [`Setting`], sorted.
pub fn by_setting(rows: &[ResultRow]) -> Vec<(Setting, Vec<&ResultRow>)> {
    let mut split: BTreeMap<Setting, Vec<&ResultRow>> = BTreeMap::new();
    for row in rows {
        split.entry(Setting::of(row)).or_default().push(row);
    }
    split.into_iter().collect()
}

/// Values of `value` per (method, K), seeds pooled; runs without a value are skipped.
pub fn cells<'a>(
    rows: impl IntoIterator<Item = &'a ResultRow>,
    value: impl Fn(&ResultRow) -> Option<f64>,
) -> BTreeMap<(String, usize), Vec<f64>> {
    let mut cells: BTreeMap<(String, usize), Vec<f64>> = BTreeMap::new();
    for row in rows {
        if let Some(v) = value(row) {
            cells.entry((methods_key(&row.method), row.k)).or_default().push(v);
        }
    }
    cells
}

/// Cells are keyed by the method name as the first run of it spelled it, lower-cased, so
/// `GLCAN` and `glcan` share a cell.
pub fn methods_key(method: &str) -> String {
    methods::order(method).1
}
