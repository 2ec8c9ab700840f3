// Which CPU kernels libtorch's own vectorised code runs (see src/cpu_kernels.rs).
//
// ATen picks one instruction set for its CPU kernels on first use (honouring
// ATEN_CPU_CAPABILITY) and keeps it for the life of the process; this reports the choice,
// so that a run records what it used and a pin that came too late is caught.
// The function catches every C++ exception: an exception must never unwind into Rust.

#include <ATen/Version.h>

#include <cstddef>
#include <cstring>
#include <string>

extern "C" {

// Writes ATen's CPU capability ("AVX2", "AVX512", "DEFAULT", ...) into `buffer` (NUL
// terminated, cut to `capacity`); returns 0, or -1 on failure.
int glcan_aten_cpu_capability(char* buffer, std::size_t capacity) {
    if (buffer == nullptr || capacity == 0) {
        return -1;
    }
    try {
        const std::string capability = at::get_cpu_capability();
        const std::size_t n = capability.size() < capacity - 1 ? capability.size() : capacity - 1;
        std::memcpy(buffer, capability.data(), n);
        buffer[n] = '\0';
        return 0;
    } catch (...) {
        return -1;
    }
}

}  // extern "C"
