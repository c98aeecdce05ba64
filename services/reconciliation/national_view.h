// What DVCQG holds of a provincial dossier by the latest evidence: the reconciliation's latest
// check of it and the sync's last result (RunStore::Evidence). KPIs (in-sync share) and the score
// read it, not the last run's ratio, so a run over a few dossiers changes only what it saw.
//
//   the sync accepted the current revision after the latest check   -> in sync, the provincial
//                                                                       snapshot is at DVCQG
//   else a check: in sync if it found no drift at the current revision; DVCQG holds what it saw
//       (the provincial snapshot when it found none: the revision it checked is not kept, so a
//       later unsynced change is approximated by the current snapshot)
//   else a sync result accepted for an older revision               -> not in sync, present
//   else                                                            -> unknown (no evidence)
//
// Thread safety: pure functions.
#ifndef DOSSIERSYNC_SERVICES_RECONCILIATION_NATIONAL_VIEW_H_
#define DOSSIERSYNC_SERVICES_RECONCILIATION_NATIONAL_VIEW_H_

#include "dossiersync/v1/dossier.pb.h"
#include "services/reconciliation/run_store.h"

namespace dossiersync::reconciliation {

struct NationalView {
  bool known = false;    // any evidence at all
  bool in_sync = false;  // DVCQG holds the current provincial revision
  // What DVCQG holds: the provincial snapshot, the checked national one, or nullptr (absent or
  // unknown).
  const dossiersync::v1::Dossier* snapshot = nullptr;
};

struct SyncFlags {
  bool known = false;
  bool in_sync = false;
};

// NationalView's `known` and `in_sync` for a provincial dossier at `revision` (what the KPIs keep
// per dossier).
SyncFlags SyncFlagsOf(int64_t revision, const DossierEvidence* evidence);

// `evidence` may be null (nothing known). The result points into `provincial` or `evidence`.
NationalView NationalViewOf(const dossiersync::v1::Dossier& provincial,
                            const DossierEvidence* evidence);

}  // namespace dossiersync::reconciliation

#endif  // DOSSIERSYNC_SERVICES_RECONCILIATION_NATIONAL_VIEW_H_
