// Drift classification (SPEC §7): one dossier's provincial truth against its national state.
//
//   MISSING_NATIONALLY    DVCQG does not have the dossier
//   UNKNOWN_PROVINCIALLY  DVCQG has a code the province does not
//   STALE_NATIONALLY      DVCQG has an older stage of the dossier (its status is earlier along the
//                         flow and every date it has agrees): the sync has not caught up
//   STATUS_MISMATCH       the statuses contradict each other (not explained by lagging)
//   FIELD_MISMATCH        same status, but dates, agency, procedure or a scored field differ
//                         (channel, digitisation and payment flags, VNeID, databases, result
//                         files, fees, supplement requests: dvcqg::kComparedScored)
//   STEPS_MISSING         progress steps of the province absent nationally
// A dossier can show several kinds at once (e.g. stale and steps missing). Every kind is
// repairable by a resync of the dossier; STEPS_MISSING and MISSING_NATIONALLY need a full one.
//
// Thread safety: pure functions.
#ifndef DOSSIERSYNC_SERVICES_RECONCILIATION_DRIFT_H_
#define DOSSIERSYNC_SERVICES_RECONCILIATION_DRIFT_H_

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "common/dvcqg/status_map.h"
#include "dossiersync/v1/dossier.pb.h"
#include "dossiersync/v1/events.pb.h"

namespace dossiersync::reconciliation {

struct Finding {
  dossiersync::v1::DriftKind kind;
  std::string detail;
  bool full_resync = false;  // every step must be sent again
};

// `provincial` and `national` carry their steps (Dossier.steps). `status_map` is the sync's
// mapping from our status to the DVCQG code. `history` (intake's GetDossierHistory, oldest first)
// turns the status guess into evidence: when it holds the current revision, a national snapshot
// equal to an older revision (status and the compared fields) is STALE_NATIONALLY whatever the
// stages say, and one equal to none is STATUS_MISMATCH. Without it (nullptr, or a history from
// before intake kept one) the stage table decides as described above.
std::vector<Finding> Classify(const std::optional<dossiersync::v1::Dossier>& provincial,
                              const std::optional<dossiersync::v1::Dossier>& national,
                              const dvcqg::StatusMap& status_map,
                              const std::vector<dossiersync::v1::Dossier>* history = nullptr);

// The older provincial revision a national snapshot equals (its mapped status and every compared
// field), or nullptr.
const dossiersync::v1::Dossier* HeldRevision(const dossiersync::v1::Dossier& national,
                                             const dossiersync::v1::Dossier& provincial,
                                             const std::vector<dossiersync::v1::Dossier>& history,
                                             const dvcqg::StatusMap& status_map);

// Stage of a status along the flow 1 → 2 → 4 → 5|6|8 → 9 → 10 (3 and 7 end it).
int Stage(int status);

}  // namespace dossiersync::reconciliation

#endif  // DOSSIERSYNC_SERVICES_RECONCILIATION_DRIFT_H_
