// The pusher's third phase: progress steps to CapNhatTienDoHoSoMC (see pusher.h).
#include <set>

#include "absl/strings/str_cat.h"
#include "common/dvcqg/mapping.h"
#include "common/log.h"
#include "services/sync/pusher.h"

namespace dossiersync::sync {

bool Pusher::VerifyUncertain(const std::string& code, std::vector<StoredStep>& steps,
                             std::vector<std::string>* pushed, Outcome* failed) {
  dvcqg::LookupResult l = api_->Lookup(code);
  if (l.call.outcome != dvcqg::Outcome::kAccepted) {
    *failed =
        CallFailure(dvcqg::kServiceLookup, l.call, absl::StrCat("verify steps: ", l.call.message));
    return false;
  }
  std::multiset<std::string> national = dvcqg::NationalStepKeys(l.call.response);
  std::vector<StoredStep> to_send;
  for (auto& s : steps) {
    std::string key = dvcqg::StepRowKey(s.step, MapStatus(s.step.status()), api_->config().limits);
    auto it = s.uncertain ? national.find(key) : national.end();
    if (it != national.end()) {
      national.erase(it);
      pushed->push_back(s.step_id);
    } else {
      to_send.push_back(std::move(s));
    }
  }
  steps = std::move(to_send);
  return true;
}

void Pusher::PushSteps(std::map<std::string, std::vector<StoredStep>>& steps, Outcomes& outcomes,
                       std::map<std::string, std::vector<std::string>>& sent) {
  const size_t chunk = static_cast<size_t>(api_->config().progress_chunk);
  std::vector<std::string> shareable;  // few enough rows to share a call with other dossiers
  for (auto& [code, unsent] : steps) {
    bool uncertain = false;
    for (const auto& s : unsent) uncertain |= s.uncertain;
    if (uncertain) {
      // Steps whose earlier push had an uncertain outcome: ask DVCQG which it has.
      Outcome failed;
      if (!VerifyUncertain(code, unsent, &sent[code], &failed)) {
        outcomes[code] = failed;
        continue;
      }
      outcomes[code].service = dvcqg::kServiceLookup;
    }
    if (unsent.empty()) continue;
    if (unsent.size() < chunk && !mixed_refused_) {
      shareable.push_back(code);
    } else {
      outcomes[code] = SendSteps(code, unsent, &sent[code]);
    }
  }
  for (size_t i = 0; i < shareable.size();) {
    std::vector<std::string> group;
    size_t rows = 0;
    while (i < shareable.size() && rows + steps[shareable[i]].size() <= chunk) {
      rows += steps[shareable[i]].size();
      group.push_back(shareable[i++]);
    }
    if (group.size() > 1 && !mixed_refused_) {
      SendShared(group, steps, outcomes, sent);
      continue;
    }
    // Alone: a group of one, or DVCQG refused a shared call meanwhile (this batch's too).
    for (const std::string& code : group)
      outcomes[code] = SendSteps(code, steps[code], &sent[code]);
  }
}

void Pusher::SendShared(const std::vector<std::string>& group,
                        std::map<std::string, std::vector<StoredStep>>& steps, Outcomes& outcomes,
                        std::map<std::string, std::vector<std::string>>& sent) {
  std::vector<dvcqg::ProgressRow> rows;
  for (const std::string& code : group) {
    for (const StoredStep& s : steps[code]) {
      rows.push_back({code, &s.step, MapStatus(s.step.status())});
    }
  }
  const dvcqg::CallResult r = api_->UpdateProgressRows(rows);
  std::vector<std::string> alone;
  for (size_t k = 0; k < group.size(); ++k) {
    const std::string& code = group[k];
    const dvcqg::ItemResult* ir = k < r.items.size() ? &r.items[k] : nullptr;
    const dvcqg::Outcome oc = ir != nullptr ? ir->outcome : r.outcome;
    if (oc == dvcqg::Outcome::kAccepted) {
      for (const StoredStep& s : steps[code]) sent[code].push_back(s.step_id);
      outcomes[code].service = dvcqg::kServiceProgress;
      continue;
    }
    if (oc == dvcqg::Outcome::kInvalidItem) {
      alone.push_back(code);
      continue;
    }
    dvcqg::CallResult mine = r;
    if (ir != nullptr) {
      mine.outcome = ir->outcome;
      mine.error_code = ir->error_code;
      if (!ir->message.empty()) mine.message = ir->message;
    }
    outcomes[code] = CallFailure(dvcqg::kServiceProgress, mine, mine.message);
    if (oc == dvcqg::Outcome::kNotFound) {
      // DVCQG does not have the dossier: create it again first, then every step.
      // Safe to ignore: if not recorded, the next attempt meets "không tồn tại" again.
      (void)ledger_->ResetNational(code);
      sent[code].clear();
    }
  }
  if (alone.empty()) return;
  if (alone.size() == group.size() && r.outcome == dvcqg::Outcome::kInvalidItem &&
      !mixed_refused_.exchange(true)) {
    LogWarn(
        "DVCQG refused a progress call naming several dossiers; one dossier per call from now on",
        {{"error", r.message}, {"dossiers", static_cast<int64_t>(group.size())}});
  }
  for (const std::string& code : alone) outcomes[code] = SendSteps(code, steps[code], &sent[code]);
}

Outcome Pusher::SendSteps(const std::string& code, const std::vector<StoredStep>& steps,
                          std::vector<std::string>* pushed) {
  const size_t chunk = static_cast<size_t>(api_->config().progress_chunk);
  for (size_t i = 0; i < steps.size(); i += chunk) {
    std::vector<std::string> ids;
    std::vector<dvcqg::StepItem> items;
    for (size_t k = i; k < std::min(steps.size(), i + chunk); ++k) {
      ids.push_back(steps[k].step_id);
      items.push_back({&steps[k].step, MapStatus(steps[k].step.status())});
    }
    std::vector<dvcqg::CallResult> rs = api_->UpdateProgress(code, items);
    const dvcqg::CallResult& r = rs.back();
    if (r.outcome == dvcqg::Outcome::kAccepted) {
      pushed->insert(pushed->end(), ids.begin(), ids.end());
      continue;
    }
    Outcome o = CallFailure(dvcqg::kServiceProgress, r, r.message);
    if (r.outcome == dvcqg::Outcome::kNotFound) {
      // DVCQG does not have the dossier: create it again first, then every step.
      // Safe to ignore: if not recorded, the next attempt meets "không tồn tại" again.
      (void)ledger_->ResetNational(code);
      pushed->clear();
    } else if (r.outcome == dvcqg::Outcome::kInvalidItem) {
      o.result = Result::kDeadLetter;
      if (!r.field.empty()) o.error = absl::StrCat(r.field, ": ", o.error);
    }
    return o;
  }
  Outcome done;
  done.service = dvcqg::kServiceProgress;
  return done;
}

}  // namespace dossiersync::sync
