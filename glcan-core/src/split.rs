//! Cutting a network into K local modules.
//!
//! A split point `[s, u]` means "a module ends after unit u of stage s" (stage 0 is the
//! stem). K modules need K - 1 points. The defaults are the points published with InfoPro
//! (Wang et al., ICLR 2021, <https://arxiv.org/abs/2101.10832>; its code's
//! `networks/configs.py`) for ResNet-32 and ResNet-110; any other network or K is cut evenly
//! by unit count. [`balanced_ends`] chooses the points that minimise the largest module's
//! cost (its units' measured activation memory plus its local loss's, see
//! [`crate::unit_costs::module_memory_bytes`]).

use std::ops::Range;

use crate::models::{UnitId, UnitNetwork};
use crate::{Error, Result};

/// How to choose the split points.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SplitStrategy {
    /// InfoPro's published points where they exist for this network and K, else [`Self::Even`]
    /// (the default).
    #[default]
    Published,
    /// InfoPro's memory-balanced points (InfoPro*: CIFAR ResNet-110 at K = 2, 3, 4, ImageNet
    /// ResNet-101 and -152 at K = 2), else an error naming the network and K: use
    /// [`Self::MemoryBalanced`] there, which measures rather than looks up.
    PublishedBalanced,
    /// Nearly equal numbers of units per module.
    Even,
    /// These K - 1 points, in forward order.
    Points(Vec<UnitId>),
    /// The points minimising the largest module's memory: its units' activations plus what
    /// its aux net (or the real head) holds at the cut, measured on the training batch (see
    /// [`crate::unit_costs::module_memory_bytes`]); resolved by the trainer.
    MemoryBalanced,
    /// The points minimising the slowest module's step time (its units' forward and
    /// backward plus its aux net's, or the real head's), measured on the training batch at
    /// the intra-op threads a module gets ([`crate::unit_costs::step_seconds`]): a pipeline
    /// runs at the pace of its slowest stage. Resolved by the trainer; timings vary from
    /// machine to machine, so a run records the points it chose (`split.json`).
    TimeBalanced,
}

/// The unit positions (indices into `network.units()`) of each local module, in order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ModuleSplit {
    pub modules: Vec<Range<usize>>,
}

impl ModuleSplit {
    pub fn k(&self) -> usize {
        self.modules.len()
    }

    /// The split points, as unit ids.
    pub fn points(&self, network: &dyn UnitNetwork) -> Vec<UnitId> {
        self.modules[..self.k() - 1].iter().map(|m| network.units()[m.end - 1].id).collect()
    }
}

/// InfoPro's published split points for `network` (its [`UnitNetwork::name`]) and K:
/// `InfoPro` and `InfoPro_balanced_memory` (CIFAR-10) in its `networks/configs.py`, and the
/// ImageNet ResNets' `k2_infopro` (K = 2: the first module ends after block `k2_infopro` of
/// stage 2). InfoPro's STL-10 balanced points differ from CIFAR-10's at K = 3 ([1,8] [2,1])
/// and are not here: a network does not know its dataset.
pub fn published_points(network: &str, k: usize, balanced: bool) -> Option<Vec<UnitId>> {
    let points: &[(usize, usize)] = match (network, k, balanced) {
        ("resnet32", 2, false) => &[(2, 1)],
        ("resnet32", 3, false) => &[(1, 4), (2, 4)],
        ("resnet32", 4, false) => &[(1, 2), (2, 1), (3, 0)],
        ("resnet32", 8, false) => &[(1, 0), (1, 2), (1, 4), (2, 1), (2, 3), (3, 0), (3, 2)],
        ("resnet32", 16, false) => {
            &[(0, 0), (1, 0), (1, 1), (1, 2), (1, 3), (1, 4), (2, 0), (2, 1), (2, 2), (2, 3), (2, 4), (3, 0), (3, 1), (3, 2), (3, 3)]
        }
        ("resnet110", 2, false) => &[(2, 8)],
        ("resnet110", 3, false) => &[(1, 17), (2, 17)],
        ("resnet110", 4, false) => &[(1, 11), (2, 7), (3, 3)],
        ("resnet110", 8, false) => &[(1, 4), (1, 11), (2, 0), (2, 7), (2, 14), (3, 3), (3, 10)],
        ("resnet110", 16, false) => {
            &[(1, 1), (1, 4), (1, 7), (1, 10), (1, 13), (1, 16), (2, 1), (2, 4), (2, 7), (2, 11), (2, 15), (3, 1), (3, 5), (3, 9), (3, 13)]
        }
        ("resnet110", 2, true) => &[(1, 14)],
        ("resnet110", 3, true) => &[(1, 9), (2, 2)],
        ("resnet110", 4, true) => &[(1, 6), (1, 14), (2, 8)],
        ("resnet101-imagenet", 2, true) => &[(2, 0)],
        ("resnet152-imagenet", 2, true) => &[(2, 5)],
        _ => return None,
    };
    Some(points.iter().map(|&(s, u)| UnitId::new(s, u)).collect())
}

/// Checks that `strategy` can cut `network` into `k` modules, without measuring anything:
/// a config check before any data loads. A memory-balanced split exists for every K up to
/// the number of units (its points need measured costs, taken when the run builds).
pub fn check(network: &dyn UnitNetwork, k: usize, strategy: &SplitStrategy) -> Result<()> {
    let strategy =
        if matches!(strategy, SplitStrategy::MemoryBalanced | SplitStrategy::TimeBalanced) { &SplitStrategy::Even } else { strategy };
    split(network, k, strategy).map(drop)
}

/// Cuts `network` into `k` modules. K = 1 is end-to-end training.
pub fn split(network: &dyn UnitNetwork, k: usize, strategy: &SplitStrategy) -> Result<ModuleSplit> {
    let units = network.units().len();
    if k == 0 {
        return Err(Error::config("k", "must be at least 1"));
    }
    if k > units {
        return Err(Error::config("k", format!("K = {k} local modules, but {} has only {units} units", network.name())));
    }
    let ends = match strategy {
        SplitStrategy::Even => even_ends(units, k),
        SplitStrategy::Published => match published_points(&network.name(), k, false) {
            Some(points) => positions_of(network, &points)?,
            None => even_ends(units, k),
        },
        // One module (E2E) needs no points, published or not.
        SplitStrategy::PublishedBalanced if k == 1 => Vec::new(),
        SplitStrategy::PublishedBalanced => {
            let points = published_points(&network.name(), k, true).ok_or_else(|| {
                Error::config(
                    "split",
                    format!(
                        "no published memory-balanced split for {} at K = {k} (InfoPro gives resnet110 at K = 2, 3, 4 and \
                         resnet101/152-imagenet at K = 2); split = \"memory_balanced\" measures one for any network and K",
                        network.name()
                    ),
                )
            })?;
            positions_of(network, &points)?
        }
        SplitStrategy::MemoryBalanced => {
            return Err(Error::config("split", "memory_balanced needs measured unit costs: use balanced_split"));
        }
        SplitStrategy::TimeBalanced => {
            return Err(Error::config("split", "time_balanced needs measured step times: use time_balanced_split"));
        }
        SplitStrategy::Points(points) => {
            if points.len() != k - 1 {
                return Err(Error::config("split.points", format!("K = {k} needs {} split points, {} given", k - 1, points.len())));
            }
            positions_of(network, points)?
        }
    };
    from_ends(network, &ends)
}

/// Module ranges from the position of each module's last unit (all but the final module).
fn from_ends(network: &dyn UnitNetwork, ends: &[usize]) -> Result<ModuleSplit> {
    let units = network.units().len();
    let mut modules = Vec::with_capacity(ends.len() + 1);
    let mut start = 0;
    for &end in ends {
        if end < start || end + 1 >= units {
            let id = network.units()[end.min(units - 1)].id;
            return Err(Error::config(
                "split.points",
                format!("split point {id} of {} must come after the previous one and before the last unit", network.name()),
            ));
        }
        modules.push(start..end + 1);
        start = end + 1;
    }
    modules.push(start..units);
    Ok(ModuleSplit { modules })
}

fn positions_of(network: &dyn UnitNetwork, points: &[UnitId]) -> Result<Vec<usize>> {
    points
        .iter()
        .map(|&id| {
            network.position_of(id).ok_or_else(|| {
                let stages = network.units().last().map_or(0, |u| u.id.stage);
                Error::config(
                    "split.points",
                    format!("{} has no unit {id} (stage 0 is the stem, stages 1..={stages} hold the blocks)", network.name()),
                )
            })
        })
        .collect()
}

/// End positions of K nearly equal modules over `units` units.
fn even_ends(units: usize, k: usize) -> Vec<usize> {
    (1..k).map(|i| (i * units).div_ceil(k) - 1).collect()
}

/// End positions that minimise the largest module, where the module of units `a..=e` costs
/// `unit_costs[a..=e]` summed plus `end_costs[e]` (the memory its local loss holds when it
/// ends at unit e: its aux net's, or the real head's at the last unit); found exactly by
/// dynamic programming; ties favour earlier cuts.
pub fn balanced_ends(unit_costs: &[u64], end_costs: &[u64], k: usize) -> Vec<usize> {
    // Byte counts and their sums below 2^53 are exact as f64: the same search decides.
    let as_f64 = |costs: &[u64]| -> Vec<f64> { costs.iter().map(|&c| c as f64).collect() };
    time_balanced_ends(&as_f64(unit_costs), &as_f64(end_costs), k)
}

/// End positions that minimise the slowest module, where the module of units `a..=e` costs
/// `unit_seconds[a..=e]` summed plus `end_seconds[e]` (what its local loss costs when it ends
/// at unit e: an aux net, or the real head at the last unit); exact dynamic programming, ties
/// favour earlier cuts.
pub fn time_balanced_ends(unit_seconds: &[f64], end_seconds: &[f64], k: usize) -> Vec<usize> {
    let n = unit_seconds.len();
    assert!(k >= 1 && k <= n && end_seconds.len() == n, "1 <= k <= number of units, one end cost per unit");
    let prefix: Vec<f64> = std::iter::once(0.0)
        .chain(unit_seconds.iter().scan(0.0, |sum, &c| {
            *sum += c;
            Some(*sum)
        }))
        .collect();
    // best[j][i]: smallest possible slowest module when the first i units form j modules.
    let mut best = vec![vec![f64::INFINITY; n + 1]; k + 1];
    let mut cut = vec![vec![0usize; n + 1]; k + 1];
    best[0][0] = 0.0;
    for j in 1..=k {
        for i in j..=n {
            for split in (j - 1)..i {
                let candidate = best[j - 1][split].max(prefix[i] - prefix[split] + end_seconds[i - 1]);
                if candidate < best[j][i] {
                    best[j][i] = candidate;
                    cut[j][i] = split;
                }
            }
        }
    }
    let mut ends = Vec::with_capacity(k - 1);
    let mut i = n;
    for j in (2..=k).rev() {
        i = cut[j][i];
        ends.push(i - 1);
    }
    ends.reverse();
    ends
}

/// [`split`] with the points of [`time_balanced_ends`]; returns each module's cost too.
pub fn time_balanced_split(
    network: &dyn UnitNetwork,
    k: usize,
    unit_seconds: &[f64],
    end_seconds: &[f64],
) -> Result<(ModuleSplit, Vec<f64>)> {
    let units = network.units().len();
    if unit_seconds.len() != units || end_seconds.len() != units {
        return Err(Error::config("split", format!("{} unit and {} end timings for {units} units", unit_seconds.len(), end_seconds.len())));
    }
    split(network, k, &SplitStrategy::Even)?; // validates k against the unit count
    let split = from_ends(network, &time_balanced_ends(unit_seconds, end_seconds, k))?;
    let costs = split.modules.iter().map(|m| unit_seconds[m.clone()].iter().sum::<f64>() + end_seconds[m.end - 1]).collect();
    Ok((split, costs))
}

/// [`split`] with the points of [`balanced_ends`]; returns each module's cost too.
pub fn balanced_split(network: &dyn UnitNetwork, k: usize, unit_costs: &[u64], end_costs: &[u64]) -> Result<(ModuleSplit, Vec<u64>)> {
    let units = network.units().len();
    if unit_costs.len() != units || end_costs.len() != units {
        return Err(Error::config("split", format!("{} unit and {} end costs for {units} units", unit_costs.len(), end_costs.len())));
    }
    split(network, k, &SplitStrategy::Even)?; // validates k against the unit count
    let split = from_ends(network, &balanced_ends(unit_costs, end_costs, k))?;
    let costs = split.modules.iter().map(|m| unit_costs[m.clone()].iter().sum::<u64>() + end_costs[m.end - 1]).collect();
    Ok((split, costs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::ResNetCifar;

    fn resnet(depth: usize) -> ResNetCifar {
        ResNetCifar::new(depth, 3, 10, 32).unwrap()
    }

    #[test]
    fn published_resnet32_k4_modules() {
        let net = resnet(32);
        let split = split(&net, 4, &SplitStrategy::Published).unwrap();
        // [1,2] is position 3, [2,1] position 7, [3,0] position 11; 16 units in all.
        assert_eq!(split.modules, vec![0..4, 4..8, 8..12, 12..16]);
        assert_eq!(split.points(&net), published_points("resnet32", 4, false).unwrap());
    }

    #[test]
    fn every_published_split_is_valid_and_has_k_modules() {
        for (depth, balanced, ks) in [(32, false, vec![2, 3, 4, 8, 16]), (110, false, vec![2, 3, 4, 8, 16]), (110, true, vec![1, 2, 3, 4])]
        {
            let net = resnet(depth);
            let strategy = if balanced { SplitStrategy::PublishedBalanced } else { SplitStrategy::Published };
            for k in ks {
                let split = split(&net, k, &strategy).unwrap();
                assert_eq!(split.k(), k);
                assert!(split.modules.iter().all(|m| !m.is_empty()));
                assert_eq!(split.modules.last().unwrap().end, net.units().len());
            }
        }
    }

    #[test]
    fn imagenet_resnets_have_their_published_k2_points() {
        for (depth, point) in [(101, UnitId::new(2, 0)), (152, UnitId::new(2, 5))] {
            let net = crate::models::ResNetImageNet::new(depth, 1000, 224).unwrap();
            assert_eq!(split(&net, 2, &SplitStrategy::PublishedBalanced).unwrap().points(&net), vec![point]);
        }
    }

    #[test]
    fn resnet32_k16_cuts_after_every_unit_but_the_last() {
        let split = split(&resnet(32), 16, &SplitStrategy::Published).unwrap();
        assert!(split.modules.iter().all(|m| m.len() == 1));
    }

    #[test]
    fn even_split_and_k1() {
        let net = resnet(20); // 10 units
        assert_eq!(split(&net, 3, &SplitStrategy::Even).unwrap().modules, vec![0..4, 4..7, 7..10]);
        assert_eq!(split(&net, 1, &SplitStrategy::Published).unwrap().modules, vec![0..10]);
        assert_eq!(split(&net, 10, &SplitStrategy::Even).unwrap().k(), 10);
    }

    #[test]
    fn impossible_splits_name_k_and_the_network() {
        let net = resnet(20);
        let message = split(&net, 11, &SplitStrategy::Even).unwrap_err().to_string();
        assert!(message.contains("K = 11") && message.contains("resnet20") && message.contains("10 units"), "{message}");
        let message = split(&net, 2, &SplitStrategy::Points(vec![UnitId::new(4, 0)])).unwrap_err().to_string();
        assert!(message.contains("[4,0]") && message.contains("resnet20"), "{message}");
        let backwards = SplitStrategy::Points(vec![UnitId::new(2, 0), UnitId::new(1, 0)]);
        assert!(split(&net, 3, &backwards).unwrap_err().to_string().contains("[1,0]"));
        let last = SplitStrategy::Points(vec![UnitId::new(3, 2)]);
        assert!(split(&net, 2, &last).is_err(), "a cut after the last unit leaves an empty module");
        let message = split(&net, 3, &SplitStrategy::PublishedBalanced).unwrap_err().to_string();
        assert!(message.contains("resnet20 at K = 3") && message.contains("memory_balanced"), "{message}");
        assert!(split(&net, 0, &SplitStrategy::Even).is_err());
    }

    #[test]
    fn time_balanced_ends_count_the_aux_net_where_a_module_ends() {
        // Equal units; ending after unit 1 is expensive (a heavy aux net there).
        let units = [1.0; 6];
        let mut ends = [0.5; 6];
        assert_eq!(time_balanced_ends(&units, &ends, 2), vec![2]);
        ends[2] = 10.0;
        let cut = time_balanced_ends(&units, &ends, 2);
        assert_ne!(cut, vec![2]);
        // Brute force agrees on the optimum.
        let cost = |e: usize| (units[..=e].iter().sum::<f64>() + ends[e]).max(units[e + 1..].iter().sum::<f64>() + ends[5]);
        let best = (0..5).map(cost).fold(f64::INFINITY, f64::min);
        assert_eq!(cost(cut[0]), best);
        let net = resnet(32);
        let (split, costs) = time_balanced_split(&net, 4, &[1.0; 16], &[0.0; 16]).unwrap();
        assert_eq!(split.modules, vec![0..4, 4..8, 8..12, 12..16]);
        assert_eq!(costs, vec![4.0; 4]);
        assert!(time_balanced_split(&net, 2, &[1.0; 3], &[0.0; 3]).is_err());
    }

    #[test]
    fn balanced_ends_minimise_the_largest_module() {
        // Costs shaped like activation memory: heavy early units.
        let costs = [8, 8, 8, 4, 4, 4, 2, 2, 2, 2];
        let ends = balanced_ends(&costs, &[0; 10], 3);
        let sums: Vec<u64> =
            [0..ends[0] + 1, ends[0] + 1..ends[1] + 1, ends[1] + 1..10].iter().map(|r| costs[r.clone()].iter().sum()).collect();
        assert_eq!(*sums.iter().max().unwrap(), 16);
        // Brute force over all 2-cut placements agrees on the optimum.
        let mut best = u64::MAX;
        for a in 0..8 {
            for b in a + 1..9 {
                let parts = [&costs[..=a], &costs[a + 1..=b], &costs[b + 1..]];
                best = best.min(parts.iter().map(|p| p.iter().sum::<u64>()).max().unwrap());
            }
        }
        assert_eq!(best, 16);
        assert_eq!(balanced_ends(&[5, 5], &[0, 0], 2), vec![0]);
        assert!(balanced_ends(&[1, 2, 3], &[0; 3], 1).is_empty());
    }

    #[test]
    fn a_heavy_aux_net_at_the_activation_balanced_cut_moves_it() {
        // Activation memory alone cuts after unit 2 (6 | 6)...
        let units = [2, 2, 2, 2, 2, 2];
        assert_eq!(balanced_ends(&units, &[0; 6], 2), vec![2]);
        // ...but an aux net holding 5 there (an up-sampler at full resolution, say) makes
        // that module 11; cutting after unit 3 with a light aux net (1) gives 9 | 4, and
        // every other cut is worse (10 | 10 | 11 | 9 | 11).
        let ends = [6, 6, 5, 1, 1, 0];
        assert_eq!(balanced_ends(&units, &ends, 2), vec![3]);
        let net = resnet(8); // stem + 3 blocks: 4 units
        let (split, costs) = balanced_split(&net, 2, &[4, 1, 1, 1], &[3, 3, 1, 2]).unwrap();
        // Cut after unit 0: 4 + 3 = 7 | 3 + 2; after 1: 5 + 3 = 8; after 2: 6 + 1 = 7 | 1 + 2. The tie goes to the earlier cut.
        assert_eq!(split.modules, vec![0..1, 1..4]);
        assert_eq!(costs, vec![7, 5]);
        let (split, _) = balanced_split(&net, 2, &[4, 1, 1, 1], &[6, 3, 1, 2]).unwrap();
        assert_eq!(split.modules, vec![0..3, 3..4], "the aux net after the stem now outweighs the later cut");
        assert!(balanced_split(&net, 2, &[1; 4], &[0; 3]).unwrap_err().to_string().contains("3 end costs"));
    }
}
