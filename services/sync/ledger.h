// The sync ledger (SPEC §6), in the sync service's own database: per dossier whether it exists on
// DVCQG, the newest revision seen and pushed, failed attempts, the last error and the state; every
// progress step seen with whether DVCQG has it (or whether a push of it had an uncertain outcome);
// the latest change seen (for Resync) and the dead letters (for ReplayDeadLetters).
//
// Each call is one transaction of its own, unless given a LedgerTx (`Ledger::Begin`, passed
// explicitly as the last argument): then the calls given it share its write transaction, see each
// other's writes and commit together (one commit for a whole batch of dossiers).
//
// Thread safety: Ledger is thread-safe. A LedgerTx is used by one thread at a time; never keep one
// open across a DVCQG or Kafka wait (it holds the database's write lock).
#ifndef DOSSIERSYNC_SERVICES_SYNC_LEDGER_H_
#define DOSSIERSYNC_SERVICES_SYNC_LEDGER_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/kafka.h"  // TopicPartition
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
  int64_t at_us = 0;  // when it was dead-lettered
  bool replayed = false;
};

// Which dead letters: every condition given must hold (none: all not yet replayed).
struct DeadLetterQuery {
  std::vector<std::string> codes;
  std::string agency_code;
  std::string reason_contains;  // case folded, Vietnamese capitals included
  bool include_replayed = false;
};

class Ledger;

// One ledger write transaction: Commit makes its calls durable together; destroyed without
// Commit, they are rolled back.
class LedgerTx {
 public:
  LedgerTx(const LedgerTx&) = delete;
  LedgerTx& operator=(const LedgerTx&) = delete;
  absl::Status Commit() { return tx_->Commit(); }

 private:
  friend class Ledger;
  explicit LedgerTx(std::unique_ptr<storage::Transaction> tx) : tx_(std::move(tx)) {}
  std::unique_ptr<storage::Transaction> tx_;
};

class Ledger {
 public:
  static absl::StatusOr<std::unique_ptr<Ledger>> Open(storage::Database* db);

  absl::StatusOr<std::unique_ptr<LedgerTx>> Begin();

  // `txn`: the transaction to run in; null for one of its own.
  absl::StatusOr<std::optional<LedgerRow>> Get(const std::string& code, LedgerTx* txn = nullptr);
  // Records a change read from Kafka: the snapshot if it is the newest seen, its new steps.
  absl::Status RecordSeen(const dossiersync::v1::DossierChange& change, LedgerTx* txn = nullptr);
  // The newest change seen (snapshot and, with `all_steps`, every step), for Resync.
  absl::StatusOr<std::optional<dossiersync::v1::DossierChange>> Latest(const std::string& code,
                                                                       LedgerTx* txn = nullptr);
  absl::StatusOr<std::vector<StoredStep>> UnpushedSteps(const std::string& code,
                                                        LedgerTx* txn = nullptr);

  absl::Status MarkPushed(const std::string& code, int64_t revision, LedgerTx* txn = nullptr);
  absl::Status SetCreated(const std::string& code, bool created, LedgerTx* txn = nullptr);
  absl::Status MarkStepsPushed(const std::string& code, const std::vector<std::string>& step_ids,
                               LedgerTx* txn = nullptr);
  absl::Status MarkStepsUncertain(const std::string& code, const std::vector<std::string>& step_ids,
                                  LedgerTx* txn = nullptr);
  // DVCQG does not have the dossier: not created, no revision pushed, no step pushed.
  absl::Status ResetNational(const std::string& code, LedgerTx* txn = nullptr);
  // Full resync: every step is checked against DVCQG (TraCuuHoSo, as for an uncertain push) and
  // the ones it lacks are sent again. Resending blindly would duplicate the progress rows DVCQG
  // still has (found by the reconciliation e2e test: STEPS_MISSING repaired into duplicates).
  absl::Status RecheckSteps(const std::string& code, LedgerTx* txn = nullptr);
  absl::Status RecordFailure(const std::string& code, const std::string& error,
                             dossiersync::v1::SyncStateKind state, LedgerTx* txn = nullptr);
  absl::Status MarkInSync(const std::string& code, LedgerTx* txn = nullptr);

  absl::Status AddDeadLetter(const dossiersync::v1::DossierChange& change,
                             const std::string& reason, LedgerTx* txn = nullptr);
  // Not yet replayed; all codes when `codes` is empty.
  absl::StatusOr<std::vector<DeadLetterRow>> DeadLetters(const std::vector<std::string>& codes,
                                                         LedgerTx* txn = nullptr) {
    return DeadLetters(DeadLetterQuery{codes, "", "", false}, txn);
  }
  // Those `q` selects, oldest first.
  absl::StatusOr<std::vector<DeadLetterRow>> DeadLetters(const DeadLetterQuery& q,
                                                         LedgerTx* txn = nullptr);
  // Where consumption of a partition stood at a commit: the next offset to read and the Kafka
  // timestamp of the message at it (or of the last one read, when all were done), in µs.
  struct Position {
    int64_t next_offset = 0;
    int64_t message_time_us = 0;
  };
  absl::Status RecordPosition(const TopicPartition& tp, const Position& p, LedgerTx* txn = nullptr);
  absl::StatusOr<std::optional<Position>> LastPosition(const TopicPartition& tp,
                                                       LedgerTx* txn = nullptr);

  absl::Status MarkReplayed(int64_t id, LedgerTx* txn = nullptr);

 private:
  explicit Ledger(storage::Database* db) : db_(db) {}
  absl::Status Exec(LedgerTx* txn, const std::string& sql,
                    const std::vector<storage::Value>& params);
  // Runs `fn` in `txn`, or in a transaction of its own (a write one committed after `fn`
  // succeeded).
  template <typename R, typename Fn>
  R InTx(LedgerTx* txn, bool write, Fn fn);
  storage::Database* db_;
};

}  // namespace dossiersync::sync

#endif  // DOSSIERSYNC_SERVICES_SYNC_LEDGER_H_
