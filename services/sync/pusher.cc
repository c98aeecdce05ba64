#include "services/sync/pusher.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/dvcqg/mapping.h"
#include "common/log.h"
#include "google/protobuf/util/time_util.h"

namespace dossiersync::sync {

using dossiersync::v1::DossierChange;
using google::protobuf::util::TimeUtil;

namespace {

Outcome RetryOutcome(std::string error) {
  Outcome o;
  o.result = Result::kRetry;
  o.error = std::move(error);
  return o;
}

Outcome LedgerFailure(const absl::Status& st) {
  return RetryOutcome(absl::StrCat("ledger: ", st.message()));
}

}  // namespace

Outcome CallFailure(const char* service, const dvcqg::CallResult& r, std::string error) {
  Outcome o = RetryOutcome(std::move(error));
  o.service = service;
  o.error_code = r.error_code;
  o.retry_after = r.retry_after;
  o.dvcqg = r.outcome;
  return o;
}

std::map<std::string, Outcome> Pusher::Push(const std::vector<PushItem>& items) {
  Outcomes outcomes;
  for (const PushItem& it : items) outcomes[it.code] = Outcome{};
  std::vector<std::string> need_snapshot = RecordArrivals(items, outcomes);
  if (!need_snapshot.empty()) PushSnapshots(need_snapshot, outcomes);
  std::map<std::string, std::vector<StoredStep>> steps = ClaimUnsentSteps(items, outcomes);
  std::map<std::string, std::vector<std::string>> sent;
  PushSteps(steps, outcomes, sent);
  RecordSentSteps(sent);
  return outcomes;
}

std::vector<std::string> Pusher::RecordArrivals(const std::vector<PushItem>& items,
                                                Outcomes& outcomes) {
  std::vector<std::string> need_snapshot;
  auto tx = ledger_->Begin();
  if (!tx.ok()) {
    for (const PushItem& it : items) outcomes[it.code] = LedgerFailure(tx.status());
    return need_snapshot;
  }
  for (const PushItem& it : items) {
    Outcome& o = outcomes[it.code];
    int64_t newest = 0;
    for (const DossierChange* c : it.changes) {
      if (absl::Status st = ledger_->RecordSeen(*c, tx->get()); !st.ok()) {
        o = LedgerFailure(st);
        break;
      }
      newest = std::max(newest, c->revision());
    }
    if (o.result != Result::kDone) continue;
    auto row = ledger_->Get(it.code, tx->get());
    if (!row.ok() || !row->has_value()) {
      o = RetryOutcome("ledger read failed");
      continue;
    }
    if (it.force || newest > (*row)->revision_pushed) need_snapshot.push_back(it.code);
  }
  if (absl::Status st = (*tx)->Commit(); !st.ok()) {
    for (const PushItem& it : items) outcomes[it.code] = LedgerFailure(st);
    need_snapshot.clear();
  }
  return need_snapshot;
}

std::map<std::string, std::vector<StoredStep>> Pusher::ClaimUnsentSteps(
    const std::vector<PushItem>& items, Outcomes& outcomes) {
  std::map<std::string, std::vector<StoredStep>> steps;
  auto tx = ledger_->Begin();
  if (!tx.ok()) {
    for (auto& [code, o] : outcomes) {
      if (o.result == Result::kDone) o = LedgerFailure(tx.status());
    }
    return steps;
  }
  for (const PushItem& it : items) {
    Outcome& o = outcomes[it.code];
    if (o.result != Result::kDone) continue;
    auto unsent = ledger_->UnpushedSteps(it.code, tx->get());
    if (!unsent.ok()) {
      o = LedgerFailure(unsent.status());
      continue;
    }
    if (unsent->empty()) continue;
    std::vector<std::string> ids;
    for (const auto& st : *unsent) ids.push_back(st.step_id);
    if (auto st = ledger_->MarkStepsUncertain(it.code, ids, tx->get()); !st.ok()) {
      o = LedgerFailure(st);
      continue;
    }
    steps[it.code] = std::move(*unsent);
  }
  if (absl::Status st = (*tx)->Commit(); !st.ok()) {
    for (auto& [code, unused] : steps) outcomes[code] = LedgerFailure(st);
    steps.clear();
  }
  return steps;
}

void Pusher::RecordSentSteps(const std::map<std::string, std::vector<std::string>>& sent) {
  auto tx = ledger_->Begin();
  absl::Status st = tx.status();
  if (tx.ok()) {
    for (const auto& [code, ids] : sent) {
      // Safe to ignore one: its steps stay marked uncertain and are verified before a resend.
      if (!ids.empty()) (void)ledger_->MarkStepsPushed(code, ids, tx->get());
    }
    st = (*tx)->Commit();
  }
  if (!st.ok()) {
    // They stay marked uncertain: the next push of these dossiers verifies them first.
    LogWarn("ledger: steps sent but not recorded", {{"error", std::string(st.message())}});
  }
}

void Pusher::PushSnapshots(const std::vector<std::string>& codes, Outcomes& outcomes) {
  // The newest snapshot per dossier, with the ledger's create/update decision (reads only: one
  // transaction instead of two per item, dropped without a commit).
  std::vector<SnapshotItem> todo;
  {
    auto tx = ledger_->Begin();
    for (const std::string& code : codes) {
      if (!tx.ok()) {
        outcomes[code] = LedgerFailure(tx.status());
        continue;
      }
      auto latest = ledger_->Latest(code, tx->get());
      auto row = ledger_->Get(code, tx->get());
      if (!latest.ok() || !latest->has_value() || !row.ok() || !row->has_value()) {
        outcomes[code] = RetryOutcome("ledger read failed");
        continue;
      }
      todo.push_back({code, std::move(**latest), (*row)->created});
    }
  }
  // Two rounds: a create answered "đã tồn tại" becomes an update, an update answered
  // "không tồn tại" a create.
  for (int round = 0; round < 2 && !todo.empty(); ++round) {
    std::vector<SnapshotItem> again;
    // The groups are fixed before the calls: an item flipped by the create call goes to the next
    // round, not to this round's update call as well (regression: each "đã tồn tại" was followed
    // by two identical updates).
    std::vector<SnapshotItem*> groups[2];
    for (SnapshotItem& it : todo) groups[it.created ? 1 : 0].push_back(&it);
    for (bool update : {false, true}) {
      std::vector<SnapshotItem*>& group = groups[update ? 1 : 0];
      if (group.empty()) continue;
      std::vector<dvcqg::DossierItem> call_items;
      for (SnapshotItem* it : group) {
        call_items.push_back({&it->latest.dossier(), MapStatus(it->latest.dossier().status())});
      }
      dvcqg::CallResult r = api_->SyncDossiers(call_items, update);
      RecordSyncAnswer(group, r, update, outcomes, again);
    }
    todo = std::move(again);
  }
  for (SnapshotItem& it : todo) {  // flipped twice: give up for now
    outcomes[it.code] = RetryOutcome("create/update flipped twice");
  }
}

void Pusher::RecordSyncAnswer(const std::vector<SnapshotItem*>& group, const dvcqg::CallResult& r,
                              bool update, Outcomes& outcomes, std::vector<SnapshotItem>& again) {
  auto tx = ledger_->Begin();  // the ledger's record of this call: one commit
  const size_t again_before = again.size();
  for (size_t i = 0; i < group.size() && tx.ok(); ++i) {
    SnapshotItem* it = group[i];
    const dvcqg::ItemResult& ir = i < r.items.size() ? r.items[i] : dvcqg::ItemResult{};
    dvcqg::Outcome oc = i < r.items.size() ? ir.outcome : r.outcome;
    Outcome& o = outcomes[it->code];
    o.service = dvcqg::kServiceSync;
    o.dvcqg = oc;
    o.error_code = ir.error_code;
    o.error = ir.message.empty() ? r.message : ir.message;
    if (oc == dvcqg::Outcome::kAccepted) {
      o.result = Result::kDone;
      if (auto st = ledger_->MarkPushed(it->code, it->latest.revision(), tx->get()); !st.ok()) {
        o = LedgerFailure(st);
        continue;
      }
      if (options_.push_latency != nullptr) {
        absl::Duration lag =
            absl::Now() -
            absl::FromUnixMicros(TimeUtil::TimestampToMicroseconds(it->latest.accepted_at()));
        options_.push_latency->Observe(absl::ToDoubleSeconds(lag));
      }
    } else if ((oc == dvcqg::Outcome::kAlreadyExists && !update) ||
               (oc == dvcqg::Outcome::kNotFound && update)) {
      it->created = !update;
      // Both ledger writes below commit with the transaction; a failed commit retries the call.
      (void)ledger_->SetCreated(it->code, it->created, tx->get());
      // A dossier DVCQG does not have has none of its steps either: send them all again.
      // One it has that we did not create may hold some already (SPEC §6: only the steps
      // DVCQG does not have): they are looked up before the first step push.
      (void)(update ? ledger_->ResetNational(it->code, tx->get())
                    : ledger_->RecheckSteps(it->code, tx->get()));
      again.push_back(*it);
    } else if (oc == dvcqg::Outcome::kInvalidItem) {
      o.result = Result::kDeadLetter;
      if (!ir.field.empty()) o.error = absl::StrCat(ir.field, ": ", o.error);
    } else {
      o.result = Result::kRetry;
      o.retry_after = r.retry_after;
      if (!update && (oc == dvcqg::Outcome::kTimeout || oc == dvcqg::Outcome::kServerError ||
                      oc == dvcqg::Outcome::kBadResponse || oc == dvcqg::Outcome::kNetworkError)) {
        // The create may have landed: the next attempt updates (a "không tồn tại" answer turns it
        // back into a create at once), so DVCQG never sees the same dossier created twice.
        (void)ledger_->SetCreated(it->code, true, tx->get());
      }
    }
  }
  absl::Status st = tx.ok() ? (*tx)->Commit() : tx.status();
  if (!st.ok()) {
    // None of it recorded: every item of the call is tried again (a create DVCQG already
    // took comes back "đã tồn tại" and becomes an update).
    for (SnapshotItem* it : group) outcomes[it->code] = LedgerFailure(st);
    again.resize(again_before);
  }
}

}  // namespace dossiersync::sync
