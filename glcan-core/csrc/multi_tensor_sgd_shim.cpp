// SGD over a list of parameters in one call, for glcan_core::optim.
//
// The update runs the same ATen operations, on the same operands and in the same order, as
// the per-parameter step in src/optim.rs, so the weights come out bit for bit the same; what
// it saves is one FFI call and one freshly allocated temporary per operation and parameter.
// On the CPU `at::_foreach_*` loops over the tensors with those very kernels; on CUDA it
// batches them into few launches. Every C++ exception is caught: none may unwind into Rust.

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>

#include <cstddef>
#include <vector>

extern "C" {

// One step over `n` parameters `params[i]` (tch handles) and their momentum buffers
// `buffers[i]` (ignored when momentum is 0): d = g + wd p; b = mu b + d;
// p -= lr (d + mu b) with Nesterov, lr b without, lr d when mu is 0. Parameters whose
// gradient is undefined are skipped. The gradients are overwritten (they are zeroed before
// the next backward pass anyway). Returns 0, or -1 on failure.
int glcan_sgd_step(at::Tensor* const* params, at::Tensor* const* buffers, std::size_t n, double lr, double momentum,
                   double weight_decay, int nesterov) {
    if (params == nullptr || (momentum != 0.0 && buffers == nullptr)) {
        return -1;
    }
    try {
        c10::NoGradGuard no_grad;
        std::vector<at::Tensor> p, g, b;
        for (std::size_t i = 0; i < n; ++i) {
            const at::Tensor& grad = params[i]->grad();
            if (!grad.defined()) {
                continue;
            }
            p.push_back(*params[i]);
            g.push_back(grad);
            if (momentum != 0.0) {
                b.push_back(*buffers[i]);
            }
        }
        if (p.empty()) {
            return 0;
        }
        // g becomes d = g + (p * wd): the product first, as `&grad + &*p * wd` rounds it.
        if (weight_decay != 0.0) {
            at::_foreach_add_(g, at::_foreach_mul(p, weight_decay));
        }
        if (momentum == 0.0) {
            at::_foreach_sub_(p, at::_foreach_mul(g, lr));
            return 0;
        }
        at::_foreach_mul_(b, momentum);
        at::_foreach_add_(b, g);
        if (nesterov != 0) {
            at::_foreach_add_(g, at::_foreach_mul(b, momentum));
            at::_foreach_mul_(g, lr);
            at::_foreach_sub_(p, g);
        } else {
            at::_foreach_sub_(p, at::_foreach_mul(b, lr));
        }
        return 0;
    } catch (...) {
        return -1;
    }
}

}  // extern "C"
