// Memory formats for glcan_core::memory_format: what tch's generated API cannot express.
//
// tch 0.26 has no memory-format argument, so a conv weight or a batch cannot be put in
// channels-last (NHWC strides) from Rust. These functions take tch's tensor handles (an
// `at::Tensor*` each) and catch every C++ exception: an exception must never unwind into Rust.

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>

extern "C" {

// Gives the 4-D tensor `*t` channels-last strides in place: the variable keeps its identity
// (a VarStore, an optimizer and autograd all hold the same TensorImpl), only its data moves,
// as `module.to(memory_format=...)` does in PyTorch. Tensors of other ranks are left alone.
// Returns 0, or -1 on failure.
int glcan_to_channels_last_(at::Tensor* t) {
    if (t == nullptr || !t->defined()) {
        return -1;
    }
    try {
        if (t->dim() != 4) {
            return 0;
        }
        c10::NoGradGuard no_grad;
        t->set_data(t->contiguous(at::MemoryFormat::ChannelsLast));
        return 0;
    } catch (...) {
        return -1;
    }
}

// A new tensor (written to `*out`) holding `*t` with channels-last strides (a 4-D tensor
// already in that layout is returned as is, sharing its data). Returns 0, or -1 on failure.
int glcan_channels_last(const at::Tensor* t, at::Tensor** out) {
    if (t == nullptr || out == nullptr || !t->defined()) {
        return -1;
    }
    try {
        *out = new at::Tensor(t->dim() == 4 ? t->contiguous(at::MemoryFormat::ChannelsLast) : *t);
        return 0;
    } catch (...) {
        return -1;
    }
}

// 1 when the 4-D tensor `*t` is laid out channels-last, 0 when not, -1 on failure.
int glcan_is_channels_last(const at::Tensor* t) {
    if (t == nullptr || !t->defined()) {
        return -1;
    }
    try {
        return t->dim() == 4 && t->is_contiguous(at::MemoryFormat::ChannelsLast) ? 1 : 0;
    } catch (...) {
        return -1;
    }
}

}  // extern "C"
