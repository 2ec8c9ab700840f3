// torch's c10d (the engine under torch.distributed) for glcan_core::c10d: a TCPStore for the
// rendezvous and a ProcessGroupGloo for tensors between processes on CPU, both from the
// libtorch we link (libtorch_cpu carries their code; gloo's headers only declare types).
//
// Every call waits for its work with the group's timeout, so a peer that died or never came
// ends in an error, not a hang. Every C++ exception is caught and its message copied into
// the caller's buffer: none may unwind into Rust.

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

namespace {

struct Group {
    c10::intrusive_ptr<c10d::TCPStore> store;
    c10::intrusive_ptr<c10d::ProcessGroupGloo> group;
    std::chrono::milliseconds timeout;
};

void copy_message(const char* message, char* error, std::size_t error_len) {
    if (error == nullptr || error_len == 0) {
        return;
    }
    std::strncpy(error, message, error_len - 1);
    error[error_len - 1] = '\0';
}

// Runs `body`; on an exception copies its message (c10's without the C++ backtrace) and
// returns -1.
template <typename Body>
int guarded(char* error, std::size_t error_len, Body body) {
    try {
        body();
        return 0;
    } catch (const c10::Error& e) {
        copy_message(e.what_without_backtrace(), error, error_len);
    } catch (const std::exception& e) {
        copy_message(e.what(), error, error_len);
    } catch (...) {
        copy_message("unknown C++ exception", error, error_len);
    }
    return -1;
}

}  // namespace

extern "C" {

// Joins the group of `world_size` ranks whose store rank 0 serves on host:port. Returns the
// group, or null with the reason in `error`.
void* glcan_c10d_connect(const char* host, int port, int rank, int world_size, long long timeout_ms, char* error,
                         std::size_t error_len) {
    Group* made = nullptr;
    guarded(error, error_len, [&] {
        auto timeout = std::chrono::milliseconds(timeout_ms);
        c10d::TCPStoreOptions options;
        options.port = static_cast<std::uint16_t>(port);
        options.isServer = rank == 0;
        options.numWorkers = world_size;
        options.waitWorkers = true;
        options.timeout = timeout;
        auto store = c10::make_intrusive<c10d::TCPStore>(std::string(host), options);
        auto group = c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, world_size,
                                                                 c10d::ProcessGroupGloo::Options::create_default(timeout));
        made = new Group{store, group, timeout};
    });
    return made;
}

void glcan_c10d_free(void* group) { delete static_cast<Group*>(group); }

int glcan_c10d_send(void* group, at::Tensor* tensor, int dst, int tag, char* error, std::size_t error_len) {
    return guarded(error, error_len, [&] {
        auto* g = static_cast<Group*>(group);
        std::vector<at::Tensor> tensors{*tensor};
        g->group->send(tensors, dst, tag)->wait(g->timeout);
    });
}

int glcan_c10d_recv(void* group, at::Tensor* tensor, int src, int tag, char* error, std::size_t error_len) {
    return guarded(error, error_len, [&] {
        auto* g = static_cast<Group*>(group);
        std::vector<at::Tensor> tensors{*tensor};
        g->group->recv(tensors, src, tag)->wait(g->timeout);
    });
}

// Sums each of the `n` tensors (one dtype, contiguous) over all ranks, in place. Gloo's
// allreduce takes one tensor per device, not a list of different shapes, so the tensors
// travel as one flat buffer (as DDP's buckets do) and are copied back.
int glcan_c10d_all_reduce_sum(void* group, at::Tensor* const* tensors, std::size_t n, char* error, std::size_t error_len) {
    return guarded(error, error_len, [&] {
        if (n == 0) {
            return;
        }
        auto* g = static_cast<Group*>(group);
        std::vector<at::Tensor> flat_parts;
        for (std::size_t i = 0; i < n; ++i) {
            flat_parts.push_back(tensors[i]->reshape({-1}));
        }
        std::vector<at::Tensor> buffer{n == 1 ? flat_parts[0] : at::cat(flat_parts)};
        c10d::AllreduceOptions options;
        options.reduceOp = c10d::ReduceOp::SUM;
        options.timeout = g->timeout;
        g->group->allreduce(buffer, options)->wait(g->timeout);
        if (n > 1) {
            c10::NoGradGuard no_grad;
            std::int64_t offset = 0;
            for (auto& part : flat_parts) {
                part.copy_(buffer[0].narrow(0, offset, part.numel()));
                offset += part.numel();
            }
        }
    });
}

int glcan_c10d_barrier(void* group, char* error, std::size_t error_len) {
    return guarded(error, error_len, [&] {
        auto* g = static_cast<Group*>(group);
        c10d::BarrierOptions options;
        options.timeout = g->timeout;
        g->group->barrier(options)->wait(g->timeout);
    });
}

}  // extern "C"
