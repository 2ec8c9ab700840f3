// What the libtorch this process loaded says about itself (see src/libtorch_facts.rs): its
// version as compiled into its headers, and the CUDA runtime and cuDNN versions its CUDA
// library reports. Every C++ exception is caught: none may unwind into Rust.

#include <ATen/Context.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <torch/version.h>

#include <cstddef>
#include <cstring>

extern "C" {

// Writes TORCH_VERSION ("2.13.0") into `buffer`, NUL terminated and cut to `capacity`;
// returns 0, or -1 when the buffer is unusable.
int glcan_torch_version(char* buffer, std::size_t capacity) {
    if (buffer == nullptr || capacity == 0) {
        return -1;
    }
    const char* version = TORCH_VERSION;
    const std::size_t length = std::strlen(version);
    const std::size_t n = length < capacity - 1 ? length : capacity - 1;
    std::memcpy(buffer, version, n);
    buffer[n] = '\0';
    return 0;
}

// The CUDA runtime version of libtorch's CUDA library (e.g. 13000 for 13.0), or -1 for a
// libtorch without one. It needs no GPU.
long glcan_cuda_runtime_version() {
    try {
        return at::detail::getCUDAHooks().versionCUDART();
    } catch (...) {
        return -1;
    }
}

// The cuDNN version loaded at run time (e.g. 91002 for 9.10.2), or -1 without a usable GPU
// or without cuDNN.
long glcan_cudnn_version() {
    try {
        const auto& hooks = at::detail::getCUDAHooks();
        return hooks.hasCUDA() && hooks.hasCuDNN() ? hooks.versionRuntimeCuDNN() : -1;
    } catch (...) {
        return -1;
    }
}

}  // extern "C"
