// `dossierctl explain CODE`: a dossier's timeline (ReconciliationService.GetDossierTimeline)
// printed for a person: where it stands now (in sync, or the differences), the provincial and
// national fields side by side with the differing ones marked, then its story oldest first, in
// Vietnam time.
//
// Thread safety: pure functions.
#ifndef DOSSIERSYNC_TOOLS_DOSSIERCTL_EXPLAIN_H_
#define DOSSIERSYNC_TOOLS_DOSSIERCTL_EXPLAIN_H_

#include <ostream>

#include "dossiersync/v1/reconciliation.pb.h"

namespace dossiersync::tools {

void PrintTimeline(const dossiersync::v1::DossierTimeline& t, std::ostream& out);

}  // namespace dossiersync::tools

#endif  // DOSSIERSYNC_TOOLS_DOSSIERCTL_EXPLAIN_H_
