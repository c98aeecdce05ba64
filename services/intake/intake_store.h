// The intake's storage: dossiers (latest snapshot per code), their progress steps and the
// transactional outbox, in the service's own database.
//
// Writes go through a group-commit writer thread: concurrent SubmitChange calls are applied in
// arrival order inside one transaction and acknowledged together after COMMIT, so each OK is
// durable while throughput does not pay one fsync per change. Per item, the revision rules of
// SPEC §4 apply (duplicate / STALE_REVISION / REVISION_CONFLICT / ILLEGAL_TRANSITION / step reuse).
//
// Thread safety: all public methods are thread-safe. Completion callbacks run on the writer
// thread and must not block.
#ifndef DOSSIERSYNC_SERVICES_INTAKE_INTAKE_STORE_H_
#define DOSSIERSYNC_SERVICES_INTAKE_INTAKE_STORE_H_

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/storage/database.h"
#include "dossiersync/v1/intake.pb.h"
#include "services/intake/transitions.h"

namespace dossiersync::intake {

// A change's identity for duplicate detection (SPEC §4): SHA-256 of the deterministic
// serialization of SubmitChangeRequest{dossier: the stored snapshot, new_steps} (not
// `correction`), computed from the parts the writer serialises anyway (the snapshot's and each
// step's deterministic bytes) instead of copying them into that message and serialising again.
// Equal to hashing the message (intake_store_test checks it).
std::string ChangeContentHash(const std::string& snapshot_bytes,
                              const std::vector<std::string>& step_bytes);

struct ApplyResult {
  int64_t revision = 0;
  bool duplicate = false;
  int64_t change_seq = 0;  // 0 for duplicates
};

struct ListFilter {
  std::string agency_code;
  int64_t changed_since_us = 0;  // inclusive; 0 = no bound
  int64_t changed_until_us = 0;  // exclusive; 0 = no bound
  int status = 0;
  int64_t after_seq = 0;
  bool include_steps = false;
};

// The newest change_seq and changed_at, read under the write lock before each batch. Two scalar
// subqueries, each answered from its index: `SELECT MAX(a), MAX(b)` in one query makes SQLite
// scan the whole table (its min/max optimisation takes a single aggregate), which cost a full
// read of `dossiers` per batch and made intake slower the more dossiers it held.
inline constexpr char kTopOfLogQuery[] =
    "SELECT COALESCE((SELECT MAX(change_seq) FROM dossiers), 0), "
    "COALESCE((SELECT MAX(changed_at_us) FROM dossiers), 0)";

class IntakeStore {
 public:
  using Done = std::function<void(absl::StatusOr<ApplyResult>)>;

  struct Options {
    TransitionRules rules = TransitionRules::Default();
    size_t max_batch = 512;     // changes per group commit
    size_t max_queue = 100000;  // pending changes before UNAVAILABLE (overload)
  };

  // Creates the schema if needed and starts the writer thread.
  static absl::StatusOr<std::unique_ptr<IntakeStore>> Open(storage::Database* db, Options options);
  ~IntakeStore();

  // Queues a validated request. `req` must stay valid until `done` runs. `traceparent` goes with
  // the outbox row.
  void Submit(const dossiersync::v1::SubmitChangeRequest* req, std::string traceparent, Done done);

  absl::StatusOr<std::optional<dossiersync::v1::Dossier>> Get(const std::string& code);
  // Every accepted revision of `code`, oldest first (empty if unknown).
  absl::StatusOr<std::vector<dossiersync::v1::Dossier>> History(const std::string& code);
  // Where `code`'s changes landed on Kafka, by intake's published log (oldest first; only what
  // the log still retains).
  absl::StatusOr<std::vector<dossiersync::v1::Publication>> Publications(const std::string& code);
  // Up to `limit` dossiers after `filter.after_seq`, in change order.
  absl::StatusOr<std::vector<dossiersync::v1::Dossier>> List(const ListFilter& filter, int limit);

  // Called after each commit that added outbox rows (with their count).
  void SetOnCommit(std::function<void(int)> cb);
  // Stops accepting, applies what is queued, joins the writer.
  void Stop();
  size_t queue_depth() const;

 private:
  struct Pending {
    const dossiersync::v1::SubmitChangeRequest* req;
    std::string traceparent;
    Done done;
  };
  IntakeStore(storage::Database* db, Options options) : db_(db), options_(std::move(options)) {}
  void WriterLoop();
  absl::Status ApplyBatch(std::vector<Pending>& batch,
                          std::vector<absl::StatusOr<ApplyResult>>& results, int* outbox_rows);
  absl::StatusOr<absl::StatusOr<ApplyResult>> ApplyOne(storage::Transaction& tx, const Pending& p,
                                                       int64_t now_us, bool* wrote);
  // ApplyOne's parts. The outer status is storage's (the whole group fails UNAVAILABLE); the
  // inner one this change's rejection.
  // A request serialised once: the snapshot as stored, its bytes, each new step's bytes, the hash.
  struct Serialized {
    dossiersync::v1::Dossier snapshot;
    std::string snapshot_bytes;
    std::vector<std::string> step_bytes;  // deterministic, one per request new_steps entry
    std::string hash;                     // ChangeContentHash
  };
  struct FreshStep {
    int index;         // in the request's new_steps
    std::string hash;  // of its deterministic serialization
  };
  absl::StatusOr<absl::Status> FreshSteps(storage::Transaction& tx,
                                          const dossiersync::v1::SubmitChangeRequest& req,
                                          const Serialized& ser, std::vector<FreshStep>* fresh);
  // Stores the accepted change (snapshot, revision, new steps, outbox row); its change_seq.
  absl::StatusOr<int64_t> Write(storage::Transaction& tx, const Pending& p, Serialized& ser,
                                const std::vector<FreshStep>& fresh, int64_t now_us);
  absl::Status FillSteps(storage::Transaction& tx, dossiersync::v1::Dossier* d);

  storage::Database* db_;
  Options options_;
  int64_t next_seq_ = 1;     // writer thread only
  int64_t last_now_us_ = 0;  // writer thread only: keeps changed_at monotonic
  mutable absl::Mutex mu_;
  std::deque<Pending> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::function<void(int)> on_commit_;  // set before traffic
  std::thread writer_;
};

}  // namespace dossiersync::intake

#endif  // DOSSIERSYNC_SERVICES_INTAKE_INTAKE_STORE_H_
