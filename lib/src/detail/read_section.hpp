// SPDX-License-Identifier: MIT
// The log path's side of reclamation (offhand/detail/reclaim.hpp): a read
// section around every lock-free read of a handler or filter list.
#pragma once

#include <atomic>
#include <cstdint>

namespace offhand::detail {

// A thread's mark. `count` is odd while the thread is inside a read
// section; only the thread itself writes it (plain stores, no
// read-modify-write), writers read it.
struct ReaderSlot {
  std::atomic<std::uint64_t> count{0};
  bool in_use = false;  // guarded by the registry's mutex
};

struct ReaderState {
  ReaderSlot* slot = nullptr;
  int depth = 0;
  bool shared = false;      // marked on the shared counter (no slot of its own)
  bool asymmetric = false;  // writers issue membarrier(): a compiler barrier suffices here
};
// initial-exec, as the log call's other thread-locals (a log call enters
// and leaves two sections: four accesses), except in an AddressSanitizer
// build: there, with initial-exec on this inline variable, UBSan reports a
// null ReaderState in enter_read_section_slow() (not explained; the code
// generated computes a non-null address), so it keeps the default model.
#if defined(__SANITIZE_ADDRESS__)
inline thread_local ReaderState t_reader{};
#else
[[gnu::tls_model("initial-exec")]] inline thread_local ReaderState t_reader{};
#endif

// The slow path of the first read section of a thread (or of one that
// could not get a slot): defined in reclaim.cpp.
void enter_read_section_slow() noexcept;
void leave_read_section_shared() noexcept;

// Marks the enclosing scope as a read section. Nested sections cost an
// increment of a thread-local depth. No allocation after a thread's first
// section, no atomic read-modify-write.
class ReadSection {
 public:
  ReadSection() noexcept {
    ReaderState& r = t_reader;
    if (r.depth++ != 0) return;
    if (r.slot == nullptr) {
      enter_read_section_slow();
      return;
    }
    r.slot->count.store(r.slot->count.load(std::memory_order_relaxed) + 1,
                        std::memory_order_relaxed);
    // The reader's half of the Dekker pair with wait_for_readers(): the
    // mark before any read of a list. A writer's membarrier() orders it for
    // us when available; a full fence otherwise.
    if (r.asymmetric)
      std::atomic_signal_fence(std::memory_order_seq_cst);
    else
      std::atomic_thread_fence(std::memory_order_seq_cst);
  }
  ~ReadSection() {
    ReaderState& r = t_reader;
    if (--r.depth != 0) return;
    if (r.shared) {
      leave_read_section_shared();
      return;
    }
    // release: our reads of the lists happen before a writer that sees the
    // count move frees them.
    r.slot->count.store(r.slot->count.load(std::memory_order_relaxed) + 1,
                        std::memory_order_release);
  }
  ReadSection(const ReadSection&) = delete;
  ReadSection& operator=(const ReadSection&) = delete;
};

// Whether this thread is inside a read section.
inline bool in_read_section() noexcept { return t_reader.depth > 0; }

}  // namespace offhand::detail
