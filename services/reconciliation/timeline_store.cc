#include "services/reconciliation/timeline_store.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "google/protobuf/util/time_util.h"

namespace dossiersync::reconciliation {
namespace {

using dossiersync::v1::SyncResult;
using google::protobuf::util::TimeUtil;
using storage::Blob;

// Version 1 (Database::ApplyMigrations, component "reconciliation_timeline"). The drift index
// serves the timeline's drift by code (recon_drift belongs to the run store's schema).
constexpr char kSchema[] = R"(
CREATE TABLE IF NOT EXISTS recon_sync_history (
  code TEXT NOT NULL,
  at_us BIGINT NOT NULL,
  revision BIGINT NOT NULL,
  outcome INTEGER NOT NULL,
  result {BLOB} NOT NULL,
  PRIMARY KEY (code, at_us, revision, outcome));
CREATE INDEX IF NOT EXISTS recon_sync_history_by_time ON recon_sync_history (at_us);
CREATE INDEX IF NOT EXISTS recon_drift_by_code ON recon_drift (code)
)";

}  // namespace

absl::StatusOr<std::unique_ptr<TimelineStore>> TimelineStore::Open(storage::Database* db,
                                                                   absl::Duration keep_for) {
  if (auto st = db->ApplyMigrations("reconciliation_timeline", {kSchema}); !st.ok()) return st;
  return std::unique_ptr<TimelineStore>(new TimelineStore(db, keep_for));
}

absl::Status TimelineStore::Record(const std::vector<SyncResult>& results) {
  if (results.empty()) return absl::OkStatus();
  {
    auto tx = db_->Begin();
    if (!tx.ok()) return tx.status();
    for (const SyncResult& r : results) {
      auto n = (*tx)->Exec(
          "INSERT INTO recon_sync_history (code, at_us, revision, outcome, result) VALUES ($1, $2, "
          "$3, $4, $5) ON CONFLICT (code, at_us, revision, outcome) DO NOTHING",
          {r.code(), TimeUtil::TimestampToMicroseconds(r.at()), r.revision(),
           static_cast<int64_t>(r.outcome()), Blob{r.SerializeAsString()}});
      if (!n.ok()) return n.status();
    }
    if (auto st = (*tx)->Commit(); !st.ok()) return st;
  }
  if (keep_for_ <= absl::ZeroDuration()) return absl::OkStatus();
  const absl::Time now = absl::Now();
  {
    absl::MutexLock l(&mu_);
    if (now - last_prune_ < absl::Hours(1)) return absl::OkStatus();
    last_prune_ = now;
  }
  auto pruned = Prune(now - keep_for_);
  if (!pruned.ok()) {
    // The history is still right, only longer: try again in an hour.
    LogWarn("sync history not pruned", {{"error", std::string(pruned.status().message())}});
  } else if (*pruned > 0) {
    LogInfo("sync history pruned", {{"rows", *pruned}});
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> TimelineStore::Prune(absl::Time before) {
  auto tx = db_->Begin();
  if (!tx.ok()) return tx.status();
  auto n =
      (*tx)->Exec("DELETE FROM recon_sync_history WHERE at_us < $1", {absl::ToUnixMicros(before)});
  if (!n.ok()) return n.status();
  if (auto st = (*tx)->Commit(); !st.ok()) return st;
  return *n;
}

absl::StatusOr<std::vector<SyncResult>> TimelineStore::SyncResults(const std::string& code) {
  auto tx = db_->BeginRead();
  if (!tx.ok()) return tx.status();
  auto rows = (*tx)->Query(
      "SELECT result FROM recon_sync_history WHERE code = $1 ORDER BY at_us, revision, outcome",
      {code});
  if (!rows.ok()) return rows.status();
  std::vector<SyncResult> out;
  for (const auto& row : *rows) {
    if (!out.emplace_back().ParseFromString(row.Str(0))) {
      return absl::DataLossError(absl::StrCat("corrupt sync history row for ", code));
    }
  }
  return out;
}

absl::StatusOr<std::vector<DriftFound>> TimelineStore::Drift(const std::string& code) {
  auto tx = db_->BeginRead();
  if (!tx.ok()) return tx.status();
  auto rows = (*tx)->Query(
      "SELECT d.item, r.run FROM recon_drift d JOIN recon_runs r ON r.run_id = d.run_id WHERE "
      "d.code = $1 ORDER BY r.started_at_us, d.kind",
      {code});
  if (!rows.ok()) return rows.status();
  std::vector<DriftFound> out;
  for (const auto& row : *rows) {
    DriftFound& f = out.emplace_back();
    dossiersync::v1::ReconciliationRun run;
    if (!f.item.ParseFromString(row.Str(0)) || !run.ParseFromString(row.Str(1))) {
      return absl::DataLossError(absl::StrCat("corrupt drift or run row for ", code));
    }
    f.run_started_at = absl::FromUnixMicros(TimeUtil::TimestampToMicroseconds(run.started_at()));
    f.trigger = run.trigger();
  }
  return out;
}

absl::StatusOr<std::optional<DossierCheck>> TimelineStore::LatestCheck(const std::string& code) {
  auto tx = db_->BeginRead();
  if (!tx.ok()) return tx.status();
  auto row = (*tx)->QueryOne(
      "SELECT agency_code, revision, checked_at_us, run_id, in_sync, present, national FROM "
      "recon_dossier_state WHERE code = $1",
      {code});
  if (!row.ok()) return row.status();
  if (!row->has_value()) return std::optional<DossierCheck>();
  const storage::Row& r = **row;
  DossierCheck c;
  c.code = code;
  c.agency_code = r.Str(0);
  c.revision = r.Int(1);
  c.checked_at = absl::FromUnixMicros(r.Int(2));
  c.run_id = r.Str(3);
  c.in_sync = r.Int(4) != 0;
  if (r.Int(5) != 0) {
    c.national.emplace();
    if (!r.Str(6).empty() && !c.national->ParseFromString(r.Str(6))) {
      return absl::DataLossError(absl::StrCat("corrupt national snapshot row for ", code));
    }
  }
  return std::optional<DossierCheck>(std::move(c));
}

}  // namespace dossiersync::reconciliation
