//! Numbers published by others, shown beside ours only where the setting matches.
//!
//! InfoPro: Y. Wang, Z. Ni, S. Song, L. Yang, G. Huang, "Revisiting Locally Supervised
//! Learning: an Alternative to End-to-end Training", ICLR 2021, arXiv:2101.10832,
//! Table 2: CIFAR-10 test error (%) of ResNet-32 (means; transcribed in DESIGN.md §1).

use crate::group::GroupKey;
use crate::metric::Metric;

/// A published table: which setting it belongs to and its values per method and K.
#[derive(Debug)]
pub struct Published {
    /// How the rows are labelled in our tables.
    pub label: &'static str,
    /// The paper and table, for the note under our table.
    pub source: &'static str,
    pub metric: Metric,
    pub dataset: &'static str,
    pub network: &'static str,
    /// Only our runs of this preset follow the published recipe.
    pub preset: &'static str,
    /// (method as the results CSV spells it, [(K, value)]).
    pub rows: &'static [(&'static str, &'static [(usize, f64)])],
}

/// InfoPro, Table 2.
pub const INFOPRO_TABLE_2: Published = Published {
    label: "published (InfoPro, Table 2)",
    source: "InfoPro (Wang et al., ICLR 2021, arXiv:2101.10832), Table 2: CIFAR-10, ResNet-32, their training recipe",
    metric: Metric::TestError,
    dataset: "cifar10",
    network: "resnet32",
    preset: "paper",
    rows: &[
        ("e2e", &[(1, 7.37)]),
        ("greedy-sl", &[(2, 10.30), (4, 16.07), (8, 21.19), (16, 24.59)]),
        ("dgl", &[(2, 8.69), (4, 11.48), (8, 14.17), (16, 16.21)]),
        ("infopro-softmax", &[(2, 8.13), (4, 8.64), (8, 11.40), (16, 14.23)]),
        ("infopro-contrast", &[(2, 7.76), (4, 8.58), (8, 11.13), (16, 12.75)]),
    ],
};

/// The published table for this group and metric, if there is one whose setting matches.
pub fn published_for(key: &GroupKey, metric: Metric) -> Option<&'static Published> {
    [&INFOPRO_TABLE_2]
        .into_iter()
        .find(|p| p.metric == metric && p.dataset == key.dataset && p.network == key.network && p.preset == key.preset)
}

impl Published {
    /// The published value of `method` at `k`.
    pub fn value(&self, method: &str, k: usize) -> Option<f64> {
        let method = crate::group::methods_key(method);
        self.rows.iter().find(|(m, _)| *m == method)?.1.iter().find(|(kk, _)| *kk == k).map(|(_, v)| *v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(dataset: &str, network: &str, preset: &str) -> GroupKey {
        GroupKey { suite: "classify".into(), dataset: dataset.into(), network: network.into(), preset: preset.into() }
    }

    #[test]
    fn only_the_matching_setting() {
        let paper = key("cifar10", "resnet32", "paper");
        assert!(published_for(&paper, Metric::TestError).is_some());
        assert!(published_for(&paper, Metric::Ap).is_none());
        assert!(published_for(&key("cifar10", "resnet32", "quick"), Metric::TestError).is_none());
        assert!(published_for(&key("cifar10", "resnet110", "paper"), Metric::TestError).is_none());
        assert!(published_for(&key("fashion-mnist", "resnet32", "paper"), Metric::TestError).is_none());
        assert_eq!(INFOPRO_TABLE_2.value("infopro-contrast", 16), Some(12.75));
        assert_eq!(INFOPRO_TABLE_2.value("glcan", 2), None);
    }
}
