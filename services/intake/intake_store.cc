#include "services/intake/intake_store.h"

#include <openssl/sha.h>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/errors.h"
#include "common/ids.h"
#include "common/storage/schema.h"
#include "dossiersync/v1/events.pb.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/util/time_util.h"

namespace dossiersync::intake {
namespace {

using dossiersync::v1::Dossier;
using dossiersync::v1::DossierChange;
using dossiersync::v1::ProgressStep;
using dossiersync::v1::SubmitChangeRequest;
using google::protobuf::util::TimeUtil;
using storage::Blob;

constexpr char kComponent[] = "intake";
// Version 1 of the schema (Database::ApplyMigrations); later changes are appended as versions.
constexpr char kSchema[] = R"(
CREATE TABLE IF NOT EXISTS dossiers (
  code TEXT PRIMARY KEY,
  agency_code TEXT NOT NULL,
  status INTEGER NOT NULL,
  revision BIGINT NOT NULL,
  content_hash {BLOB} NOT NULL,
  change_seq BIGINT NOT NULL,
  changed_at_us BIGINT NOT NULL,
  snapshot {BLOB} NOT NULL);
CREATE INDEX IF NOT EXISTS dossiers_by_seq ON dossiers (change_seq);
CREATE INDEX IF NOT EXISTS dossiers_by_agency ON dossiers (agency_code, change_seq);
CREATE INDEX IF NOT EXISTS dossiers_by_time ON dossiers (changed_at_us);
CREATE TABLE IF NOT EXISTS steps (
  code TEXT NOT NULL,
  step_id TEXT NOT NULL,
  step_hash {BLOB} NOT NULL,
  change_seq BIGINT NOT NULL,
  idx INTEGER NOT NULL,
  step {BLOB} NOT NULL,
  PRIMARY KEY (code, step_id));
CREATE TABLE IF NOT EXISTS outbox (
  id {SERIAL_PK},
  code TEXT NOT NULL,
  event_id TEXT NOT NULL,
  traceparent TEXT NOT NULL,
  payload {BLOB} NOT NULL,
  created_at_us BIGINT NOT NULL)
)";

// Version 2: every accepted revision's snapshot (GetDossierHistory), written with the change.
constexpr char kSchemaV2[] = R"(
CREATE TABLE IF NOT EXISTS revisions (
  code TEXT NOT NULL,
  revision BIGINT NOT NULL,
  change_seq BIGINT NOT NULL,
  changed_at_us BIGINT NOT NULL,
  snapshot {BLOB} NOT NULL,
  PRIMARY KEY (code, revision))
)";

// Version 3: outbox rows Kafka acknowledged, kept for a retention window with where they landed,
// so that a topic reset or an operator can have them published again (services/intake/
// published_log.h).
constexpr char kSchemaV3[] = R"(
CREATE TABLE IF NOT EXISTS published (
  id BIGINT PRIMARY KEY,
  code TEXT NOT NULL,
  event_id TEXT NOT NULL,
  traceparent TEXT NOT NULL,
  payload {BLOB} NOT NULL,
  created_at_us BIGINT NOT NULL,
  published_at_us BIGINT NOT NULL,
  kafka_partition INTEGER NOT NULL,
  kafka_offset BIGINT NOT NULL);
CREATE INDEX IF NOT EXISTS published_by_time ON published (published_at_us)
)";

// Version 4: a dossier's publications by code (GetDossierHistory's include_publications, the
// timeline's "where it went on Kafka").
constexpr char kSchemaV4[] = R"(
CREATE INDEX IF NOT EXISTS published_by_code ON published (code)
)";

std::string Deterministic(const google::protobuf::Message& m) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream sos(&out);
    google::protobuf::io::CodedOutputStream cos(&sos);
    cos.SetSerializationDeterministic(true);
    m.SerializeToCodedStream(&cos);
  }
  return out;
}

std::string Sha256(const std::string& bytes) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), md);
  return std::string(reinterpret_cast<char*>(md), sizeof(md));
}

// The snapshot as stored: without the read-only fields intake fills on reads.
Dossier StoredSnapshot(const Dossier& d) {
  Dossier s = d;
  s.clear_steps();
  s.clear_change_seq();
  s.clear_changed_at();
  return s;
}

// A length-delimited field as protobuf's wire format writes it: tag, varint length, bytes.
void AppendLengthDelimited(int field, const std::string& bytes, std::string* out) {
  out->push_back(static_cast<char>((field << 3) | 2));
  uint64_t n = bytes.size();
  while (n >= 0x80) {
    out->push_back(static_cast<char>((n & 0x7f) | 0x80));
    n >>= 7;
  }
  out->push_back(static_cast<char>(n));
  out->append(bytes);
}

}  // namespace

std::string ChangeContentHash(const std::string& snapshot_bytes,
                              const std::vector<std::string>& step_bytes) {
  // SubmitChangeRequest: dossier = 1 (always present), new_steps = 2; correction (3) left out.
  size_t size = snapshot_bytes.size() + 11;
  for (const std::string& s : step_bytes) size += s.size() + 11;
  std::string canon;
  canon.reserve(size);
  AppendLengthDelimited(1, snapshot_bytes, &canon);
  for (const std::string& s : step_bytes) AppendLengthDelimited(2, s, &canon);
  return Sha256(canon);
}

absl::StatusOr<std::unique_ptr<IntakeStore>> IntakeStore::Open(storage::Database* db,
                                                               Options options) {
  if (auto st = db->ApplyMigrations(kComponent, {kSchema, kSchemaV2, kSchemaV3, kSchemaV4});
      !st.ok())
    return st;
  auto store = std::unique_ptr<IntakeStore>(new IntakeStore(db, std::move(options)));
  auto tx = db->BeginRead();
  if (!tx.ok()) return tx.status();
  auto row = (*tx)->QueryOne(kTopOfLogQuery);
  if (!row.ok()) return row.status();
  store->next_seq_ = (*row)->Int(0) + 1;
  store->last_now_us_ = (*row)->Int(1);
  store->writer_ = std::thread([s = store.get()] { s->WriterLoop(); });
  return store;
}

IntakeStore::~IntakeStore() { Stop(); }

void IntakeStore::SetOnCommit(std::function<void(int)> cb) { on_commit_ = std::move(cb); }

size_t IntakeStore::queue_depth() const {
  absl::MutexLock l(&mu_);
  return queue_.size();
}

void IntakeStore::Submit(const SubmitChangeRequest* req, std::string traceparent, Done done) {
  {
    absl::MutexLock l(&mu_);
    if (!stopping_ && queue_.size() < options_.max_queue) {
      queue_.push_back(Pending{req, std::move(traceparent), std::move(done)});
      return;
    }
  }
  done(ReasonError(absl::StatusCode::kUnavailable, "OVERLOADED",
                   "intake is stopping or its write queue is full; retry with backoff"));
}

void IntakeStore::Stop() {
  {
    absl::MutexLock l(&mu_);
    if (stopping_ && !writer_.joinable()) return;
    stopping_ = true;
  }
  if (writer_.joinable()) writer_.join();
}

void IntakeStore::WriterLoop() {
  while (true) {
    std::vector<Pending> batch;
    {
      absl::MutexLock l(&mu_);
      mu_.Await(absl::Condition(
          +[](IntakeStore* s)
               ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mu_) { return s->stopping_ || !s->queue_.empty(); },
          this));
      if (queue_.empty()) return;  // stopping and drained
      while (!queue_.empty() && batch.size() < options_.max_batch) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    std::vector<absl::StatusOr<ApplyResult>> results;
    int outbox_rows = 0;
    absl::Status st = ApplyBatch(batch, results, &outbox_rows);
    // Tell the relay before acknowledging, so the backlog already counts every acknowledged row.
    if (st.ok() && outbox_rows > 0 && on_commit_) on_commit_(outbox_rows);
    for (size_t i = 0; i < batch.size(); ++i) {
      if (st.ok()) {
        batch[i].done(std::move(results[i]));
      } else {
        batch[i].done(absl::UnavailableError(absl::StrCat("storage not writable: ", st.message())));
      }
    }
  }
}

absl::Status IntakeStore::ApplyBatch(std::vector<Pending>& batch,
                                     std::vector<absl::StatusOr<ApplyResult>>& results,
                                     int* outbox_rows) {
  const int64_t saved_seq = next_seq_;
  const int64_t saved_now = last_now_us_;
  auto tx = db_->Begin();
  if (!tx.ok()) return tx.status();
  // Other intake replicas may share the database: under the write lock, continue from what is
  // committed (change_seq strictly increasing, changed_at never going back).
  auto top = (*tx)->QueryOne(kTopOfLogQuery);
  if (!top.ok()) return top.status();
  next_seq_ = std::max(next_seq_, (*top)->Int(0) + 1);
  last_now_us_ = std::max(last_now_us_, (*top)->Int(1));
  last_now_us_ = std::max(last_now_us_ + 1, absl::ToUnixMicros(absl::Now()));
  for (const Pending& p : batch) {
    bool wrote = false;
    auto r = ApplyOne(**tx, p, last_now_us_, &wrote);
    if (!r.ok()) {
      next_seq_ = saved_seq;
      last_now_us_ = saved_now;
      return r.status();
    }
    if (wrote) ++*outbox_rows;
    results.push_back(std::move(*r));
  }
  absl::Status st = (*tx)->Commit();
  if (!st.ok()) {
    next_seq_ = saved_seq;
    last_now_us_ = saved_now;
  }
  return st;
}

absl::StatusOr<absl::StatusOr<ApplyResult>> IntakeStore::ApplyOne(storage::Transaction& tx,
                                                                  const Pending& p, int64_t now_us,
                                                                  bool* wrote) {
  const SubmitChangeRequest& req = *p.req;
  const Dossier& d = req.dossier();
  Serialized ser;
  ser.snapshot = StoredSnapshot(d);
  ser.snapshot_bytes = Deterministic(ser.snapshot);
  ser.step_bytes.reserve(req.new_steps_size());
  for (const ProgressStep& s : req.new_steps()) ser.step_bytes.push_back(Deterministic(s));
  ser.hash = ChangeContentHash(ser.snapshot_bytes, ser.step_bytes);
  const std::string& hash = ser.hash;
  auto row = tx.QueryOne("SELECT revision, content_hash, status FROM dossiers WHERE code = $1",
                         {d.code()});
  if (!row.ok()) return row.status();
  if (row->has_value()) {
    const storage::Row& r = **row;
    int64_t stored = r.Int(0);
    if (d.revision() < stored) {
      return absl::StatusOr<ApplyResult>(ReasonError(
          absl::StatusCode::kFailedPrecondition, "STALE_REVISION",
          absl::StrCat("revision ", d.revision(), " is older than the stored revision ", stored),
          {{"stored_revision", absl::StrCat(stored)}, {"code", d.code()}}));
    }
    if (d.revision() == stored) {
      if (r.Str(1) == hash) return absl::StatusOr<ApplyResult>(ApplyResult{stored, true, 0});
      return absl::StatusOr<ApplyResult>(ReasonError(
          absl::StatusCode::kAlreadyExists, "REVISION_CONFLICT",
          absl::StrCat("revision ", stored, " is already stored with different content"),
          {{"stored_revision", absl::StrCat(stored)}, {"code", d.code()}}));
    }
    int from = static_cast<int>(r.Int(2));
    if (!req.correction() && !options_.rules.Allowed(from, d.status())) {
      return absl::StatusOr<ApplyResult>(ReasonError(
          absl::StatusCode::kFailedPrecondition, "ILLEGAL_TRANSITION",
          absl::StrCat("status ", from, " -> ", d.status(),
                       " breaks the transition rules; set correction to force it"),
          {{"from", absl::StrCat(from)}, {"to", absl::StrCat(d.status())}, {"code", d.code()}}));
    }
  }
  std::vector<FreshStep> fresh;
  auto steps_ok = FreshSteps(tx, req, ser, &fresh);
  if (!steps_ok.ok()) return steps_ok.status();
  if (!steps_ok->ok()) return absl::StatusOr<ApplyResult>(*steps_ok);
  auto seq = Write(tx, p, ser, fresh, now_us);
  if (!seq.ok()) return seq.status();
  *wrote = true;
  return absl::StatusOr<ApplyResult>(ApplyResult{d.revision(), false, *seq});
}

absl::StatusOr<absl::Status> IntakeStore::FreshSteps(storage::Transaction& tx,
                                                     const SubmitChangeRequest& req,
                                                     const Serialized& ser,
                                                     std::vector<FreshStep>* fresh) {
  // New steps are stored; a step id already stored must carry the same content.
  const std::string& code = req.dossier().code();
  absl::flat_hash_set<std::string> ids_in_request;
  for (int i = 0; i < req.new_steps_size(); ++i) {
    const ProgressStep& s = req.new_steps(i);
    // An identical repeat within the request (different content was rejected by the validator).
    if (!ids_in_request.insert(s.step_id()).second) continue;
    std::string h = Sha256(ser.step_bytes[i]);
    auto existing = tx.QueryOne("SELECT step_hash FROM steps WHERE code = $1 AND step_id = $2",
                                {code, s.step_id()});
    if (!existing.ok()) return existing.status();
    if (existing->has_value()) {
      if ((*existing)->Str(0) != h) {
        return FieldError(
            absl::StrCat("new_steps[", i, "].step_id"),
            absl::StrCat("step id '", s.step_id(), "' already stored with different content"));
      }
      continue;
    }
    fresh->push_back({i, std::move(h)});
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> IntakeStore::Write(storage::Transaction& tx, const Pending& p,
                                           Serialized& ser, const std::vector<FreshStep>& fresh,
                                           int64_t now_us) {
  const SubmitChangeRequest& req = *p.req;
  const Dossier& d = req.dossier();
  const int64_t seq = next_seq_++;
  const std::string& hash = ser.hash;
  const std::string& snap_bytes = ser.snapshot_bytes;
  auto up = tx.Exec(
      "INSERT INTO dossiers (code, agency_code, status, revision, content_hash, change_seq, "
      "changed_at_us, snapshot) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
      "ON CONFLICT (code) DO UPDATE SET agency_code = excluded.agency_code, status = "
      "excluded.status, revision = excluded.revision, content_hash = excluded.content_hash, "
      "change_seq = excluded.change_seq, changed_at_us = excluded.changed_at_us, snapshot = "
      "excluded.snapshot",
      {d.code(), d.agency_code(), static_cast<int64_t>(d.status()), d.revision(), Blob{hash}, seq,
       now_us, Blob{snap_bytes}});
  if (!up.ok()) return up.status();
  auto rev = tx.Exec(
      "INSERT INTO revisions (code, revision, change_seq, changed_at_us, snapshot) VALUES ($1, "
      "$2, $3, $4, $5) ON CONFLICT (code, revision) DO NOTHING",
      {d.code(), d.revision(), seq, now_us, Blob{snap_bytes}});
  if (!rev.ok()) return rev.status();
  DossierChange change;
  *change.mutable_dossier() = std::move(ser.snapshot);
  for (size_t k = 0; k < fresh.size(); ++k) {
    const ProgressStep& s = req.new_steps(fresh[k].index);
    auto ins = tx.Exec(
        "INSERT INTO steps (code, step_id, step_hash, change_seq, idx, step) "
        "VALUES ($1, $2, $3, $4, $5, $6)",
        {d.code(), s.step_id(), Blob{fresh[k].hash}, seq, static_cast<int64_t>(k),
         Blob{ser.step_bytes[fresh[k].index]}});
    if (!ins.ok()) return ins.status();
    *change.add_new_steps() = s;
  }
  change.set_revision(d.revision());
  change.set_change_id(NewEventId());
  *change.mutable_accepted_at() = TimeUtil::MicrosecondsToTimestamp(now_us);
  change.set_correction(req.correction());
  change.set_change_seq(seq);
  auto ob = tx.Exec(
      "INSERT INTO outbox (code, event_id, traceparent, payload, created_at_us) "
      "VALUES ($1, $2, $3, $4, $5)",
      {d.code(), change.change_id(), p.traceparent, Blob{change.SerializeAsString()}, now_us});
  if (!ob.ok()) return ob.status();
  return seq;
}

absl::Status IntakeStore::FillSteps(storage::Transaction& tx, Dossier* d) {
  auto rows =
      tx.Query("SELECT step FROM steps WHERE code = $1 ORDER BY change_seq, idx", {d->code()});
  if (!rows.ok()) return rows.status();
  for (const auto& r : *rows) {
    if (!d->add_steps()->ParseFromString(r.Str(0))) {
      return absl::DataLossError(absl::StrCat("corrupt step row for ", d->code()));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<Dossier>> IntakeStore::Get(const std::string& code) {
  auto tx = db_->BeginRead();
  if (!tx.ok()) return tx.status();
  auto row = (*tx)->QueryOne(
      "SELECT snapshot, change_seq, changed_at_us FROM dossiers WHERE code = $1", {code});
  if (!row.ok()) return row.status();
  if (!row->has_value()) return std::optional<Dossier>();
  Dossier d;
  if (!d.ParseFromString((*row)->Str(0))) {
    return absl::DataLossError(absl::StrCat("corrupt snapshot for ", code));
  }
  d.set_change_seq((*row)->Int(1));
  *d.mutable_changed_at() = TimeUtil::MicrosecondsToTimestamp((*row)->Int(2));
  if (auto st = FillSteps(**tx, &d); !st.ok()) return st;
  return std::optional<Dossier>(std::move(d));
}

absl::StatusOr<std::vector<Dossier>> IntakeStore::History(const std::string& code) {
  auto tx = db_->BeginRead();
  if (!tx.ok()) return tx.status();
  auto rows = (*tx)->Query(
      "SELECT snapshot, change_seq, changed_at_us FROM revisions WHERE code = $1 ORDER BY revision",
      {code});
  if (!rows.ok()) return rows.status();
  std::vector<Dossier> out;
  for (const auto& r : *rows) {
    Dossier& d = out.emplace_back();
    if (!d.ParseFromString(r.Str(0))) {
      return absl::DataLossError(absl::StrCat("corrupt revision row for ", code));
    }
    d.set_change_seq(r.Int(1));
    *d.mutable_changed_at() = TimeUtil::MicrosecondsToTimestamp(r.Int(2));
  }
  return out;
}

absl::StatusOr<std::vector<dossiersync::v1::Publication>> IntakeStore::Publications(
    const std::string& code) {
  auto tx = db_->BeginRead();
  if (!tx.ok()) return tx.status();
  auto rows = (*tx)->Query(
      "SELECT payload, event_id, kafka_partition, kafka_offset, published_at_us FROM published "
      "WHERE code = $1 ORDER BY published_at_us, id",
      {code});
  if (!rows.ok()) return rows.status();
  std::vector<dossiersync::v1::Publication> out;
  for (const auto& r : *rows) {
    DossierChange change;
    if (!change.ParseFromString(r.Str(0))) {
      return absl::DataLossError(absl::StrCat("corrupt published row for ", code));
    }
    auto& p = out.emplace_back();
    p.set_revision(change.revision());
    p.set_event_id(r.Str(1));
    p.set_partition(static_cast<int32_t>(r.Int(2)));
    p.set_offset(r.Int(3));
    *p.mutable_published_at() = TimeUtil::MicrosecondsToTimestamp(r.Int(4));
  }
  return out;
}

absl::StatusOr<std::vector<Dossier>> IntakeStore::List(const ListFilter& f, int limit) {
  std::string sql =
      "SELECT snapshot, change_seq, changed_at_us FROM dossiers WHERE change_seq > $1";
  if (!f.agency_code.empty()) sql += " AND agency_code = $2";
  if (f.changed_since_us > 0) sql += " AND changed_at_us >= $3";
  if (f.changed_until_us > 0) sql += " AND changed_at_us < $4";
  if (f.status > 0) sql += " AND status = $5";
  sql += " ORDER BY change_seq LIMIT $6";
  auto tx = db_->BeginRead();
  if (!tx.ok()) return tx.status();
  auto rows = (*tx)->Query(sql, {f.after_seq, f.agency_code, f.changed_since_us, f.changed_until_us,
                                 static_cast<int64_t>(f.status), static_cast<int64_t>(limit)});
  if (!rows.ok()) return rows.status();
  std::vector<Dossier> out;
  out.reserve(rows->size());
  for (const auto& r : *rows) {
    Dossier d;
    if (!d.ParseFromString(r.Str(0))) return absl::DataLossError("corrupt snapshot row");
    d.set_change_seq(r.Int(1));
    *d.mutable_changed_at() = TimeUtil::MicrosecondsToTimestamp(r.Int(2));
    if (f.include_steps) {
      if (auto st = FillSteps(**tx, &d); !st.ok()) return st;
    }
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace dossiersync::intake
