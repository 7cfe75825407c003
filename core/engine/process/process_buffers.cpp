// Borrowed buffers of process contexts, the host side. An attached buffer
// crosses into the child as a block of the shared arena
// (core/base/shared_arena.h): library memory from the arena as it is, any
// other memory copied into a block once (and back, if writable, when the
// child lets go). The host keeps a reference to each buffer until the child
// reports that its last view is gone (buffer_done), or the child ends: the
// finalizer never runs while Python in the child can still see the memory.
#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "core/engine/context.h"
#include "core/engine/process/process_control.h"
#include "core/engine/process/process_executor.h"
#include "core/engine/process/wire.h"

namespace pyctx::core {

namespace {

// A buffer result the host holds: a block of the child's result arena,
// mapped here. Letting go of it unmaps it and, if that child still runs,
// tells it to free the block (a dead child's arena went with it; the
// mapping kept its pages until now).
struct ResultLoan {
    std::weak_ptr<Context> ctx;
    uint32_t generation;
    uint64_t offset, mapped;
    void *map;
};

void end_result_loan(void *user_data) {
    auto *loan = static_cast<ResultLoan *>(user_data);
    munmap(loan->map, loan->mapped);
    if (std::shared_ptr<Context> ctx = loan->ctx.lock()) {
        auto *free_block = new ProcessControl(ProcessControl::Op::free_block, loan->offset);
        free_block->block_size = loan->mapped;
        free_block->generation = loan->generation;
        ctx->lane().post_control(RequestRef(free_block));
    }
    delete loan;
}

}  // namespace

void ProcessExecutor::map_result_locked(const wire::BlockDesc &d, Outcome *out) {
    void *p = child_results_fd_ < 0 ? MAP_FAILED
                                    : mmap(nullptr, d.mapped, PROT_READ, MAP_SHARED,
                                           child_results_fd_, static_cast<off_t>(d.offset));
    if (p == MAP_FAILED) {
        out->error = Error(Status::no_memory, std::string("mapping a buffer result of context '") +
                                                  ctx_.name() + "': " + std::strerror(errno));
        return;
    }
    auto *loan = new ResultLoan{ctx_.weak_from_this(), generation_.load(std::memory_order_relaxed),
                                d.offset, d.mapped, p};
    Buffer *b = Buffer::lend(p, d.len, false, end_result_loan, loan);
    Error e = b->set_format(d.format);
    if (e.ok()) e = b->set_shape(static_cast<int>(d.shape.size()), d.shape.data(), d.strides.data());
    b->freeze();
    if (!e.ok()) {
        out->error = Error(Status::internal, "the child described its buffer result wrongly: " +
                                                 e.message);
        b->release();  // unmapped, and freed in the child
        return;
    }
    out->buffer = BufferRef(b);
}

bool ProcessExecutor::lend_buffers_locked(Request *r, wire::Writer &w, Error *refuse) {
    const size_t n = r->buffers.size();
    w.u32(static_cast<uint32_t>(n));
    if (n == 0) return true;
    SharedArena *arena = SharedArena::get();
    if (!arena) {
        *refuse = Error(Status::unsupported,
                        "borrowed buffers cross into process contexts through shared memory "
                        "(memfd), which this system does not provide (context '" + ctx_.name() + "')");
        return false;
    }
    std::vector<std::pair<uint32_t, LentToChild>> lent;
    lent.reserve(n);
    for (size_t i = 0; i < n; ++i) {
        size_t count = 0;
        BufferRef b(r->buffers.get(i, &count));
        if (!b) break;  // cleared meanwhile (completed): nothing to lend
        LentToChild loan;
        SharedArena::Block block = b.get()->arena_block();
        if (!block) {
            // Not shared memory: one copy into the arena.
            loan.copy = arena->allocate(b.get()->size());
            if (!loan.copy) {
                for (auto &[index, l] : lent) arena->free(l.copy);
                *refuse = Error(Status::no_memory, "out of shared memory for a buffer of " +
                                                       std::to_string(b.get()->size()) + " bytes");
                return false;
            }
            std::memcpy(loan.copy.data, b.get()->data(), b.get()->size());
            block = loan.copy;
        }
        const BufferLayout &layout = b.get()->layout();
        wire::write_block(w, wire::BlockDesc{block.offset, block.size, b.get()->size(),
                                             !b.get()->readonly(), layout.format, layout.shape,
                                             layout.strides});
        loan.buffer = std::move(b);
        lent.emplace_back(static_cast<uint32_t>(i), std::move(loan));
    }
    {
        std::lock_guard lock(lent_mu_);
        for (auto &[index, loan] : lent) lent_.emplace(std::make_pair(r->id, index), std::move(loan));
    }
    BufferLedger &ledger = *ctx_.buffers();
    ledger.lent_views.fetch_add(lent.size(), std::memory_order_acq_rel);
    ledger.lent_total.fetch_add(lent.size(), std::memory_order_relaxed);
    return true;
}

void ProcessExecutor::unlend(uint64_t id) {
    std::vector<LentToChild> gone;
    {
        std::lock_guard lock(lent_mu_);
        auto it = lent_.lower_bound(std::make_pair(id, uint32_t{0}));
        while (it != lent_.end() && it->first.first == id) {
            gone.push_back(std::move(it->second));
            it = lent_.erase(it);
        }
    }
    end_loans(gone, false);
}

void ProcessExecutor::buffer_done(uint64_t id, uint32_t index) {
    std::vector<LentToChild> gone;
    {
        std::lock_guard lock(lent_mu_);
        auto it = lent_.find(std::make_pair(id, index));
        if (it == lent_.end()) return;
        gone.push_back(std::move(it->second));
        lent_.erase(it);
    }
    end_loans(gone, true);
}

void ProcessExecutor::child_let_go_of_buffers() {
    std::vector<LentToChild> gone;
    {
        std::lock_guard lock(lent_mu_);
        for (auto &[key, loan] : lent_) gone.push_back(std::move(loan));
        lent_.clear();
    }
    // What the child wrote before it ended is in the arena still.
    end_loans(gone, true);
}

void ProcessExecutor::end_loans(std::vector<LentToChild> &loans, bool copy_back) {
    if (loans.empty()) return;
    // Counted first: whoever sees a finalizer run sees the count without it.
    ctx_.buffers()->lent_views.fetch_sub(loans.size(), std::memory_order_acq_rel);
    for (LentToChild &loan : loans) {
        Buffer *b = loan.buffer.get();
        if (loan.copy) {
            if (copy_back && !b->readonly()) std::memcpy(b->data(), loan.copy.data, b->size());
            SharedArena::get()->free(loan.copy);
        }
        loan.buffer = BufferRef();  // may run the host's finalizer, here
    }
}

}  // namespace pyctx::core
