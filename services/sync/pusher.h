// The pusher: brings DVCQG up to date with a batch of dossiers, deciding from the sync's ledger
// what each one needs. Per batch, one ledger transaction per phase (LedgerTx, passed explicitly;
// none open during a DVCQG call):
//   1. record what arrived (snapshot, new steps); pick the dossiers whose newest revision DVCQG
//      lacks (or all, when forced);
//   2. their snapshots in DongBoHoSoMC calls grouped into create and update by the ledger;
//      "đã tồn tại" on create -> update and "không tồn tại" on update -> create, at once;
//   3. each pushed dossier's unsent steps, claimed first (marked uncertain: a crash or timeout
//      during the call is verified with TraCuuHoSo before anything is sent again), sent with
//      CapNhatTienDoHoSoMC, then marked pushed.
// Never sends a revision older than the one DVCQG has; never resends a step DVCQG has.
// What it does not do: wait, retry, rate-limit or trip a breaker (the engine's scheduler and
// policies do, around it; the engine's Api wrapper applies the rate limit and feeds the breaker).
//
// Thread safety: thread-safe as long as its Api and Ledger are (the only state between calls is an
// atomic flag).
#ifndef DOSSIERSYNC_SERVICES_SYNC_PUSHER_H_
#define DOSSIERSYNC_SERVICES_SYNC_PUSHER_H_

#include <atomic>
#include <map>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/dvcqg/client.h"
#include "common/dvcqg/status_map.h"
#include "dossiersync/v1/events.pb.h"
#include "prometheus/histogram.h"
#include "services/sync/ledger.h"

namespace dossiersync::sync {

// How an attempt at a dossier ended.
enum class Result { kDone, kRetry, kDeadLetter };
struct Outcome {
  Result result = Result::kDone;
  std::string error;
  std::string error_code;
  absl::Duration retry_after = absl::ZeroDuration();
  dvcqg::Outcome dvcqg = dvcqg::Outcome::kAccepted;
  const char* service = "";  // the last DVCQG service this attempt called ("" = none needed)
};

// One dossier of a batch: the changes that arrived for it, oldest first.
struct PushItem {
  std::string code;
  std::vector<const dossiersync::v1::DossierChange*> changes;
  bool force = false;  // push the snapshot even if DVCQG has this revision (resync)
};

struct PusherOptions {
  dvcqg::StatusMap status_map = dvcqg::kIdentityStatusMap;  // ours -> DVCQG
  // From intake acceptance to DVCQG acceptance of each snapshot; may be null.
  prometheus::Histogram* push_latency = nullptr;
};

class Pusher {
 public:
  Pusher(PusherOptions options, dvcqg::Api* api, Ledger* ledger)
      : options_(std::move(options)), api_(api), ledger_(ledger) {}

  // One outcome per item (by code; codes are distinct within a batch).
  std::map<std::string, Outcome> Push(const std::vector<PushItem>& items);

 private:
  // A dossier whose snapshot goes to DVCQG: its newest change and whether we created it there.
  struct SnapshotItem {
    std::string code;
    dossiersync::v1::DossierChange latest;
    bool created;
  };
  using Outcomes = std::map<std::string, Outcome>;
  std::vector<std::string> RecordArrivals(const std::vector<PushItem>& items, Outcomes& outcomes);
  void PushSnapshots(const std::vector<std::string>& codes, Outcomes& outcomes);
  // Records one DongBoHoSoMC answer for its items: accepted, flipped (create <-> update, into
  // `again`), dead-lettered or to retry; one ledger transaction.
  void RecordSyncAnswer(const std::vector<SnapshotItem*>& group, const dvcqg::CallResult& r,
                        bool update, Outcomes& outcomes, std::vector<SnapshotItem>& again);
  std::map<std::string, std::vector<StoredStep>> ClaimUnsentSteps(
      const std::vector<PushItem>& items, Outcomes& outcomes);
  // Sends every dossier's unsent steps (already marked uncertain in the ledger), verifying
  // uncertain ones first; appends to sent[code] the ids DVCQG has now. Dossiers with a few rows
  // share CapNhatTienDoHoSoMC calls (rows name their dossier; up to progress_chunk rows a call);
  // when DVCQG refuses a call naming several dossiers, one dossier per call from then on.
  // No ledger writes but ResetNational. (pusher_steps.cc)
  void PushSteps(std::map<std::string, std::vector<StoredStep>>& steps, Outcomes& outcomes,
                 std::map<std::string, std::vector<std::string>>& sent);
  // One dossier's steps in calls of its own.
  Outcome SendSteps(const std::string& code, const std::vector<StoredStep>& steps,
                    std::vector<std::string>* pushed);
  // The steps of `group` (two or more dossiers) in one call; an item refused as invalid is sent
  // again alone (a refused mix, or the dossier's own fault: then it dead-letters).
  void SendShared(const std::vector<std::string>& group,
                  std::map<std::string, std::vector<StoredStep>>& steps, Outcomes& outcomes,
                  std::map<std::string, std::vector<std::string>>& sent);
  // Asks DVCQG which of the uncertain `steps` it has: those move to `pushed`, the rest stay.
  // False (and `*failed` set) when the lookup failed.
  bool VerifyUncertain(const std::string& code, std::vector<StoredStep>& steps,
                       std::vector<std::string>* pushed, Outcome* failed);
  void RecordSentSteps(const std::map<std::string, std::vector<std::string>>& sent);
  int MapStatus(int s) const { return dvcqg::MapStatus(options_.status_map, s); }

  const PusherOptions options_;
  dvcqg::Api* api_;
  Ledger* ledger_;
  // DVCQG refused a progress call naming several dossiers: one dossier per call from now on.
  std::atomic<bool> mixed_refused_{false};
};

// A failed call's outcome for a dossier: retry, honouring DVCQG's Retry-After.
Outcome CallFailure(const char* service, const dvcqg::CallResult& r, std::string error);

}  // namespace dossiersync::sync

#endif  // DOSSIERSYNC_SERVICES_SYNC_PUSHER_H_
