//! Greedy supervised learning: the simplest aux net, global average pooling and one linear
//! layer trained with cross-entropy (the "Greedy SL" baseline of the InfoPro paper, Wang et
//! al., ICLR 2021, <https://arxiv.org/abs/2101.10832>).

use tch::nn;
use tch::Tensor;

use super::{AuxContext, AuxNet, LocalTargets};

#[derive(Debug)]
pub struct GreedyAux {
    fc: nn::Linear,
}

impl GreedyAux {
    pub fn new(p: nn::Path, ctx: &AuxContext) -> Self {
        GreedyAux { fc: nn::linear(&p / "fc", ctx.channels(), ctx.num_classes(), Default::default()) }
    }
}

impl AuxNet for GreedyAux {
    fn loss(&self, h: &Tensor, targets: &LocalTargets, _train: bool) -> Tensor {
        h.adaptive_avg_pool2d([1, 1]).flatten(1, -1).apply(&self.fc).cross_entropy_for_logits(targets.labels)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing;
    use super::*;

    #[test]
    fn smoke() {
        let net = testing::network();
        let vs = nn::VarStore::new(tch::Device::Cpu);
        for last_unit in [0, 4, 8] {
            let ctx = testing::context(&net, last_unit);
            testing::check_loss(&GreedyAux::new(vs.root() / last_unit, &ctx), &ctx);
        }
    }
}
