// Where the sync stands on dossiersync.dossier-changes.v1, read from Kafka itself: per partition,
// whether the sync's consumer group (--sync_group, default "dossier-sync") has committed offsets
// below the partition's end, i.e. has changes there it has not finished (the sync commits only
// after DVCQG accepted or the dead-letter topic holds the change). A scheduled reconciliation run
// leaves a dossier the sync has reported nothing for at its revision "in flight" only when the
// dossier's partition (intake's key partitioner: murmur2 of the code) is behind; a global time
// frontier was not enough (partitions progress unevenly: during a backfill one partition's newest
// push moved the frontier past changes still queued on the others, and 24,823 of them were called
// missing nationally).
//
// Thread safety: thread-safe (a mutex around the Kafka handle).
#ifndef DOSSIERSYNC_SERVICES_RECONCILIATION_SYNC_PROGRESS_H_
#define DOSSIERSYNC_SERVICES_RECONCILIATION_SYNC_PROGRESS_H_

#include <librdkafka/rdkafka.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace dossiersync::reconciliation {

class SyncProgress {
 public:
  // A handle with the sync's group id that never joins the group (it only reads its offsets).
  static absl::StatusOr<std::unique_ptr<SyncProgress>> Create(const std::string& brokers,
                                                              const std::string& sync_group,
                                                              const std::string& topic);
  ~SyncProgress();

  // Per partition of the topic (index = partition): the sync has unfinished changes there. A
  // partition without a committed offset is behind when it holds any message.
  absl::StatusOr<std::vector<bool>> Behind(absl::Duration timeout = absl::Seconds(5));

  // The partition intake's producer (partitioner murmur2_random) gives `code` among `partitions`.
  static int32_t PartitionOf(const std::string& code, int32_t partitions);

 private:
  SyncProgress() = default;
  std::string topic_;
  absl::Mutex mu_;
  rd_kafka_t* rk_ ABSL_GUARDED_BY(mu_) = nullptr;
};

}  // namespace dossiersync::reconciliation

#endif  // DOSSIERSYNC_SERVICES_RECONCILIATION_SYNC_PROGRESS_H_
