// `dossierctl score`: the national score forecast (ReconciliationService.GetScore) printed for a
// person: per indicator the provincial and national numerator / denominator, ratio and points,
// what the sync gap costs and the dossiers behind it; then one line per agency.
//
// Thread safety: pure functions.
#ifndef DOSSIERSYNC_TOOLS_DOSSIERCTL_SCORE_H_
#define DOSSIERSYNC_TOOLS_DOSSIERCTL_SCORE_H_

#include <ostream>

#include "dossiersync/v1/reconciliation.pb.h"

namespace dossiersync::tools {

void PrintScore(const dossiersync::v1::Score& score, const std::string& agency, std::ostream& out);

}  // namespace dossiersync::tools

#endif  // DOSSIERSYNC_TOOLS_DOSSIERCTL_SCORE_H_
