#include "services/reconciliation/drift.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/dvcqg/mapping.h"

namespace dossiersync::reconciliation {
namespace {

using dossiersync::v1::Dossier;
using dossiersync::v1::DriftKind;
using nlohmann::json;

int Mapped(const dvcqg::StatusMap& m, int s) { return dvcqg::MapStatus(m, s); }

}  // namespace

int Stage(int status) {
  switch (status) {
    case 1:
      return 0;
    case 2:
      return 1;
    case 4:
      return 2;
    case 5:
    case 6:
    case 8:
      return 3;
    case 9:
      return 4;
    case 3:
    case 7:
    case 10:
      return 5;
  }
  return -1;
}

const Dossier* HeldRevision(const Dossier& national, const Dossier& provincial,
                            const std::vector<Dossier>& history,
                            const dvcqg::StatusMap& status_map) {
  const dvcqg::ComparedFields n = dvcqg::CompareFieldsOf(national);
  for (auto it = history.rbegin(); it != history.rend(); ++it) {
    if (it->revision() >= provincial.revision()) continue;
    if (Mapped(status_map, it->status()) != national.status()) continue;
    const dvcqg::ComparedFields r = dvcqg::CompareFieldsOf(*it);
    if (r.dates == n.dates && r.identity == n.identity && r.scored == n.scored) return &*it;
  }
  return nullptr;
}

// Status, dates, identity and scored fields: which provincial revision DVCQG's snapshot equals
// decides between stale and a mismatch (with intake's history); without it, the stages guess.
static void CompareStatusAndFields(const Dossier& provincial, const Dossier& national,
                                   const dvcqg::StatusMap& status_map,
                                   const std::vector<Dossier>* history,
                                   std::vector<Finding>* findings) {
  std::vector<Finding>& out = *findings;
  const int want = Mapped(status_map, provincial.status());
  const int have = national.status();
  // The fields as DVCQG gets them (dvcqg::CompareFieldsOf writes them as DossierToJson does).
  const dvcqg::ComparedFields p = dvcqg::CompareFieldsOf(provincial);
  const dvcqg::ComparedFields n = dvcqg::CompareFieldsOf(national);
  std::vector<std::string> dates_differ, identity_differ;
  bool national_dates_agree = true;  // every date DVCQG has equals ours
  for (size_t i = 0; i < p.dates.size(); ++i) {
    if (p.dates[i] != n.dates[i]) {
      dates_differ.push_back(dvcqg::kComparedDates[i]);
      if (!n.dates[i].empty()) national_dates_agree = false;
    }
  }
  for (size_t i = 0; i < p.identity.size(); ++i) {
    if (p.identity[i] != n.identity[i]) identity_differ.push_back(dvcqg::kComparedIdentity[i]);
  }
  // The fields the national scoring reads: a flag changed at DVCQG costs points.
  std::vector<std::string> scored_differ;
  for (size_t i = 0; i < p.scored.size(); ++i) {
    if (p.scored[i] != n.scored[i]) scored_differ.push_back(dvcqg::kComparedScored[i]);
  }
  // A snapshot cannot carry dates of stages after its own status: DVCQG at "stopped" with a
  // return date was changed, not left behind (dates[3] NgayKetThucXuLy, dates[4] NgayTra).
  bool has_later_dates =
      (!n.dates[3].empty() && have != 9 && have != 10) || (!n.dates[4].empty() && have != 10);
  const bool evidence =
      history != nullptr && std::any_of(history->begin(), history->end(), [&](const Dossier& r) {
        return r.revision() == provincial.revision();
      });
  if (want != have && evidence) {
    // Which provincial revision DVCQG holds decides, not the stages.
    if (const Dossier* held = HeldRevision(national, provincial, *history, status_map)) {
      out.push_back({dossiersync::v1::DRIFT_KIND_STALE_NATIONALLY,
                     absl::StrCat("DVCQG holds provincial revision ", held->revision(), " (status ",
                                  have, "), the province is at revision ", provincial.revision(),
                                  " (status ", want, ")"),
                     false});
    } else {
      out.push_back({dossiersync::v1::DRIFT_KIND_STATUS_MISMATCH,
                     absl::StrCat("DVCQG says ", have, ", province says ", want,
                                  "; DVCQG's snapshot equals no provincial revision"),
                     false});
    }
  } else if (want != have) {
    // No history to compare with (intake could not answer): the stages guess, and say so.
    if (Stage(have) >= 0 && Stage(have) < Stage(want) && national_dates_agree && !has_later_dates &&
        identity_differ.empty()) {
      out.push_back({dossiersync::v1::DRIFT_KIND_STALE_NATIONALLY,
                     absl::StrCat("DVCQG at status ", have, ", province at ", want,
                                  history == nullptr ? " (by stage: no provincial history)" : ""),
                     false});
    } else {
      out.push_back({dossiersync::v1::DRIFT_KIND_STATUS_MISMATCH,
                     absl::StrCat("DVCQG says ", have, ", province says ", want,
                                  history == nullptr ? " (by stage: no provincial history)" : ""),
                     false});
    }
  } else if (!dates_differ.empty() || !identity_differ.empty() || !scored_differ.empty()) {
    std::vector<std::string> fields = dates_differ;
    fields.insert(fields.end(), identity_differ.begin(), identity_differ.end());
    fields.insert(fields.end(), scored_differ.begin(), scored_differ.end());
    out.push_back({dossiersync::v1::DRIFT_KIND_FIELD_MISMATCH,
                   absl::StrCat("differs: ", absl::StrJoin(fields, ", ")), false});
  }
}

// Steps: every provincial step must be among DVCQG's progress rows.
static void CompareSteps(const Dossier& provincial, const Dossier& national,
                         const dvcqg::StatusMap& status_map, std::vector<Finding>* findings) {
  std::vector<Finding>& out = *findings;
  std::multiset<std::string> national_rows;
  for (const auto& s : national.steps()) {
    national_rows.insert(dvcqg::StepRowKey(s, s.status()));
  }
  int missing = 0;
  for (const auto& s : provincial.steps()) {
    auto it = national_rows.find(dvcqg::StepRowKey(s, Mapped(status_map, s.status())));
    if (it == national_rows.end()) {
      ++missing;
    } else {
      national_rows.erase(it);
    }
  }
  if (missing > 0) {
    out.push_back(
        {dossiersync::v1::DRIFT_KIND_STEPS_MISSING,
         absl::StrCat(missing, " of ", provincial.steps_size(), " steps missing at DVCQG"), true});
  }
}

std::vector<Finding> Classify(const std::optional<Dossier>& provincial,
                              const std::optional<Dossier>& national,
                              const dvcqg::StatusMap& status_map,
                              const std::vector<Dossier>* history) {
  std::vector<Finding> out;
  if (!provincial && !national) return out;
  if (!provincial) {
    out.push_back({dossiersync::v1::DRIFT_KIND_UNKNOWN_PROVINCIALLY,
                   absl::StrCat("DVCQG has ", national->code(), "; the province does not"), false});
    return out;
  }
  if (!national) {
    out.push_back({dossiersync::v1::DRIFT_KIND_MISSING_NATIONALLY,
                   absl::StrCat("status ", provincial->status(), " provincially, absent at DVCQG"),
                   true});
    return out;
  }
  CompareStatusAndFields(*provincial, *national, status_map, history, &out);
  CompareSteps(*provincial, *national, status_map, &out);
  return out;
}

}  // namespace dossiersync::reconciliation
