// The scheduler of per-dossier work: per dossier a queue of pending changes, taken as a whole by
// one worker at a time (strict order per dossier, many dossiers at once: one slow dossier holds
// up no other). A dossier taken is `active` until Done or Retry; changes arriving meanwhile wait
// behind it. Retry puts the taken changes back at the front, before anything newer, and the
// dossier becomes ready again at the time given (a timer). Done hands each change's Kafka offset
// to `on_done`, in the order they arrived. Work of partitions being released is dropped (their
// next owner reads it again).
//
// Thread safety: none of its own. The engine keeps it under its lock, whose conditions wait on
// the scheduler's state (HasReady, Idle); `on_done` runs under that lock.
#ifndef DOSSIERSYNC_SERVICES_SYNC_SCHEDULER_H_
#define DOSSIERSYNC_SERVICES_SYNC_SCHEDULER_H_

#include <deque>
#include <functional>
#include <optional>
#include <queue>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "dossiersync/v1/events.pb.h"
#include "services/sync/offsets.h"

namespace dossiersync::sync {

// One unit of work: a change from Kafka (or a resync / replay) and where it came from.
struct Work {
  dossiersync::v1::DossierChange change;
  TopicPartition tp;  // empty topic: not from Kafka (replay)
  int64_t offset = -1;
  bool force = false;       // push the snapshot even if DVCQG has this revision (resync)
  std::string traceparent;  // the message's: logs about it and what is produced carry its trace
};

// A dossier taken by a worker with all its pending work.
struct Taken {
  std::string code;
  std::vector<Work> works;
  absl::Time taken_at;  // the attempt's start
};

class Scheduler {
 public:
  using DoneFn = std::function<void(const TopicPartition&, int64_t offset)>;
  explicit Scheduler(DoneFn on_done) : on_done_(std::move(on_done)) {}

  // False (and dropped) when its partition is being released.
  bool Enqueue(Work w, absl::Time now);
  // Up to `limit` ready dossiers (timers due by `now` become ready first), each marked active. A
  // dossier in `alone` (may be null) is taken in a batch of its own.
  std::vector<Taken> Take(size_t limit, absl::Time now,
                          const std::set<std::string>* alone = nullptr);
  bool HasReady() const { return !ready_.empty(); }
  // When the earliest timer is due, if any.
  std::optional<absl::Time> NextTimer() const;

  // The attempt succeeded: its offsets go to on_done; the dossier's failures are forgotten.
  void Done(Taken& t, absl::Time now);
  // The attempt failed: its work goes back to the front, ready again at `not_before`.
  void Retry(Taken& t, absl::Time not_before, absl::Time now);
  // Failed attempts in a row of `code` (0 when unknown).
  int Failures(const std::string& code) const;

  // Rebalance: Revoke, wait until Idle, then Drop (removes their queued work, ends the revoke).
  void Revoke(const std::set<TopicPartition>& tps);
  bool Idle(const std::set<TopicPartition>& tps) const;
  void Drop(const std::set<TopicPartition>& tps);

  size_t pending() const { return pending_; }
  // True while the dossier has queued or active work; `retrying` if its last attempt failed.
  bool Busy(const std::string& code, bool* retrying) const;

 private:
  struct Queue {
    std::deque<Work> pending;
    bool active = false;
    bool queued = false;  // in ready_ or in the timer heap
    absl::Time not_before = absl::InfinitePast();
    int failures = 0;
  };
  void MakeReady(const std::string& code, Queue& q, absl::Time now);
  // The end of an attempt, either way: the dossier is no longer active.
  Queue& Release(Taken& t);
  void Forget(const std::string& code, Queue& q, absl::Time now);

  DoneFn on_done_;
  absl::flat_hash_map<std::string, Queue> queues_;
  std::deque<std::string> ready_;
  std::priority_queue<std::pair<absl::Time, std::string>,
                      std::vector<std::pair<absl::Time, std::string>>, std::greater<>>
      timers_;
  size_t pending_ = 0;
  std::multiset<TopicPartition> active_tps_;
  std::set<TopicPartition> revoked_;
};

}  // namespace dossiersync::sync

#endif  // DOSSIERSYNC_SERVICES_SYNC_SCHEDULER_H_
