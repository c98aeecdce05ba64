#include "services/sync/ledger.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "common/dvcqg/client.h"
#include "common/storage/schema.h"

namespace dossiersync::sync {
namespace {

using dossiersync::v1::DossierChange;
using storage::Blob;

constexpr char kComponent[] = "sync";
// Version 1 of the schema (Database::ApplyMigrations); later changes are appended as versions.
constexpr char kSchema[] = R"(
CREATE TABLE IF NOT EXISTS sync_ledger (
  code TEXT PRIMARY KEY,
  created INTEGER NOT NULL DEFAULT 0,
  revision_seen BIGINT NOT NULL DEFAULT 0,
  revision_pushed BIGINT NOT NULL DEFAULT 0,
  attempts INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  state INTEGER NOT NULL DEFAULT 2,
  latest {BLOB},
  updated_at_us BIGINT NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS sync_steps (
  code TEXT NOT NULL,
  step_id TEXT NOT NULL,
  seq {SERIAL_PK_FREE},
  step {BLOB} NOT NULL,
  pushed INTEGER NOT NULL DEFAULT 0,
  uncertain INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (code, step_id));
CREATE TABLE IF NOT EXISTS sync_dead_letters (
  id {SERIAL_PK},
  code TEXT NOT NULL,
  revision BIGINT NOT NULL,
  change {BLOB} NOT NULL,
  reason TEXT NOT NULL,
  at_us BIGINT NOT NULL,
  replayed INTEGER NOT NULL DEFAULT 0)
)";

// Version 2: where this service's consumption stood per partition (its own record, kept apart
// from the broker's: a broker that lost its committed offsets, or a log truncated past them, is
// detected by comparing with it).
constexpr char kSchemaV2[] = R"(
CREATE TABLE IF NOT EXISTS sync_offsets (
  topic TEXT NOT NULL,
  kafka_partition INTEGER NOT NULL,
  next_offset BIGINT NOT NULL,
  message_time_us BIGINT NOT NULL,
  committed_at_us BIGINT NOT NULL,
  PRIMARY KEY (topic, kafka_partition))
)";

int64_t NowUs() { return absl::ToUnixMicros(absl::Now()); }

}  // namespace

absl::StatusOr<std::unique_ptr<LedgerTx>> Ledger::Begin() {
  auto tx = db_->Begin();
  if (!tx.ok()) return tx.status();
  return std::unique_ptr<LedgerTx>(new LedgerTx(std::move(*tx)));
}

template <typename R, typename Fn>
R Ledger::InTx(LedgerTx* txn, bool write, Fn fn) {
  if (txn != nullptr) return fn(*txn->tx_);
  auto tx = write ? db_->Begin() : db_->BeginRead();
  if (!tx.ok()) return tx.status();
  R r = fn(**tx);
  if (!r.ok() || !write) return r;
  if (absl::Status st = (*tx)->Commit(); !st.ok()) return st;
  return r;
}

absl::StatusOr<std::unique_ptr<Ledger>> Ledger::Open(storage::Database* db) {
  std::string ddl = absl::StrReplaceAll(kSchema, {{"{SERIAL_PK_FREE}", "BIGINT NOT NULL"}});
  if (auto st = db->ApplyMigrations(kComponent, {ddl, kSchemaV2}); !st.ok()) return st;
  return std::unique_ptr<Ledger>(new Ledger(db));
}

absl::Status Ledger::Exec(LedgerTx* txn, const std::string& sql,
                          const std::vector<storage::Value>& params) {
  return InTx<absl::Status>(txn, true, [&](storage::Transaction& tx) -> absl::Status {
    return tx.Exec(sql, params).status();
  });
}

absl::StatusOr<std::optional<LedgerRow>> Ledger::Get(const std::string& code, LedgerTx* txn) {
  return InTx<absl::StatusOr<std::optional<LedgerRow>>>(
      txn, false, [&](storage::Transaction& tx) -> absl::StatusOr<std::optional<LedgerRow>> {
        auto row = tx.QueryOne(
            "SELECT created, revision_seen, revision_pushed, attempts, last_error, state, "
            "updated_at_us "
            "FROM sync_ledger WHERE code = $1",
            {code});
        if (!row.ok()) return row.status();
        if (!row->has_value()) return std::optional<LedgerRow>();
        const storage::Row& r = **row;
        LedgerRow out;
        out.code = code;
        out.created = r.Int(0) != 0;
        out.revision_seen = r.Int(1);
        out.revision_pushed = r.Int(2);
        out.attempts = static_cast<int>(r.Int(3));
        out.last_error = r.Str(4);
        out.state = static_cast<dossiersync::v1::SyncStateKind>(r.Int(5));
        out.updated_at_us = r.Int(6);
        auto counts = tx.QueryOne(
            "SELECT COUNT(*), COALESCE(SUM(pushed), 0) FROM sync_steps WHERE code = $1", {code});
        if (!counts.ok()) return counts.status();
        out.steps_seen = static_cast<int>((*counts)->Int(0));
        out.steps_pushed = static_cast<int>((*counts)->Int(1));
        return std::optional<LedgerRow>(out);
      });
}

absl::Status Ledger::RecordSeen(const DossierChange& change, LedgerTx* txn) {
  return InTx<absl::Status>(txn, true, [&](storage::Transaction& tx) -> absl::Status {
    const std::string& code = change.dossier().code();
    DossierChange latest = change;
    latest.clear_new_steps();
    auto up = tx.Exec(
        "INSERT INTO sync_ledger (code, revision_seen, latest, updated_at_us, state) "
        "VALUES ($1, $2, $3, $4, 2) ON CONFLICT (code) DO UPDATE SET "
        "latest = CASE WHEN excluded.revision_seen > sync_ledger.revision_seen THEN "
        "excluded.latest "
        "ELSE sync_ledger.latest END, "
        "revision_seen = CASE WHEN excluded.revision_seen > sync_ledger.revision_seen THEN "
        "excluded.revision_seen ELSE sync_ledger.revision_seen END, "
        "updated_at_us = excluded.updated_at_us",
        {code, change.revision(), Blob{latest.SerializeAsString()}, NowUs()});
    if (!up.ok()) return up.status();
    auto next = tx.QueryOne("SELECT COALESCE(MAX(seq), 0) FROM sync_steps WHERE code = $1", {code});
    if (!next.ok()) return next.status();
    int64_t seq = (*next)->Int(0);
    for (const auto& s : change.new_steps()) {
      auto ins = tx.Exec(
          "INSERT INTO sync_steps (code, step_id, seq, step) VALUES ($1, $2, $3, $4) "
          "ON CONFLICT (code, step_id) DO NOTHING",
          {code, s.step_id(), ++seq, Blob{s.SerializeAsString()}});
      if (!ins.ok()) return ins.status();
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<std::optional<DossierChange>> Ledger::Latest(const std::string& code,
                                                            LedgerTx* txn) {
  return InTx<absl::StatusOr<std::optional<DossierChange>>>(
      txn, false, [&](storage::Transaction& tx) -> absl::StatusOr<std::optional<DossierChange>> {
        auto row = tx.QueryOne("SELECT latest FROM sync_ledger WHERE code = $1", {code});
        if (!row.ok()) return row.status();
        if (!row->has_value() || (*row)->IsNull(0)) return std::optional<DossierChange>();
        DossierChange c;
        if (!c.ParseFromString((*row)->Str(0)))
          return absl::DataLossError("corrupt ledger snapshot");
        return std::optional<DossierChange>(std::move(c));
      });
}

absl::StatusOr<std::vector<StoredStep>> Ledger::UnpushedSteps(const std::string& code,
                                                              LedgerTx* txn) {
  return InTx<absl::StatusOr<std::vector<StoredStep>>>(
      txn, false, [&](storage::Transaction& tx) -> absl::StatusOr<std::vector<StoredStep>> {
        auto rows = tx.Query(
            "SELECT step_id, step, uncertain FROM sync_steps WHERE code = $1 AND pushed = 0 ORDER "
            "BY seq",
            {code});
        if (!rows.ok()) return rows.status();
        std::vector<StoredStep> out;
        for (const auto& r : *rows) {
          StoredStep s;
          s.step_id = r.Str(0);
          if (!s.step.ParseFromString(r.Str(1))) return absl::DataLossError("corrupt ledger step");
          s.uncertain = r.Int(2) != 0;
          out.push_back(std::move(s));
        }
        return out;
      });
}

absl::Status Ledger::MarkPushed(const std::string& code, int64_t revision, LedgerTx* txn) {
  return Exec(
      txn,
      "UPDATE sync_ledger SET created = 1, revision_pushed = CASE WHEN $2 > revision_pushed THEN "
      "$2 "
      "ELSE revision_pushed END, attempts = 0, "
      "last_error = '', updated_at_us = $3 WHERE code = $1",
      {code, revision, NowUs()});
}

absl::Status Ledger::SetCreated(const std::string& code, bool created, LedgerTx* txn) {
  return Exec(txn, "UPDATE sync_ledger SET created = $2 WHERE code = $1", {code, int64_t{created}});
}

absl::Status Ledger::MarkStepsPushed(const std::string& code, const std::vector<std::string>& ids,
                                     LedgerTx* txn) {
  return InTx<absl::Status>(txn, true, [&](storage::Transaction& tx) -> absl::Status {
    for (const auto& id : ids) {
      auto r = tx.Exec(
          "UPDATE sync_steps SET pushed = 1, uncertain = 0 WHERE code = $1 AND step_id = $2",
          {code, id});
      if (!r.ok()) return r.status();
    }
    return absl::OkStatus();
  });
}

absl::Status Ledger::MarkStepsUncertain(const std::string& code,
                                        const std::vector<std::string>& ids, LedgerTx* txn) {
  return InTx<absl::Status>(txn, true, [&](storage::Transaction& tx) -> absl::Status {
    for (const auto& id : ids) {
      auto r = tx.Exec("UPDATE sync_steps SET uncertain = 1 WHERE code = $1 AND step_id = $2",
                       {code, id});
      if (!r.ok()) return r.status();
    }
    return absl::OkStatus();
  });
}

absl::Status Ledger::ResetNational(const std::string& code, LedgerTx* txn) {
  return InTx<absl::Status>(txn, true, [&](storage::Transaction& tx) -> absl::Status {
    auto a =
        tx.Exec("UPDATE sync_ledger SET created = 0, revision_pushed = 0 WHERE code = $1", {code});
    if (!a.ok()) return a.status();
    auto b = tx.Exec("UPDATE sync_steps SET pushed = 0, uncertain = 0 WHERE code = $1", {code});
    if (!b.ok()) return b.status();
    return absl::OkStatus();
  });
}

absl::Status Ledger::RecheckSteps(const std::string& code, LedgerTx* txn) {
  return Exec(txn, "UPDATE sync_steps SET pushed = 0, uncertain = 1 WHERE code = $1", {code});
}

absl::Status Ledger::RecordFailure(const std::string& code, const std::string& error,
                                   dossiersync::v1::SyncStateKind state, LedgerTx* txn) {
  return Exec(txn,
              "UPDATE sync_ledger SET attempts = attempts + 1, last_error = $2, state = $3, "
              "updated_at_us = $4 WHERE code = $1",
              {code, error, static_cast<int64_t>(state), NowUs()});
}

absl::Status Ledger::MarkInSync(const std::string& code, LedgerTx* txn) {
  return Exec(txn,
              "UPDATE sync_ledger SET state = 1, attempts = 0, updated_at_us = $2 WHERE code = $1",
              {code, NowUs()});
}

absl::Status Ledger::AddDeadLetter(const DossierChange& change, const std::string& reason,
                                   LedgerTx* txn) {
  return InTx<absl::Status>(txn, true, [&](storage::Transaction& tx) -> absl::Status {
    const std::string& code = change.dossier().code();
    auto ins = tx.Exec(
        "INSERT INTO sync_dead_letters (code, revision, change, reason, at_us) VALUES ($1, $2, $3, "
        "$4, $5)",
        {code, change.revision(), Blob{change.SerializeAsString()}, reason, NowUs()});
    if (!ins.ok()) return ins.status();
    auto up = tx.Exec(
        "UPDATE sync_ledger SET state = 4, last_error = $2, updated_at_us = $3 WHERE code = $1",
        {code, reason, NowUs()});
    if (!up.ok()) return up.status();
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<DeadLetterRow>> Ledger::DeadLetters(const DeadLetterQuery& q,
                                                               LedgerTx* txn) {
  return InTx<absl::StatusOr<std::vector<DeadLetterRow>>>(
      txn, false, [&](storage::Transaction& tx) -> absl::StatusOr<std::vector<DeadLetterRow>> {
        std::vector<DeadLetterRow> out;
        auto collect = [&](const absl::StatusOr<std::vector<storage::Row>>& rows) -> absl::Status {
          if (!rows.ok()) return rows.status();
          for (const auto& r : *rows) {
            DeadLetterRow d;
            d.id = r.Int(0);
            d.code = r.Str(1);
            if (!d.change.ParseFromString(r.Str(2)))
              return absl::DataLossError("corrupt dead letter");
            d.reason = r.Str(3);
            d.at_us = r.Int(4);
            d.replayed = r.Int(5) != 0;
            if (!q.agency_code.empty() && d.change.dossier().agency_code() != q.agency_code) {
              continue;
            }
            if (!q.reason_contains.empty() && !dvcqg::ContainsFolded(d.reason, q.reason_contains)) {
              continue;
            }
            out.push_back(std::move(d));
          }
          return absl::OkStatus();
        };
        const std::string sql = absl::StrCat(
            "SELECT id, code, change, reason, at_us, replayed FROM sync_dead_letters WHERE ",
            q.include_replayed ? "1 = 1" : "replayed = 0", " %s ORDER BY id");
        if (q.codes.empty()) {
          if (auto st = collect(tx.Query(absl::StrReplaceAll(sql, {{"%s", ""}}))); !st.ok())
            return st;
        } else {
          for (const auto& c : q.codes) {
            auto st = collect(tx.Query(absl::StrReplaceAll(sql, {{"%s", "AND code = $1"}}), {c}));
            if (!st.ok()) return st;
          }
          std::sort(out.begin(), out.end(),
                    [](const DeadLetterRow& a, const DeadLetterRow& b) { return a.id < b.id; });
        }
        return out;
      });
}

absl::Status Ledger::RecordPosition(const TopicPartition& tp, const Position& p, LedgerTx* txn) {
  return Exec(txn,
              "INSERT INTO sync_offsets (topic, kafka_partition, next_offset, message_time_us, "
              "committed_at_us) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (topic, kafka_partition) "
              "DO UPDATE SET next_offset = excluded.next_offset, message_time_us = "
              "excluded.message_time_us, committed_at_us = excluded.committed_at_us",
              {tp.first, int64_t{tp.second}, p.next_offset, p.message_time_us, NowUs()});
}

absl::StatusOr<std::optional<Ledger::Position>> Ledger::LastPosition(const TopicPartition& tp,
                                                                     LedgerTx* txn) {
  return InTx<absl::StatusOr<std::optional<Position>>>(
      txn, false, [&](storage::Transaction& tx) -> absl::StatusOr<std::optional<Position>> {
        auto row = tx.QueryOne(
            "SELECT next_offset, message_time_us FROM sync_offsets WHERE topic = $1 AND "
            "kafka_partition = $2",
            {tp.first, int64_t{tp.second}});
        if (!row.ok()) return row.status();
        if (!row->has_value()) return std::optional<Position>();
        return std::optional<Position>(Position{(*row)->Int(0), (*row)->Int(1)});
      });
}

absl::Status Ledger::MarkReplayed(int64_t id, LedgerTx* txn) {
  return Exec(txn, "UPDATE sync_dead_letters SET replayed = 1 WHERE id = $1", {id});
}

}  // namespace dossiersync::sync
