// The sync ledger (SPEC §6), in the sync service's own database: per dossier whether it exists on
// DVCQG, the newest revision seen and pushed, failed attempts, the last error and the state; every
// progress step seen with whether DVCQG has it (or whether a push of it had an uncertain outcome);
// the latest change seen (for Resync) and the dead letters (for ReplayDeadLetters).
//
// Thread safety: thread-safe. Each call is one transaction, unless the calling thread has opened
// a Scope: then its calls share the scope's write transaction (one commit for a whole batch) and
// see each other's writes. A scope belongs to the thread that opened it; never hold one across a
// DVCQG or Kafka wait (it holds the database's write lock).
#ifndef DOSSIERSYNC_SERVICES_SYNC_LEDGER_H_
#define DOSSIERSYNC_SERVICES_SYNC_LEDGER_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/storage/database.h"
#include "dossiersync/v1/events.pb.h"
#include "dossiersync/v1/sync.pb.h"

namespace dossiersync::sync {

struct LedgerRow {
  std::string code;
  bool created = false;
  int64_t revision_seen = 0;
  int64_t revision_pushed = 0;
  int attempts = 0;
  std::string last_error;
  dossiersync::v1::SyncStateKind state = dossiersync::v1::SYNC_STATE_KIND_PENDING;
  int64_t updated_at_us = 0;
  int steps_seen = 0;
  int steps_pushed = 0;
};

struct StoredStep {
  std::string step_id;
  dossiersync::v1::ProgressStep step;
  bool uncertain = false;  // a push of it may or may not have landed: verify before re-sending
};

struct DeadLetterRow {
  int64_t id = 0;
  std::string code;
  dossiersync::v1::DossierChange change;
  std::string reason;
};

class Ledger {
 public:
  static absl::StatusOr<std::unique_ptr<Ledger>> Open(storage::Database* db);

  // This thread's ledger calls until Commit share one write transaction; destroyed without
  // Commit, they are rolled back.
  class Scope {
   public:
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;
    ~Scope();
    absl::Status Commit();

   private:
    friend class Ledger;
    explicit Scope(std::unique_ptr<storage::Transaction> tx);
    std::unique_ptr<storage::Transaction> tx_;
  };
  // FAILED_PRECONDITION when this thread already has a scope open.
  absl::StatusOr<std::unique_ptr<Scope>> BeginScope();

  absl::StatusOr<std::optional<LedgerRow>> Get(const std::string& code);
  // Records a change read from Kafka: the snapshot if it is the newest seen, its new steps.
  absl::Status RecordSeen(const dossiersync::v1::DossierChange& change);
  // The newest change seen (snapshot and, with `all_steps`, every step), for Resync.
  absl::StatusOr<std::optional<dossiersync::v1::DossierChange>> Latest(const std::string& code);
  absl::StatusOr<std::vector<StoredStep>> UnpushedSteps(const std::string& code);

  absl::Status MarkPushed(const std::string& code, int64_t revision);
  absl::Status SetCreated(const std::string& code, bool created);
  absl::Status MarkStepsPushed(const std::string& code, const std::vector<std::string>& step_ids);
  absl::Status MarkStepsUncertain(const std::string& code,
                                  const std::vector<std::string>& step_ids);
  // DVCQG does not have the dossier: not created, no revision pushed, no step pushed.
  absl::Status ResetNational(const std::string& code);
  // Full resync: every step is checked against DVCQG (TraCuuHoSo, as for an uncertain push) and
  // the ones it lacks are sent again. Resending blindly would duplicate the progress rows DVCQG
  // still has (found by the reconciliation e2e test: STEPS_MISSING repaired into duplicates).
  absl::Status RecheckSteps(const std::string& code);
  absl::Status RecordFailure(const std::string& code, const std::string& error,
                             dossiersync::v1::SyncStateKind state);
  absl::Status MarkInSync(const std::string& code);

  absl::Status AddDeadLetter(const dossiersync::v1::DossierChange& change,
                             const std::string& reason);
  // Not yet replayed; all codes when `codes` is empty.
  absl::StatusOr<std::vector<DeadLetterRow>> DeadLetters(const std::vector<std::string>& codes);
  absl::Status MarkReplayed(int64_t id);

 private:
  explicit Ledger(storage::Database* db) : db_(db) {}
  absl::Status Exec(const std::string& sql, const std::vector<storage::Value>& params);
  // Runs `fn` in this thread's scope, or in a transaction of its own (a write one committed
  // after `fn` succeeded).
  template <typename R, typename Fn>
  R InTx(bool write, Fn fn);
  storage::Database* db_;
};

}  // namespace dossiersync::sync

#endif  // DOSSIERSYNC_SERVICES_SYNC_LEDGER_H_
