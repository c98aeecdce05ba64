#include "services/reconciliation/run_store.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/storage/schema.h"
#include "google/protobuf/util/time_util.h"

namespace dossiersync::reconciliation {
namespace {

using dossiersync::v1::DriftItem;
using dossiersync::v1::ReconciliationRun;
using storage::Blob;

constexpr char kSchema[] = R"(
CREATE TABLE IF NOT EXISTS recon_runs (
  run_id TEXT PRIMARY KEY,
  started_at_us BIGINT NOT NULL,
  state TEXT NOT NULL,
  run {BLOB} NOT NULL);
CREATE TABLE IF NOT EXISTS recon_drift (
  run_id TEXT NOT NULL,
  code TEXT NOT NULL,
  kind INTEGER NOT NULL,
  repair_requested INTEGER NOT NULL,
  item {BLOB} NOT NULL);
CREATE INDEX IF NOT EXISTS recon_drift_by_run ON recon_drift (run_id, kind);
CREATE TABLE IF NOT EXISTS recon_lease (
  name TEXT PRIMARY KEY,
  holder TEXT NOT NULL,
  expires_at_us BIGINT NOT NULL)
)";

}  // namespace

absl::StatusOr<std::unique_ptr<RunStore>> RunStore::Open(storage::Database* db) {
  if (auto st = db->Migrate(storage::PortableDdl(db->dialect(), kSchema)); !st.ok()) return st;
  return std::unique_ptr<RunStore>(new RunStore(db));
}

absl::StatusOr<bool> RunStore::AcquireLease(const std::string& name, const std::string& holder,
                                            absl::Duration ttl) {
  auto tx = db_->Begin();
  if (!tx.ok()) return tx.status();
  int64_t now = absl::ToUnixMicros(absl::Now());
  int64_t until = absl::ToUnixMicros(absl::Now() + ttl);
  auto ins = (*tx)->Exec(
      "INSERT INTO recon_lease (name, holder, expires_at_us) VALUES ($1, $2, $3) "
      "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at_us = "
      "excluded.expires_at_us WHERE recon_lease.holder = excluded.holder OR "
      "recon_lease.expires_at_us < $4",
      {name, holder, until, now});
  if (!ins.ok()) return ins.status();
  auto row = (*tx)->QueryOne("SELECT holder FROM recon_lease WHERE name = $1", {name});
  if (!row.ok()) return row.status();
  if (auto st = (*tx)->Commit(); !st.ok()) return st;
  return row->has_value() && (*row)->Str(0) == holder;
}

absl::Status RunStore::ReleaseLease(const std::string& name, const std::string& holder) {
  auto tx = db_->Begin();
  if (!tx.ok()) return tx.status();
  auto r = (*tx)->Exec("DELETE FROM recon_lease WHERE name = $1 AND holder = $2", {name, holder});
  if (!r.ok()) return r.status();
  return (*tx)->Commit();
}

absl::Status RunStore::SaveRun(const ReconciliationRun& run) {
  auto tx = db_->Begin();
  if (!tx.ok()) return tx.status();
  auto r = (*tx)->Exec(
      "INSERT INTO recon_runs (run_id, started_at_us, state, run) VALUES ($1, $2, $3, $4) "
      "ON CONFLICT (run_id) DO UPDATE SET state = excluded.state, run = excluded.run",
      {run.run_id(), google::protobuf::util::TimeUtil::TimestampToMicroseconds(run.started_at()),
       run.state(), Blob{run.SerializeAsString()}});
  if (!r.ok()) return r.status();
  return (*tx)->Commit();
}

absl::StatusOr<std::optional<ReconciliationRun>> RunStore::GetRun(const std::string& id) {
  auto tx = db_->BeginRead();
  if (!tx.ok()) return tx.status();
  auto row = (*tx)->QueryOne("SELECT run FROM recon_runs WHERE run_id = $1", {id});
  if (!row.ok()) return row.status();
  if (!row->has_value()) return std::optional<ReconciliationRun>();
  ReconciliationRun run;
  if (!run.ParseFromString((*row)->Str(0))) return absl::DataLossError("corrupt run row");
  return std::optional<ReconciliationRun>(std::move(run));
}

absl::StatusOr<std::optional<ReconciliationRun>> RunStore::LatestFinished() {
  auto tx = db_->BeginRead();
  if (!tx.ok()) return tx.status();
  auto row = (*tx)->QueryOne(
      "SELECT run FROM recon_runs WHERE state = 'FINISHED' ORDER BY started_at_us DESC LIMIT 1");
  if (!row.ok()) return row.status();
  if (!row->has_value()) return std::optional<ReconciliationRun>();
  ReconciliationRun run;
  if (!run.ParseFromString((*row)->Str(0))) return absl::DataLossError("corrupt run row");
  return std::optional<ReconciliationRun>(std::move(run));
}

absl::Status RunStore::AddDrift(const DriftItem& item) {
  auto tx = db_->Begin();
  if (!tx.ok()) return tx.status();
  auto r = (*tx)->Exec(
      "INSERT INTO recon_drift (run_id, code, kind, repair_requested, item) VALUES ($1, $2, $3, "
      "$4, $5)",
      {item.run_id(), item.code(), static_cast<int64_t>(item.kind()),
       int64_t{item.repair_requested()}, Blob{item.SerializeAsString()}});
  if (!r.ok()) return r.status();
  return (*tx)->Commit();
}

absl::StatusOr<std::vector<DriftItem>> RunStore::Drift(const std::string& run_id, int kind) {
  auto tx = db_->BeginRead();
  if (!tx.ok()) return tx.status();
  auto rows = kind == 0
                  ? (*tx)->Query("SELECT item FROM recon_drift WHERE run_id = $1", {run_id})
                  : (*tx)->Query("SELECT item FROM recon_drift WHERE run_id = $1 AND kind = $2",
                                 {run_id, static_cast<int64_t>(kind)});
  if (!rows.ok()) return rows.status();
  std::vector<DriftItem> out;
  for (const auto& r : *rows) {
    DriftItem d;
    if (!d.ParseFromString(r.Str(0))) return absl::DataLossError("corrupt drift row");
    out.push_back(std::move(d));
  }
  return out;
}

absl::StatusOr<std::set<std::string>> RunStore::RepairedBefore(const std::string& run_id) {
  auto tx = db_->BeginRead();
  if (!tx.ok()) return tx.status();
  auto prev = (*tx)->QueryOne(
      "SELECT run_id FROM recon_runs WHERE run_id <> $1 AND state = 'FINISHED' ORDER BY "
      "started_at_us DESC LIMIT 1",
      {run_id});
  if (!prev.ok()) return prev.status();
  std::set<std::string> out;
  if (!prev->has_value()) return out;
  auto rows = (*tx)->Query(
      "SELECT DISTINCT code FROM recon_drift WHERE run_id = $1 AND repair_requested = 1",
      {(*prev)->Str(0)});
  if (!rows.ok()) return rows.status();
  for (const auto& r : *rows) out.insert(r.Str(0));
  return out;
}

}  // namespace dossiersync::reconciliation
