#include "services/reconciliation/run_store.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/storage/schema.h"
#include "google/protobuf/util/time_util.h"
#include "services/reconciliation/kpi_store.h"

namespace dossiersync::reconciliation {
namespace {

using dossiersync::v1::DriftItem;
using dossiersync::v1::ReconciliationRun;
using storage::Blob;

constexpr char kComponent[] = "reconciliation";
// Version 1 of the schema (Database::ApplyMigrations); later changes are appended as versions.
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
CREATE TABLE IF NOT EXISTS recon_repairs (
  code TEXT PRIMARY KEY,
  run_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS recon_sync_lag (
  code TEXT NOT NULL,
  revision BIGINT NOT NULL,
  agency_code TEXT NOT NULL,
  accepted_at_us BIGINT NOT NULL,
  lag_us BIGINT NOT NULL,
  PRIMARY KEY (code, revision));
CREATE INDEX IF NOT EXISTS recon_sync_lag_by_time ON recon_sync_lag (accepted_at_us);
CREATE TABLE IF NOT EXISTS recon_last_sync (
  code TEXT PRIMARY KEY,
  revision BIGINT NOT NULL,
  outcome INTEGER NOT NULL,
  at_us BIGINT NOT NULL,
  error TEXT NOT NULL)
)";

// Version 2: the latest check of each provincial dossier (its evidence outlives the run that made
// it, so a run over a few codes does not change what is known of the others). `national` holds
// the DVCQG snapshot seen when it differed from the province (empty: equal, or absent when
// `present` is 0).
constexpr char kSchemaV2[] = R"(
CREATE TABLE IF NOT EXISTS recon_dossier_state (
  code TEXT PRIMARY KEY,
  agency_code TEXT NOT NULL,
  revision BIGINT NOT NULL,
  checked_at_us BIGINT NOT NULL,
  run_id TEXT NOT NULL,
  in_sync INTEGER NOT NULL,
  present INTEGER NOT NULL,
  national {BLOB} NOT NULL);
CREATE INDEX IF NOT EXISTS recon_dossier_state_by_agency ON recon_dossier_state (agency_code)
)";

ReconciliationRun ParseRun(const storage::Row& row, absl::Status* st) {
  ReconciliationRun run;
  if (!run.ParseFromString(row.Str(0))) *st = absl::DataLossError("corrupt run row");
  return run;
}

}  // namespace

absl::StatusOr<std::unique_ptr<RunStore>> RunStore::Open(storage::Database* db) {
  if (auto st = db->ApplyMigrations(kComponent, {kSchema, kSchemaV2}); !st.ok()) return st;
  if (auto st = KpiStore::Migrate(db); !st.ok()) return st;
  auto leases = storage::Leases::Open(db);
  if (!leases.ok()) return leases.status();
  auto store = std::unique_ptr<RunStore>(new RunStore(db));
  store->leases_ = std::move(*leases);
  return store;
}

absl::StatusOr<bool> RunStore::AcquireLease(const std::string& name, const std::string& holder,
                                            absl::Duration ttl) {
  return leases_->Acquire(name, holder, ttl);
}

absl::Status RunStore::ReleaseLease(const std::string& name, const std::string& holder) {
  return leases_->Release(name, holder);
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

absl::StatusOr<std::vector<ReconciliationRun>> RunStore::Runs(int limit) {
  auto tx = db_->BeginRead();
  if (!tx.ok()) return tx.status();
  auto rows = (*tx)->Query("SELECT run FROM recon_runs ORDER BY started_at_us DESC LIMIT $1",
                           {static_cast<int64_t>(limit)});
  if (!rows.ok()) return rows.status();
  std::vector<ReconciliationRun> out;
  for (const auto& r : *rows) {
    if (!out.emplace_back().ParseFromString(r.Str(0))) {
      return absl::DataLossError("corrupt run row");
    }
  }
  return out;
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

absl::StatusOr<std::map<std::string, std::string>> RunStore::PendingRepairs() {
  auto tx = db_->BeginRead();
  if (!tx.ok()) return tx.status();
  auto rows = (*tx)->Query("SELECT code, run_id FROM recon_repairs");
  if (!rows.ok()) return rows.status();
  std::map<std::string, std::string> out;
  for (const auto& r : *rows) out[r.Str(0)] = r.Str(1);
  return out;
}

absl::Status RunStore::SetRepair(const std::string& code, const std::string& run_id) {
  auto tx = db_->Begin();
  if (!tx.ok()) return tx.status();
  auto r = run_id.empty()
               ? (*tx)->Exec("DELETE FROM recon_repairs WHERE code = $1", {code})
               : (*tx)->Exec(
                     "INSERT INTO recon_repairs (code, run_id) VALUES ($1, $2) ON CONFLICT (code) "
                     "DO UPDATE SET run_id = excluded.run_id",
                     {code, run_id});
  if (!r.ok()) return r.status();
  return (*tx)->Commit();
}

absl::StatusOr<int> RunStore::MarkInterrupted(const std::string& holder) {
  auto tx = db_->Begin();
  if (!tx.ok()) return tx.status();
  auto rows = (*tx)->Query("SELECT run FROM recon_runs WHERE state = 'RUNNING'");
  if (!rows.ok()) return rows.status();
  int n = 0;
  for (const auto& row : *rows) {
    absl::Status st;
    ReconciliationRun run = ParseRun(row, &st);
    if (!st.ok()) return st;
    if (!holder.empty() && run.holder() != holder) continue;
    run.set_state("INTERRUPTED");
    auto r = (*tx)->Exec("UPDATE recon_runs SET state = $2, run = $3 WHERE run_id = $1",
                         {run.run_id(), run.state(), Blob{run.SerializeAsString()}});
    if (!r.ok()) return r.status();
    ++n;
  }
  if (auto st = (*tx)->Commit(); !st.ok()) return st;
  return n;
}

absl::Status RunStore::RecordSyncResults(const std::vector<dossiersync::v1::SyncResult>& results) {
  if (results.empty()) return absl::OkStatus();
  using google::protobuf::util::TimeUtil;
  auto tx = db_->Begin();
  if (!tx.ok()) return tx.status();
  for (const auto& r : results) {
    const int64_t at = TimeUtil::TimestampToMicroseconds(r.at());
    auto last = (*tx)->Exec(
        "INSERT INTO recon_last_sync (code, revision, outcome, at_us, error) VALUES ($1, $2, $3, "
        "$4, $5) ON CONFLICT (code) DO UPDATE SET revision = excluded.revision, outcome = "
        "excluded.outcome, at_us = excluded.at_us, error = excluded.error WHERE "
        "recon_last_sync.at_us <= excluded.at_us",
        {r.code(), r.revision(), static_cast<int64_t>(r.outcome()), at,
         r.dvcqg_error_code().empty()
             ? r.dvcqg_message()
             : absl::StrCat(r.dvcqg_error_code(), " ", r.dvcqg_message())});
    if (!last.ok()) return last.status();
    if (auto st = KpiStore::RefreshEvidence(**tx, r.code()); !st.ok()) return st;
    if (r.outcome() != dossiersync::v1::SYNC_OUTCOME_ACCEPTED || !r.has_change_accepted_at()) {
      continue;
    }
    const int64_t accepted = TimeUtil::TimestampToMicroseconds(r.change_accepted_at());
    auto lag = (*tx)->Exec(
        "INSERT INTO recon_sync_lag (code, revision, agency_code, accepted_at_us, lag_us) VALUES "
        "($1, $2, $3, $4, $5) ON CONFLICT (code, revision) DO NOTHING",
        {r.code(), r.revision(), r.agency_code(), accepted, std::max<int64_t>(0, at - accepted)});
    if (!lag.ok()) return lag.status();
    if (*lag == 0) continue;  // counted already
    auto st =
        KpiStore::CountLag(**tx, r.agency_code(), accepted, std::max<int64_t>(0, at - accepted));
    if (!st.ok()) return st;
  }
  return (*tx)->Commit();
}

absl::StatusOr<std::optional<int64_t>> RunStore::LastSyncRevision(const std::string& code) {
  auto tx = db_->BeginRead();
  if (!tx.ok()) return tx.status();
  auto row =
      (*tx)->QueryOne("SELECT revision, outcome FROM recon_last_sync WHERE code = $1", {code});
  if (!row.ok()) return row.status();
  if (!row->has_value() || (**row).Int(1) == dossiersync::v1::SYNC_OUTCOME_RETRYING) {
    return std::optional<int64_t>();
  }
  return std::optional<int64_t>((**row).Int(0));
}

absl::StatusOr<std::optional<int64_t>> RunStore::SyncFrontier() {
  auto tx = db_->BeginRead();
  if (!tx.ok()) return tx.status();
  auto row = (*tx)->QueryOne(
      "SELECT accepted_at_us FROM recon_sync_lag ORDER BY accepted_at_us DESC LIMIT 1");
  if (!row.ok()) return row.status();
  if (!row->has_value()) return std::optional<int64_t>();
  return std::optional<int64_t>((**row).Int(0));
}

absl::StatusOr<bool> RunStore::VerifiedUnchanged(const std::string& code, int64_t revision) {
  auto tx = db_->BeginRead();
  if (!tx.ok()) return tx.status();
  auto row = (*tx)->QueryOne(
      "SELECT s.revision, s.in_sync, s.checked_at_us, l.at_us FROM recon_dossier_state s "
      "LEFT JOIN recon_last_sync l ON l.code = s.code WHERE s.code = $1",
      {code});
  if (!row.ok()) return row.status();
  if (!row->has_value()) return false;
  const auto& r = **row;
  const bool pushed_since = !r.IsNull(3) && r.Int(3) >= r.Int(2);
  return r.Int(0) == revision && r.Int(1) == 1 && !pushed_since;
}

absl::StatusOr<std::string> RunStore::LastSync(const std::string& code) {
  auto tx = db_->BeginRead();
  if (!tx.ok()) return tx.status();
  auto row = (*tx)->QueryOne(
      "SELECT revision, outcome, at_us, error FROM recon_last_sync WHERE code = $1", {code});
  if (!row.ok()) return row.status();
  if (!row->has_value()) return std::string("no sync result seen");
  const auto& r = **row;
  std::string out = absl::StrCat(
      "last sync result: revision ", r.Int(0), " ",
      dossiersync::v1::SyncOutcome_Name(static_cast<dossiersync::v1::SyncOutcome>(r.Int(1))),
      " at ",
      absl::FormatTime(absl::RFC3339_full, absl::FromUnixMicros(r.Int(2)), absl::UTCTimeZone()));
  if (!r.Str(3).empty()) absl::StrAppend(&out, " (", r.Str(3), ")");
  return out;
}

}  // namespace dossiersync::reconciliation

namespace dossiersync::reconciliation {

absl::Status RunStore::RecordChecks(const std::vector<DossierCheck>& checks) {
  if (checks.empty()) return absl::OkStatus();
  auto tx = db_->Begin();
  if (!tx.ok()) return tx.status();
  for (const DossierCheck& c : checks) {
    auto r = (*tx)->Exec(
        "INSERT INTO recon_dossier_state (code, agency_code, revision, checked_at_us, run_id, "
        "in_sync, present, national) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (code) "
        "DO UPDATE SET agency_code = excluded.agency_code, revision = excluded.revision, "
        "checked_at_us = excluded.checked_at_us, run_id = excluded.run_id, in_sync = "
        "excluded.in_sync, present = excluded.present, national = excluded.national WHERE "
        "recon_dossier_state.checked_at_us <= excluded.checked_at_us",
        {c.code, c.agency_code, c.revision, absl::ToUnixMicros(c.checked_at), c.run_id,
         int64_t{c.in_sync}, int64_t{c.national.has_value()},
         Blob{c.national && !c.in_sync ? c.national->SerializeAsString() : std::string()}});
    if (!r.ok()) return r.status();
    if (auto st = KpiStore::RefreshEvidence(**tx, c.code); !st.ok()) return st;
  }
  return (*tx)->Commit();
}

absl::StatusOr<std::map<std::string, DossierEvidence>> RunStore::Evidence(
    const std::string& agency) {
  auto tx = db_->BeginRead();
  if (!tx.ok()) return tx.status();
  std::map<std::string, DossierEvidence> out;
  auto checks = (*tx)->Query(
      "SELECT code, revision, checked_at_us, in_sync, present, national FROM recon_dossier_state "
      "WHERE ($1 = '' OR agency_code = $1)",
      {agency});
  if (!checks.ok()) return checks.status();
  for (const auto& r : *checks) {
    DossierEvidence& e = out[r.Str(0)];
    DossierCheck& c = e.check.emplace();
    c.code = r.Str(0);
    c.revision = r.Int(1);
    c.checked_at = absl::FromUnixMicros(r.Int(2));
    c.in_sync = r.Int(3) != 0;
    if (r.Int(4) != 0) {
      c.national.emplace();
      if (!r.Str(5).empty() && !c.national->ParseFromString(r.Str(5))) {
        return absl::DataLossError("corrupt national snapshot row");
      }
    }
  }
  auto syncs = (*tx)->Query("SELECT code, revision, outcome, at_us FROM recon_last_sync");
  if (!syncs.ok()) return syncs.status();
  for (const auto& r : *syncs) {
    // Sync results carry no agency in this table: every one is read, the caller looks dossiers
    // up by code.
    DossierEvidence& e = out[r.Str(0)];
    e.last_sync_revision = r.Int(1);
    e.last_sync_accepted = r.Int(2) == dossiersync::v1::SYNC_OUTCOME_ACCEPTED;
    e.last_sync_at = absl::FromUnixMicros(r.Int(3));
  }
  return out;
}

}  // namespace dossiersync::reconciliation
