// Peak-memory probes for glcan-core (see src/memory.rs for the Rust side).
//
// 1. A counting CPU allocator registered in libtorch with c10::SetCPUAllocator: every CPU
//    tensor storage (and oneDNN's scratch buffers, which come through raw_allocate) created
//    after installation is allocated here, so the bytes libtorch holds are known exactly.
// 2. The CUDA caching allocator's statistics, reached through c10's device-neutral
//    c10::DeviceAllocator interface so that no CUDA header or toolkit is needed to build.
//
// Only extern "C" functions are exported and each one catches every C++ exception: an
// exception must never unwind into Rust.

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <c10/core/CachingDeviceAllocator.h>
#include <c10/core/DeviceType.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace {

// The header in front of each block. 64 bytes keep the data pointer 64-byte aligned (what
// c10's own CPU allocator guarantees, enough for AVX-512) and leave room for the size.
constexpr std::size_t kHeaderBytes = 64;
constexpr std::size_t kAlignment = 64;
static_assert(kHeaderBytes % kAlignment == 0, "the header must preserve the alignment");
static_assert(kHeaderBytes >= sizeof(std::size_t), "the header must hold the block size");
// After the size, the header keeps the tag of the thread that allocated the block.
constexpr std::size_t kTagOffset = sizeof(std::size_t);
static_assert(kHeaderBytes >= kTagOffset + sizeof(int), "the header must hold the tag");

// Requested bytes of the blocks alive now, and the highest value since the last reset.
std::atomic<std::uint64_t> g_current{0};
std::atomic<std::uint64_t> g_peak{0};

// Per thread tag (1..kMaxTags; 0 = untagged): the bytes alive that threads with that tag
// allocated (whichever thread frees them), and their peak. A pipeline worker tags itself,
// so each worker's peak is known beside the process total.
constexpr int kMaxTags = 64;
std::atomic<std::uint64_t> g_tag_current[kMaxTags + 1] = {};
std::atomic<std::uint64_t> g_tag_peak[kMaxTags + 1] = {};
thread_local int t_tag = 0;

void raise_peak(std::atomic<std::uint64_t>& peak, std::uint64_t now) {
  std::uint64_t seen = peak.load(std::memory_order_relaxed);
  // Raise the peak to `now` unless another thread already raised it further.
  while (now > seen &&
         !peak.compare_exchange_weak(seen, now, std::memory_order_relaxed)) {
  }
}

void count_allocation(std::uint64_t n, int tag) {
  raise_peak(g_peak, g_current.fetch_add(n, std::memory_order_relaxed) + n);
  if (tag > 0) {
    raise_peak(g_tag_peak[tag], g_tag_current[tag].fetch_add(n, std::memory_order_relaxed) + n);
  }
}

// The deleter of every block. The DataPtr's context is the data pointer itself (so that
// Allocator::raw_allocate accepts it); the size lives in the header just before it.
void counted_free(void* data) {
  if (data == nullptr) {
    return;
  }
  char* block = static_cast<char*>(data) - kHeaderBytes;
  std::size_t n = 0;
  std::memcpy(&n, block, sizeof n);
  int tag = 0;
  std::memcpy(&tag, block + kTagOffset, sizeof tag);
  g_current.fetch_sub(n, std::memory_order_relaxed);
  if (tag > 0) {
    g_tag_current[tag].fetch_sub(n, std::memory_order_relaxed);
  }
  std::free(block);
}

class CountingCpuAllocator final : public c10::Allocator {
 public:
  c10::DataPtr allocate(std::size_t n) override {
    const c10::Device cpu(c10::DeviceType::CPU);
    if (n == 0) {
      // Like c10's default allocator: an empty storage has no block at all.
      return c10::DataPtr(nullptr, nullptr, &counted_free, cpu);
    }
    // aligned_alloc wants a size that is a multiple of the alignment.
    const std::size_t total = (n + kHeaderBytes + kAlignment - 1) / kAlignment * kAlignment;
    TORCH_CHECK_WITH(
        OutOfMemoryError, total > n,
        "glcan counting CPU allocator: size overflow for ", n, " bytes");
    char* block = static_cast<char*>(std::aligned_alloc(kAlignment, total));
    TORCH_CHECK_WITH(
        OutOfMemoryError, block != nullptr,
        "glcan counting CPU allocator: not enough memory for ", n, " bytes");
    std::memcpy(block, &n, sizeof n);
    const int tag = t_tag;
    std::memcpy(block + kTagOffset, &tag, sizeof tag);
    count_allocation(n, tag);
    void* data = block + kHeaderBytes;
    return c10::DataPtr(data, data, &counted_free, cpu);
  }

  c10::DeleterFnPtr raw_deleter() const override {
    return &counted_free;
  }

  void copy_data(void* dest, const void* src, std::size_t count) const override {
    default_copy_data(dest, src, count);
  }
};

// libtorch keeps a raw pointer to the allocator and may still use it while static objects
// are destroyed at exit, so it is created once and never destroyed.
CountingCpuAllocator* counting_allocator() {
  static CountingCpuAllocator* const instance = new CountingCpuAllocator();
  return instance;
}

// Above the priority of libtorch's own registrations (0), so that nothing set later at a
// default priority replaces it. The maximum (255) is left for whoever truly needs to win.
constexpr std::uint8_t kPriority = 200;

// The CUDA caching allocator as a c10::DeviceAllocator, or nullptr when libtorch has no
// CUDA allocator registered or it is not initialised yet (no CUDA tensor made so far).
c10::DeviceAllocator* cuda_allocator() {
  c10::Allocator* any = c10::GetAllocator(c10::DeviceType::CUDA);
  auto* device = dynamic_cast<c10::DeviceAllocator*>(any);
  if (device == nullptr || !device->initialized()) {
    return nullptr;
  }
  return device;
}

}  // namespace

extern "C" {

// Registers the counting allocator for CPU tensors created from now on. Meant to be called
// once, early: oneDNN buffers are freed through the allocator registered at free time
// (Allocator::raw_deallocate), so none taken from the previous allocator may be alive.
// Returns 0 when it is (now or already) libtorch's CPU allocator, 1 when libtorch kept
// another one (an allocator registered at a higher priority), 2 on a C++ exception.
int glcan_memory_install_cpu_allocator() noexcept {
  try {
    CountingCpuAllocator* counting = counting_allocator();
    if (c10::GetCPUAllocator() != counting) {
      c10::SetCPUAllocator(counting, kPriority);
    }
    return c10::GetCPUAllocator() == counting ? 0 : 1;
  } catch (...) {
    return 2;
  }
}

// 1 when the counting allocator is libtorch's CPU allocator, 0 when not.
int glcan_memory_cpu_allocator_installed() noexcept {
  try {
    return c10::GetCPUAllocator() == counting_allocator() ? 1 : 0;
  } catch (...) {
    return 0;
  }
}

std::uint64_t glcan_memory_cpu_current_bytes() noexcept {
  return g_current.load(std::memory_order_relaxed);
}

std::uint64_t glcan_memory_cpu_peak_bytes() noexcept {
  return g_peak.load(std::memory_order_relaxed);
}

// Starts a new peak: peak := current.
void glcan_memory_reset_cpu_peak() noexcept {
  g_peak.store(g_current.load(std::memory_order_relaxed), std::memory_order_relaxed);
}

// Tags the CPU allocations of the calling thread from now on (0: untagged). Returns 0, or 1
// when `tag` is out of range (the tag is then left as it was).
int glcan_memory_set_thread_tag(int tag) noexcept {
  if (tag < 0 || tag > kMaxTags) {
    return 1;
  }
  t_tag = tag;
  return 0;
}

// Bytes alive that threads tagged `tag` allocated, and their peak (0 for a bad tag).
std::uint64_t glcan_memory_tag_current_bytes(int tag) noexcept {
  return tag > 0 && tag <= kMaxTags ? g_tag_current[tag].load(std::memory_order_relaxed) : 0;
}

std::uint64_t glcan_memory_tag_peak_bytes(int tag) noexcept {
  return tag > 0 && tag <= kMaxTags ? g_tag_peak[tag].load(std::memory_order_relaxed) : 0;
}

// Starts a new peak for `tag`: peak := current.
void glcan_memory_reset_tag_peak(int tag) noexcept {
  if (tag > 0 && tag <= kMaxTags) {
    g_tag_peak[tag].store(g_tag_current[tag].load(std::memory_order_relaxed), std::memory_order_relaxed);
  }
}

// The caching allocator's allocated bytes on `device` (aggregate pool): current and peak.
// Returns 0 on success, 1 when there is no initialised CUDA allocator, 2 on a C++ exception
// (e.g. an invalid device index).
int glcan_memory_cuda_allocated_bytes(
    std::int32_t device, std::int64_t* current, std::int64_t* peak) noexcept {
  try {
    c10::DeviceAllocator* allocator = cuda_allocator();
    if (allocator == nullptr) {
      return 1;
    }
    const auto stats = allocator->getDeviceStats(static_cast<c10::DeviceIndex>(device));
    const auto& bytes = stats.allocated_bytes[static_cast<std::size_t>(
        c10::CachingAllocator::StatType::AGGREGATE)];
    *current = bytes.current;
    *peak = bytes.peak;
    return 0;
  } catch (...) {
    return 2;
  }
}

// Resets the peak statistics of `device` (peak := current). Same return codes as above.
int glcan_memory_reset_cuda_peak(std::int32_t device) noexcept {
  try {
    c10::DeviceAllocator* allocator = cuda_allocator();
    if (allocator == nullptr) {
      return 1;
    }
    allocator->resetPeakStats(static_cast<c10::DeviceIndex>(device));
    return 0;
  } catch (...) {
    return 2;
  }
}

}  // extern "C"
