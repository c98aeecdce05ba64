#include "services/intake/published_log.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace dossiersync::intake {

absl::StatusOr<std::unique_ptr<PublishedLog>> PublishedLog::Open(storage::Database* db,
                                                                 RetentionOptions options) {
  auto log = std::unique_ptr<PublishedLog>(new PublishedLog(db, options));
  auto tx = db->BeginRead();
  if (!tx.ok()) return tx.status();
  auto rows = (*tx)->Query(
      "SELECT kafka_partition, MAX(kafka_offset) FROM published GROUP BY kafka_partition");
  if (!rows.ok()) return rows.status();
  absl::MutexLock l(&log->mu_);
  for (const auto& r : *rows) log->high_[static_cast<int32_t>(r.Int(0))] = r.Int(1);
  return log;
}

absl::StatusOr<int64_t> PublishedLog::MoveBack(storage::Transaction& tx, const std::string& where,
                                               const std::vector<storage::Value>& params) {
  auto moved = tx.Exec(absl::StrCat("INSERT INTO outbox (id, code, event_id, traceparent, payload, "
                                    "created_at_us) SELECT id, code, event_id, traceparent, "
                                    "payload, created_at_us FROM published WHERE ",
                                    where, " ON CONFLICT (id) DO NOTHING"),
                       params);
  if (!moved.ok()) return moved.status();
  auto gone = tx.Exec(absl::StrCat("DELETE FROM published WHERE ", where), params);
  if (!gone.ok()) return gone.status();
  return *moved;
}

absl::StatusOr<RecordResult> PublishedLog::Record(const std::vector<Delivered>& batch) {
  RecordResult result;
  // Which rows to record: a reset found in the middle of the batch leaves that partition's
  // earlier rows (delivered to the log that is gone) in the outbox, to be published again.
  std::vector<const Delivered*> keep;
  std::map<int32_t, int64_t> high;
  {
    absl::MutexLock l(&mu_);
    high = high_;
  }
  for (const Delivered& d : batch) {
    auto it = high.find(d.partition);
    if (it != high.end() && d.offset <= it->second) {
      result.reset_partitions.insert(d.partition);
      std::erase_if(keep, [&](const Delivered* k) { return k->partition == d.partition; });
    }
    high[d.partition] = d.offset;
    keep.push_back(&d);
  }
  auto tx = db_->Begin();
  if (!tx.ok()) return tx.status();
  for (int32_t p : result.reset_partitions) {
    auto n = MoveBack(**tx, "kafka_partition = $1", {static_cast<int64_t>(p)});
    if (!n.ok()) return n.status();
    result.republished += *n;
  }
  const int64_t now_us = absl::ToUnixMicros(absl::Now());
  for (const Delivered* d : keep) {
    if (options_.enabled()) {
      auto ins = (*tx)->Exec(
          "INSERT INTO published (id, code, event_id, traceparent, payload, created_at_us, "
          "published_at_us, kafka_partition, kafka_offset) SELECT id, code, event_id, "
          "traceparent, payload, created_at_us, $2, $3, $4 FROM outbox WHERE id = $1 "
          "ON CONFLICT (id) DO NOTHING",
          {d->id, now_us, static_cast<int64_t>(d->partition), d->offset});
      if (!ins.ok()) return ins.status();
    }
    auto del = (*tx)->Exec("DELETE FROM outbox WHERE id = $1", {d->id});
    if (!del.ok()) return del.status();
  }
  if (absl::Status st = (*tx)->Commit(); !st.ok()) return st;
  result.recorded = static_cast<int64_t>(keep.size());
  absl::MutexLock l(&mu_);
  for (int32_t p : result.reset_partitions) high_.erase(p);
  for (const Delivered* d : keep) {
    int64_t& h = high_[d->partition];
    h = std::max(h, d->offset);
  }
  return result;
}

absl::StatusOr<int64_t> PublishedLog::RepublishPartitions(const std::set<int32_t>& partitions) {
  auto tx = db_->Begin();
  if (!tx.ok()) return tx.status();
  int64_t total = 0;
  for (int32_t p : partitions) {
    auto n = MoveBack(**tx, "kafka_partition = $1", {static_cast<int64_t>(p)});
    if (!n.ok()) return n.status();
    total += *n;
  }
  if (absl::Status st = (*tx)->Commit(); !st.ok()) return st;
  absl::MutexLock l(&mu_);
  for (int32_t p : partitions) high_.erase(p);
  return total;
}

absl::StatusOr<RepublishResult> PublishedLog::Republish(int64_t since_us) {
  RepublishResult result;
  auto tx = db_->Begin();
  if (!tx.ok()) return tx.status();
  auto oldest = (*tx)->QueryOne("SELECT COALESCE(MIN(created_at_us), 0) FROM published");
  if (!oldest.ok()) return oldest.status();
  result.oldest_retained_us = (*oldest)->Int(0);
  auto n = MoveBack(**tx, "created_at_us >= $1", {since_us});
  if (!n.ok()) return n.status();
  result.republished = *n;
  if (absl::Status st = (*tx)->Commit(); !st.ok()) return st;
  return result;
}

absl::StatusOr<int64_t> PublishedLog::Prune(absl::Time now) {
  auto tx = db_->Begin();
  if (!tx.ok()) return tx.status();
  auto old = (*tx)->Exec("DELETE FROM published WHERE published_at_us < $1",
                         {absl::ToUnixMicros(now - options_.keep_for)});
  if (!old.ok()) return old.status();
  int64_t pruned = *old;
  auto edge = (*tx)->QueryOne("SELECT id FROM published ORDER BY id DESC LIMIT 1 OFFSET $1",
                              {options_.keep_max});
  if (!edge.ok()) return edge.status();
  if (edge->has_value()) {
    auto over = (*tx)->Exec("DELETE FROM published WHERE id <= $1", {(*edge)->Int(0)});
    if (!over.ok()) return over.status();
    pruned += *over;
  }
  if (absl::Status st = (*tx)->Commit(); !st.ok()) return st;
  return pruned;
}

std::map<int32_t, int64_t> PublishedLog::HighOffsets() const {
  absl::MutexLock l(&mu_);
  return high_;
}

absl::StatusOr<int64_t> PublishedLog::RetainedRows() {
  auto tx = db_->BeginRead();
  if (!tx.ok()) return tx.status();
  auto row = (*tx)->QueryOne("SELECT COUNT(*) FROM published");
  if (!row.ok()) return row.status();
  return (*row)->Int(0);
}

}  // namespace dossiersync::intake
