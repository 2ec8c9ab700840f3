//! Loss functions that libtorch does not provide.

use tch::{Kind, Tensor};

/// Supervised contrastive loss (Khosla et al., NeurIPS 2020, <https://arxiv.org/abs/2004.11362>),
/// single view, as InfoPro uses it: with `z` the L2-normalised rows of `features` `[B, D]`,
///
/// `L = -mean_i 1/|P(i)| sum_{p in P(i)} log( exp(z_i.z_p / t) / sum_{a != i} exp(z_i.z_a / t) )`
///
/// where `P(i)` are the other samples with anchor i's label. Anchors without a positive are
/// left out of the mean; a batch with no positive pair at all gives 0 (still differentiable).
pub fn supervised_contrastive(features: &Tensor, labels: &Tensor, temperature: f64) -> Tensor {
    let batch = features.size()[0];
    let options = (Kind::Float, features.device());
    let z = features / features.norm_scalaropt_dim(2.0, [1], true).clamp_min(1e-12);
    let logits = z.mm(&z.tr()) / temperature;
    // Subtracting each row's maximum changes nothing mathematically and avoids overflow.
    let logits = &logits - logits.max_dim(1, true).0.detach();
    let not_self = Tensor::ones([batch, batch], options) - Tensor::eye(batch, options);
    let positives = labels.unsqueeze(1).eq_tensor(&labels.unsqueeze(0)).to_kind(Kind::Float) * &not_self;
    let denominator = (logits.exp() * &not_self).sum_dim_intlist([1i64].as_slice(), true, Kind::Float);
    let log_prob = &logits - denominator.log();
    let positive_count = positives.sum_dim_intlist([1i64].as_slice(), false, Kind::Float);
    let mean_log_prob = (&positives * log_prob).sum_dim_intlist([1i64].as_slice(), false, Kind::Float) / positive_count.clamp_min(1.0);
    let has_positive = positive_count.gt(0.0).to_kind(Kind::Float);
    -(mean_log_prob * &has_positive).sum(Kind::Float) / has_positive.sum(Kind::Float).clamp_min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_case() {
        // z1 = z2 = (1, 0) share label 0, z3 = (0, 1) has label 1, t = 1.
        // Anchors 1 and 2: log(e^1 / (e^1 + e^0)) = 1 - ln(1 + e); anchor 3 has no positive.
        let features = Tensor::from_slice(&[1.0f32, 0.0, 2.0, 0.0, 0.0, 3.0]).view([3, 2]);
        let labels = Tensor::from_slice(&[0i64, 0, 1]);
        let loss = supervised_contrastive(&features, &labels, 1.0).double_value(&[]);
        let expected = (1.0 + std::f64::consts::E).ln() - 1.0;
        assert!((loss - expected).abs() < 1e-6, "{loss} vs {expected}");
    }

    #[test]
    fn temperature_scales_the_similarities() {
        // Two samples of one class at 90 degrees, one of another class opposite the first.
        let features = Tensor::from_slice(&[1.0f32, 0.0, 0.0, 1.0, -1.0, 0.0]).view([3, 2]);
        let labels = Tensor::from_slice(&[0i64, 0, 1]);
        let t = 0.5;
        // Anchor 1: sims/t to 2 and 3 are 0 and -2; anchor 2: 0 and 0.
        let a1 = -(1.0f64 / (1.0 + (-2.0f64).exp())).ln();
        let a2 = -(0.5f64).ln();
        let loss = supervised_contrastive(&features, &labels, t).double_value(&[]);
        assert!((loss - (a1 + a2) / 2.0).abs() < 1e-6, "{loss}");
    }

    #[test]
    fn no_positive_pair_gives_zero_and_a_gradient() {
        let features = Tensor::from_slice(&[1.0f32, 0.0, 0.0, 1.0]).view([2, 2]).set_requires_grad(true);
        let loss = supervised_contrastive(&features, &Tensor::from_slice(&[0i64, 1]), 0.07);
        assert_eq!(loss.double_value(&[]), 0.0);
        loss.backward();
        assert!(features.grad().defined());
    }
}
