#include "services/reconciliation/kpi_store.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"
#include "services/reconciliation/national_view.h"

namespace dossiersync::reconciliation {
namespace {

using google::protobuf::util::TimeUtil;

constexpr int64_t kDayUs = int64_t{86400} * 1000000;
const double kLogBucket = std::log(1.02);

constexpr char kSchema[] = R"(
CREATE TABLE IF NOT EXISTS recon_kpi_dossier (
  code TEXT PRIMARY KEY,
  change_seq BIGINT NOT NULL,
  agency_code TEXT NOT NULL,
  submitted_us BIGINT NOT NULL,
  revision BIGINT NOT NULL,
  online INTEGER NOT NULL,
  resolved INTEGER NOT NULL,
  on_time INTEGER NOT NULL,
  known INTEGER NOT NULL,
  in_sync INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS recon_kpi_dossier_by_submitted ON recon_kpi_dossier (submitted_us);
CREATE TABLE IF NOT EXISTS recon_kpi_day (
  agency_code TEXT NOT NULL,
  day_us BIGINT NOT NULL,
  received BIGINT NOT NULL,
  online BIGINT NOT NULL,
  resolved BIGINT NOT NULL,
  on_time BIGINT NOT NULL,
  known BIGINT NOT NULL,
  in_sync BIGINT NOT NULL,
  PRIMARY KEY (agency_code, day_us));
CREATE TABLE IF NOT EXISTS recon_lag_day (
  agency_code TEXT NOT NULL,
  day_us BIGINT NOT NULL,
  bucket INTEGER NOT NULL,
  n BIGINT NOT NULL,
  PRIMARY KEY (agency_code, day_us, bucket));
CREATE TABLE IF NOT EXISTS recon_kpi_cursor (
  id INTEGER PRIMARY KEY,
  change_seq BIGINT NOT NULL)
)";

int64_t FloorDay(int64_t us) { return (us >= 0 ? us : us - kDayUs + 1) / kDayUs * kDayUs; }

int LagBucket(int64_t lag_us) {
  if (lag_us <= 0) return 0;
  return 1 + static_cast<int>(std::floor(std::log(static_cast<double>(lag_us)) / kLogBucket));
}

// The geometric middle of a bucket: [1.02^(b-1), 1.02^b).
int64_t BucketValue(int bucket) {
  if (bucket <= 0) return 0;
  return std::llround(std::exp((bucket - 0.5) * kLogBucket));
}

// One dossier's contribution to the counts.
struct Facts {
  std::string agency;
  int64_t submitted_us = 0;
  int64_t revision = 0;
  bool online = false, resolved = false, on_time = false, known = false, in_sync = false;
};

// The dossier's stored row and its evidence, in one read.
constexpr char kRowAndEvidence[] =
    "SELECT k.change_seq, k.agency_code, k.submitted_us, k.revision, k.online, k.resolved, "
    "k.on_time, k.known, k.in_sync, s.revision, s.checked_at_us, s.in_sync, l.revision, "
    "l.outcome, l.at_us FROM (SELECT CAST($1 AS TEXT) AS code) c "
    "LEFT JOIN recon_kpi_dossier k ON k.code = c.code "
    "LEFT JOIN recon_dossier_state s ON s.code = c.code "
    "LEFT JOIN recon_last_sync l ON l.code = c.code";

struct Stored {
  std::optional<Facts> facts;
  int64_t change_seq = 0;
  DossierEvidence evidence;
};

absl::StatusOr<Stored> ReadStored(storage::Transaction& tx, const std::string& code) {
  auto row = tx.QueryOne(kRowAndEvidence, {code});
  if (!row.ok()) return row.status();
  Stored out;
  if (!row->has_value()) return out;
  const storage::Row& r = **row;
  if (!r.IsNull(0)) {
    out.change_seq = r.Int(0);
    out.facts = Facts{r.Str(1),      r.Int(2),      r.Int(3),      r.Int(4) != 0,
                      r.Int(5) != 0, r.Int(6) != 0, r.Int(7) != 0, r.Int(8) != 0};
  }
  if (!r.IsNull(9)) {
    DossierCheck& c = out.evidence.check.emplace();
    c.revision = r.Int(9);
    c.checked_at = absl::FromUnixMicros(r.Int(10));
    c.in_sync = r.Int(11) != 0;
  }
  if (!r.IsNull(12)) {
    out.evidence.last_sync_revision = r.Int(12);
    out.evidence.last_sync_accepted = r.Int(13) == dossiersync::v1::SYNC_OUTCOME_ACCEPTED;
    out.evidence.last_sync_at = absl::FromUnixMicros(r.Int(14));
  }
  return out;
}

absl::Status AddToDay(storage::Transaction& tx, const Facts& f, int64_t sign) {
  auto r = tx.Exec(
      "INSERT INTO recon_kpi_day (agency_code, day_us, received, online, resolved, on_time, known, "
      "in_sync) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (agency_code, day_us) DO "
      "UPDATE SET received = recon_kpi_day.received + excluded.received, online = "
      "recon_kpi_day.online + excluded.online, resolved = recon_kpi_day.resolved + "
      "excluded.resolved, on_time = recon_kpi_day.on_time + excluded.on_time, known = "
      "recon_kpi_day.known + excluded.known, in_sync = recon_kpi_day.in_sync + excluded.in_sync",
      {f.agency, FloorDay(f.submitted_us), sign, sign * f.online, sign * f.resolved,
       sign * f.on_time, sign * f.known, sign * f.in_sync});
  return r.status();
}

// Moves the day counts from `old` (if any) to `now`.
absl::Status Move(storage::Transaction& tx, const std::optional<Facts>& old, const Facts& now) {
  if (old) {
    if (auto st = AddToDay(tx, *old, -1); !st.ok()) return st;
  }
  return AddToDay(tx, now, 1);
}

absl::Status WriteRow(storage::Transaction& tx, const std::string& code, int64_t seq,
                      const Facts& f) {
  auto r = tx.Exec(
      "INSERT INTO recon_kpi_dossier (code, change_seq, agency_code, submitted_us, revision, "
      "online, resolved, on_time, known, in_sync) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
      "ON CONFLICT (code) DO UPDATE SET change_seq = excluded.change_seq, agency_code = "
      "excluded.agency_code, submitted_us = excluded.submitted_us, revision = excluded.revision, "
      "online = excluded.online, resolved = excluded.resolved, on_time = excluded.on_time, known = "
      "excluded.known, in_sync = excluded.in_sync",
      {code, seq, f.agency, f.submitted_us, f.revision, int64_t{f.online}, int64_t{f.resolved},
       int64_t{f.on_time}, int64_t{f.known}, int64_t{f.in_sync}});
  return r.status();
}

bool SameCounts(const Facts& a, const Facts& b) {
  return a.agency == b.agency && FloorDay(a.submitted_us) == FloorDay(b.submitted_us) &&
         a.online == b.online && a.resolved == b.resolved && a.on_time == b.on_time &&
         a.known == b.known && a.in_sync == b.in_sync;
}

}  // namespace

absl::StatusOr<std::unique_ptr<KpiStore>> KpiStore::Open(storage::Database* db,
                                                         int64_t exact_lag_samples) {
  if (auto st = Migrate(db); !st.ok()) return st;
  return std::unique_ptr<KpiStore>(new KpiStore(db, exact_lag_samples));
}

absl::Status KpiStore::Migrate(storage::Database* db) {
  if (auto st = db->ApplyMigrations("reconciliation_kpi", {kSchema}); !st.ok()) return st;
  // Lags recorded before this table existed are counted once.
  auto tx = db->Begin();
  if (!tx.ok()) return tx.status();
  auto counted = (*tx)->QueryOne("SELECT 1 FROM recon_lag_day LIMIT 1");
  if (!counted.ok()) return counted.status();
  if (!counted->has_value()) {
    auto lags = (*tx)->Query("SELECT agency_code, accepted_at_us, lag_us FROM recon_sync_lag");
    if (!lags.ok()) return lags.status();
    for (const auto& r : *lags) {
      if (auto st = CountLag(**tx, r.Str(0), r.Int(1), r.Int(2)); !st.ok()) return st;
    }
  }
  return (*tx)->Commit();
}

absl::StatusOr<int64_t> KpiStore::Cursor() {
  auto tx = db_->BeginRead();
  if (!tx.ok()) return tx.status();
  auto row = (*tx)->QueryOne("SELECT change_seq FROM recon_kpi_cursor WHERE id = 1");
  if (!row.ok()) return row.status();
  return row->has_value() ? (**row).Int(0) : 0;
}

absl::Status KpiStore::ApplyProvincial(const std::vector<dossiersync::v1::Dossier>& dossiers,
                                       int64_t seq) {
  auto tx = db_->Begin();
  if (!tx.ok()) return tx.status();
  for (const auto& d : dossiers) {
    auto stored = ReadStored(**tx, d.code());
    if (!stored.ok()) return stored.status();
    if (stored->facts && stored->change_seq >= d.change_seq()) continue;
    Facts f;
    f.agency = d.agency_code();
    f.submitted_us = TimeUtil::TimestampToMicroseconds(d.submitted_at());
    f.revision = d.revision();
    f.online = d.channel() == dossiersync::v1::CHANNEL_ONLINE;
    f.resolved = d.has_finished_at();
    f.on_time =
        f.resolved && (!d.has_due_at() || TimeUtil::TimestampToMicroseconds(d.finished_at()) <=
                                              TimeUtil::TimestampToMicroseconds(d.due_at()));
    const SyncFlags flags = SyncFlagsOf(f.revision, &stored->evidence);
    f.known = flags.known;
    f.in_sync = flags.in_sync;
    if (auto st = WriteRow(**tx, d.code(), d.change_seq(), f); !st.ok()) return st;
    if (stored->facts && SameCounts(*stored->facts, f)) continue;
    if (auto st = Move(**tx, stored->facts, f); !st.ok()) return st;
  }
  auto cursor = (*tx)->Exec(
      "INSERT INTO recon_kpi_cursor (id, change_seq) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET "
      "change_seq = excluded.change_seq WHERE recon_kpi_cursor.change_seq < excluded.change_seq",
      {seq});
  if (!cursor.ok()) return cursor.status();
  return (*tx)->Commit();
}

absl::Status KpiStore::RefreshEvidence(storage::Transaction& tx, const std::string& code) {
  auto stored = ReadStored(tx, code);
  if (!stored.ok()) return stored.status();
  if (!stored->facts) return absl::OkStatus();  // the follower has not seen it yet
  const SyncFlags flags = SyncFlagsOf(stored->facts->revision, &stored->evidence);
  if (flags.known == stored->facts->known && flags.in_sync == stored->facts->in_sync) {
    return absl::OkStatus();
  }
  Facts now = *stored->facts;
  now.known = flags.known;
  now.in_sync = flags.in_sync;
  auto r = tx.Exec("UPDATE recon_kpi_dossier SET known = $2, in_sync = $3 WHERE code = $1",
                   {code, int64_t{now.known}, int64_t{now.in_sync}});
  if (!r.ok()) return r.status();
  return Move(tx, stored->facts, now);
}

absl::Status KpiStore::CountLag(storage::Transaction& tx, const std::string& agency,
                                int64_t accepted_at_us, int64_t lag_us) {
  auto r = tx.Exec(
      "INSERT INTO recon_lag_day (agency_code, day_us, bucket, n) VALUES ($1, $2, $3, 1) ON "
      "CONFLICT (agency_code, day_us, bucket) DO UPDATE SET n = recon_lag_day.n + 1",
      {agency, FloorDay(accepted_at_us), int64_t{LagBucket(lag_us)}});
  return r.status();
}

namespace {

// A window's figures for one agency (or the province).
struct Tally {
  int64_t received = 0, online = 0, resolved = 0, on_time = 0, known = 0, in_sync = 0;
  std::vector<int64_t> lags_us;       // exact, when the window holds few pushes
  std::map<int, int64_t> lag_bucket;  // bucket -> pushes, otherwise
  int64_t lag_n = 0;

  void AddCounts(const storage::Row& r) {  // columns 1-6: received .. in_sync
    received += r.Int(1);
    online += r.Int(2);
    resolved += r.Int(3);
    on_time += r.Int(4);
    known += r.Int(5);
    in_sync += r.Int(6);
  }
  int64_t Percentile(double p) {
    if (lag_n == 0) return 0;
    const int64_t rank = std::clamp<int64_t>(
        static_cast<int64_t>(std::ceil(p * static_cast<double>(lag_n))), 1, lag_n);
    if (!lags_us.empty()) {
      std::nth_element(lags_us.begin(), lags_us.begin() + (rank - 1), lags_us.end());
      return lags_us[rank - 1];
    }
    int64_t seen = 0;
    for (const auto& [bucket, n] : lag_bucket) {
      seen += n;
      if (seen >= rank) return BucketValue(bucket);
    }
    return 0;
  }
  void Fill(dossiersync::v1::Kpis* k) {
    k->set_received(received);
    k->set_online_share(received ? static_cast<double>(online) / received : 0);
    k->set_resolved(resolved);
    k->set_on_time_share(resolved ? static_cast<double>(on_time) / resolved : 0);
    k->set_in_sync_share(known ? static_cast<double>(in_sync) / known : 0);
    *k->mutable_sync_lag_p50() = TimeUtil::MicrosecondsToDuration(Percentile(0.50));
    *k->mutable_sync_lag_p99() = TimeUtil::MicrosecondsToDuration(Percentile(0.99));
    k->set_lag_samples(lag_n);
  }
};

// [since, until) as whole UTC days and the partial days at its ends (read row by row).
struct Split {
  int64_t full_from = 0, full_until = 0;  // empty when equal
  std::vector<std::pair<int64_t, int64_t>> edges;
};

Split SplitWindow(int64_t since, int64_t until) {
  Split s;
  const int64_t first = FloorDay(since) == since ? since : FloorDay(since) + kDayUs;
  const int64_t last = FloorDay(until);
  if (first >= last) {
    s.edges.emplace_back(since, until);
    return s;
  }
  s.full_from = first;
  s.full_until = last;
  if (since < first) s.edges.emplace_back(since, first);
  if (last < until) s.edges.emplace_back(last, until);
  return s;
}

constexpr char kSums[] =
    "CAST(SUM(online) AS BIGINT), CAST(SUM(resolved) AS BIGINT), CAST(SUM(on_time) AS BIGINT), "
    "CAST(SUM(known) AS BIGINT), CAST(SUM(in_sync) AS BIGINT)";
constexpr char kAgency[] = " AND ($3 = '' OR agency_code = $3) GROUP BY agency_code";

}  // namespace

absl::Status KpiStore::Compute(int64_t since, int64_t until, const std::string& agency,
                               dossiersync::v1::Kpis* out) {
  auto tx = db_->BeginRead();
  if (!tx.ok()) return tx.status();
  storage::Transaction& t = **tx;
  const Split split = SplitWindow(since, until);
  std::map<std::string, Tally> agencies;
  auto add_counts = [&](const absl::StatusOr<std::vector<storage::Row>>& rows) {
    if (!rows.ok()) return rows.status();
    for (const auto& r : *rows) {
      if (r.Int(1) != 0 || r.Int(5) != 0) agencies[r.Str(0)].AddCounts(r);
    }
    return absl::OkStatus();
  };
  // Pushes in the window: exact lags when few, buckets otherwise.
  int64_t pushes = 0;
  if (split.full_from < split.full_until) {
    auto days =
        t.Query(absl::StrCat("SELECT agency_code, CAST(SUM(received) AS BIGINT), ", kSums,
                             " FROM recon_kpi_day WHERE day_us >= $1 AND day_us < $2", kAgency),
                {split.full_from, split.full_until, agency});
    if (auto st = add_counts(days); !st.ok()) return st;
    auto n = t.QueryOne(
        "SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM recon_lag_day WHERE day_us >= $1 AND "
        "day_us < $2 AND ($3 = '' OR agency_code = $3)",
        {split.full_from, split.full_until, agency});
    if (!n.ok()) return n.status();
    pushes += (**n).Int(0);
  }
  for (const auto& [from, to] : split.edges) {
    auto rows = t.Query(absl::StrCat("SELECT agency_code, COUNT(*), ", kSums,
                                     " FROM recon_kpi_dossier WHERE submitted_us >= $1 AND "
                                     "submitted_us < $2",
                                     kAgency),
                        {from, to, agency});
    if (auto st = add_counts(rows); !st.ok()) return st;
    auto n = t.QueryOne(
        "SELECT COUNT(*) FROM recon_sync_lag WHERE accepted_at_us >= $1 AND accepted_at_us < $2 "
        "AND ($3 = '' OR agency_code = $3)",
        {from, to, agency});
    if (!n.ok()) return n.status();
    pushes += (**n).Int(0);
  }
  const bool exact = pushes <= exact_lag_samples_;
  auto add_lags = [&](int64_t from, int64_t to) {
    auto rows = t.Query(
        "SELECT agency_code, lag_us FROM recon_sync_lag WHERE accepted_at_us >= $1 AND "
        "accepted_at_us < $2 AND ($3 = '' OR agency_code = $3)",
        {from, to, agency});
    if (!rows.ok()) return rows.status();
    for (const auto& r : *rows) {
      Tally& a = agencies[r.Str(0)];
      ++a.lag_n;
      if (exact) {
        a.lags_us.push_back(r.Int(1));
      } else {
        ++a.lag_bucket[LagBucket(r.Int(1))];
      }
    }
    return absl::OkStatus();
  };
  if (exact) {
    if (auto st = add_lags(since, until); !st.ok()) return st;
  } else {
    auto rows = t.Query(
        "SELECT agency_code, bucket, CAST(SUM(n) AS BIGINT) FROM recon_lag_day WHERE day_us >= $1 "
        "AND day_us < $2 AND ($3 = '' OR agency_code = $3) GROUP BY agency_code, bucket",
        {split.full_from, split.full_until, agency});
    if (!rows.ok()) return rows.status();
    for (const auto& r : *rows) {
      Tally& a = agencies[r.Str(0)];
      a.lag_bucket[static_cast<int>(r.Int(1))] += r.Int(2);
      a.lag_n += r.Int(2);
    }
    for (const auto& [from, to] : split.edges) {
      if (auto st = add_lags(from, to); !st.ok()) return st;
    }
  }
  Tally total;
  for (const auto& [code, a] : agencies) {
    total.received += a.received;
    total.online += a.online;
    total.resolved += a.resolved;
    total.on_time += a.on_time;
    total.known += a.known;
    total.in_sync += a.in_sync;
    total.lag_n += a.lag_n;
    total.lags_us.insert(total.lags_us.end(), a.lags_us.begin(), a.lags_us.end());
    for (const auto& [bucket, n] : a.lag_bucket) total.lag_bucket[bucket] += n;
  }
  total.Fill(out);
  if (agency.empty()) {
    for (auto& [code, a] : agencies) a.Fill(&(*out->mutable_by_agency())[code]);
  }
  return absl::OkStatus();
}

}  // namespace dossiersync::reconciliation
