// The published log: outbox rows Kafka acknowledged, kept for a retention window (by age and by
// count, so storage stays bounded) with the partition and offset each landed at. It is what makes
// a lost topic heal from intake's side:
//   - A topic reset or truncated below what intake delivered (the devbroker restarted empty, a
//     topic deleted and created again) shows as a delivery at an offset not above one already
//     delivered on that partition, or as a partition whose high watermark is not above it. The
//     rows of that partition go back to the outbox and are published again, in their order.
//   - An operator republishes every change accepted since a time (`dossierctl republish`).
// A republished row keeps its event-id and payload: the sync's ledger recognises what it already
// pushed, so a repeat costs a message, never a second call to DVCQG.
//
// Thread safety: thread-safe. Record and Prune run on the relay thread; Republish on a gRPC
// reader. Each is one database transaction.
#ifndef DOSSIERSYNC_SERVICES_INTAKE_PUBLISHED_LOG_H_
#define DOSSIERSYNC_SERVICES_INTAKE_PUBLISHED_LOG_H_

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/storage/database.h"

namespace dossiersync::intake {

struct RetentionOptions {
  absl::Duration keep_for = absl::Hours(24);  // 0: published rows are deleted at once
  int64_t keep_max = 1000000;                 // rows; 0: published rows are deleted at once
  bool enabled() const { return keep_for > absl::ZeroDuration() && keep_max > 0; }
};

// One outbox row acknowledged by Kafka.
struct Delivered {
  int64_t id = 0;
  int32_t partition = -1;
  int64_t offset = -1;
};

struct RecordResult {
  int64_t recorded = 0;                // rows of the batch moved out of the outbox
  std::set<int32_t> reset_partitions;  // found reset by this batch
  int64_t republished = 0;             // rows moved back to the outbox for them
};

struct RepublishResult {
  int64_t republished = 0;
  int64_t oldest_retained_us = 0;  // created_at of the oldest row still retained (0: none)
};

class PublishedLog {
 public:
  // Reads the highest delivered offset of every partition still in the log. The intake schema
  // (IntakeStore::Open) must exist.
  static absl::StatusOr<std::unique_ptr<PublishedLog>> Open(storage::Database* db,
                                                            RetentionOptions options);

  // In one transaction: moves the delivered rows out of the outbox (into the log, or deleted when
  // retention is off). A delivery at an offset not above the highest recorded for its partition
  // means the partition was reset: that partition's earlier rows go back to the outbox first.
  absl::StatusOr<RecordResult> Record(const std::vector<Delivered>& batch);
  // Partitions that were reset although nothing new was delivered to them: the rows delivered to
  // `partitions` go back to the outbox. Returns how many.
  absl::StatusOr<int64_t> RepublishPartitions(const std::set<int32_t>& partitions);
  // Every retained change accepted at or after `since_us` back to the outbox.
  absl::StatusOr<RepublishResult> Republish(int64_t since_us);
  // Deletes rows past the retention window; returns how many.
  absl::StatusOr<int64_t> Prune(absl::Time now);
  // The highest offset delivered on each partition (of rows still retained or delivered since
  // start).
  std::map<int32_t, int64_t> HighOffsets() const;
  absl::StatusOr<int64_t> RetainedRows();

 private:
  PublishedLog(storage::Database* db, RetentionOptions options) : db_(db), options_(options) {}
  // Moves the rows `where` selects from the log back to the outbox.
  static absl::StatusOr<int64_t> MoveBack(storage::Transaction& tx, const std::string& where,
                                          const std::vector<storage::Value>& params);

  storage::Database* db_;
  const RetentionOptions options_;
  mutable absl::Mutex mu_;
  std::map<int32_t, int64_t> high_ ABSL_GUARDED_BY(mu_);
};

}  // namespace dossiersync::intake

#endif  // DOSSIERSYNC_SERVICES_INTAKE_PUBLISHED_LOG_H_
