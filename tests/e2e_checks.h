// End-to-end checks against the DVCQG simulator's admin endpoints, shared by the sync, the
// reconciliation and the chaos suites: the simulator's final state equals the provincial final
// state of every dossier of a generated workload, no dossier's DVCQG history goes back to an older
// snapshot, and every progress step arrived exactly once.
//
// Thread safety: functions; `admin` must not be used by another thread meanwhile.
#ifndef DOSSIERSYNC_TESTS_E2E_CHECKS_H_
#define DOSSIERSYNC_TESTS_E2E_CHECKS_H_

#include <httplib.h>

#include <functional>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "tools/dossierctl/workload.h"

namespace dossiersync::testing {

// The identity of a DVCQG progress row (time, officer, what was done, status).
std::string RowKey(const nlohmann::json& row);

// The simulator's stored dossier, or null.
nlohmann::json SimStored(httplib::Client& admin, const std::string& code);

// True when each dossier i in [0, n) of the workload (those `only` accepts) is at the simulator
// equal to its last snapshot with every step; else false with the first difference in `why`.
bool SimMatchesWorkload(httplib::Client& admin, const tools::WorkloadOptions& workload, int n,
                        std::string* why, const std::function<bool(int)>& only = nullptr);

// The problems in the simulator's histories of dossiers [0, n): a write matching no provincial
// snapshot, a write going back to an older snapshot, a step missing or repeated. Empty when clean.
std::vector<std::string> HistoryProblems(httplib::Client& admin,
                                         const tools::WorkloadOptions& workload, int n);

}  // namespace dossiersync::testing

#endif  // DOSSIERSYNC_TESTS_E2E_CHECKS_H_
