// Per-partition offset tracking for at-least-once consumption with out-of-order completion:
// a partition's committable offset is its lowest offset still in progress (or one past the
// highest seen when nothing is in progress), so a commit never skips unfinished work.
//
// Thread safety: thread-safe.
#ifndef DOSSIERSYNC_SERVICES_SYNC_OFFSETS_H_
#define DOSSIERSYNC_SERVICES_SYNC_OFFSETS_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/kafka.h"  // TopicPartition

namespace dossiersync::sync {

class OffsetTracker {
 public:
  void Add(const TopicPartition& tp, int64_t offset) {
    absl::MutexLock l(&mu_);
    auto& p = parts_[tp];
    p.outstanding.insert(offset);
    p.next = std::max(p.next, offset + 1);
  }
  void Done(const TopicPartition& tp, int64_t offset) {
    absl::MutexLock l(&mu_);
    auto it = parts_.find(tp);
    if (it != parts_.end()) it->second.outstanding.erase(offset);
  }
  // Offsets to commit now (changed since the last call), as (partition, offset) pairs.
  std::vector<std::pair<TopicPartition, int64_t>> TakeCommittable() {
    absl::MutexLock l(&mu_);
    std::vector<std::pair<TopicPartition, int64_t>> out;
    for (auto& [tp, p] : parts_) {
      int64_t c = p.outstanding.empty() ? p.next : *p.outstanding.begin();
      if (c > p.committed) {
        out.push_back({tp, c});
        p.committed = c;
      }
    }
    return out;
  }
  void Remove(const TopicPartition& tp) {
    absl::MutexLock l(&mu_);
    parts_.erase(tp);
  }
  size_t Outstanding() const {
    absl::MutexLock l(&mu_);
    size_t n = 0;
    for (const auto& [tp, p] : parts_) n += p.outstanding.size();
    return n;
  }

 private:
  struct Part {
    std::set<int64_t> outstanding;
    int64_t next = 0;
    int64_t committed = -1;
  };
  mutable absl::Mutex mu_;
  std::map<TopicPartition, Part> parts_ ABSL_GUARDED_BY(mu_);
};

}  // namespace dossiersync::sync

#endif  // DOSSIERSYNC_SERVICES_SYNC_OFFSETS_H_
