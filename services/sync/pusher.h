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
// Thread safety: thread-safe (no state between calls) as long as its Api and Ledger are.
#ifndef DOSSIERSYNC_SERVICES_SYNC_PUSHER_H_
#define DOSSIERSYNC_SERVICES_SYNC_PUSHER_H_

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
  // Sends `steps` (unsent, already marked uncertain in the ledger); appends to `pushed` the ones
  // DVCQG has now. No ledger writes but ResetNational.
  Outcome PushSteps(const std::string& code, std::vector<StoredStep> steps,
                    std::vector<std::string>* pushed);
  // Asks DVCQG which of the uncertain `steps` it has: those move to `pushed`, the rest stay.
  // False (and `*failed` set) when the lookup failed.
  bool VerifyUncertain(const std::string& code, std::vector<StoredStep>& steps,
                       std::vector<std::string>* pushed, Outcome* failed);
  void RecordSentSteps(const std::map<std::string, std::vector<std::string>>& sent);
  int MapStatus(int s) const { return dvcqg::MapStatus(options_.status_map, s); }

  const PusherOptions options_;
  dvcqg::Api* api_;
  Ledger* ledger_;
};

}  // namespace dossiersync::sync

#endif  // DOSSIERSYNC_SERVICES_SYNC_PUSHER_H_
