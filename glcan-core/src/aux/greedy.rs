//! Greedy supervised learning: the simplest aux net, global average pooling and one linear
//! layer trained with cross-entropy (the "Greedy SL" baseline of the InfoPro paper, Wang et
//! al., ICLR 2021, <https://arxiv.org/abs/2101.10832>).

use tch::nn;
use tch::Tensor;

use super::task_head::{ClassifierHead, TaskHead};
use super::{AuxContext, AuxNet, LocalTargets};

#[derive(Debug)]
pub struct GreedyAux {
    head: ClassifierHead,
}

impl GreedyAux {
    pub fn new(p: nn::Path, ctx: &AuxContext) -> Self {
        GreedyAux { head: ClassifierHead::new(p, ctx.channels(), ctx.num_classes(), ctx.init) }
    }
}

impl AuxNet for GreedyAux {
    fn loss(&self, h: &Tensor, targets: &LocalTargets, train: bool) -> Tensor {
        self.head.loss(h, targets, train)
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
