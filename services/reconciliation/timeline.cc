#include "services/reconciliation/timeline.h"

#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/dvcqg/mapping.h"
#include "common/errors.h"
#include "google/protobuf/util/time_util.h"
#include "services/reconciliation/drift.h"

namespace dossiersync::reconciliation {
namespace {

using dossiersync::v1::Dossier;
using dossiersync::v1::DossierTimeline;
using dossiersync::v1::SnapshotField;
using dossiersync::v1::SyncResult;
using dossiersync::v1::TimelineEvent;
using google::protobuf::util::TimeUtil;

constexpr size_t kMaxCodeLength = 100;

google::protobuf::Timestamp Ts(absl::Time t) {
  return TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(t));
}

std::string OutcomeWord(dossiersync::v1::SyncOutcome o) {
  switch (o) {
    case dossiersync::v1::SYNC_OUTCOME_ACCEPTED:
      return "accepted by DVCQG";
    case dossiersync::v1::SYNC_OUTCOME_RETRYING:
      return "not accepted, will be retried";
    case dossiersync::v1::SYNC_OUTCOME_DEAD_LETTERED:
      return "dead-lettered (needs an operator)";
    case dossiersync::v1::SYNC_OUTCOME_SKIPPED_STALE:
      return "skipped: a newer revision supersedes it";
    default:
      return "reported without an outcome";
  }
}

TimelineEvent SyncEvent(const SyncResult& r) {
  TimelineEvent e;
  *e.mutable_at() = r.at();
  e.set_kind(dossiersync::v1::TIMELINE_EVENT_KIND_SYNC_RESULT);
  e.set_revision(r.revision());
  std::string s = absl::StrCat("push of revision ", r.revision(), " ", OutcomeWord(r.outcome()));
  if (!r.service().empty())
    absl::StrAppend(&s, " (", r.service());
  else
    absl::StrAppend(&s, " (no call needed");
  absl::StrAppend(
      &s, ", attempt ", r.attempts(), ", ",
      absl::FormatDuration(absl::Milliseconds(TimeUtil::DurationToMilliseconds(r.latency()))), ")");
  if (!r.dvcqg_error_code().empty() || !r.dvcqg_message().empty()) {
    absl::StrAppend(&s, ": DVCQG said ", r.dvcqg_error_code(),
                    r.dvcqg_error_code().empty() ? "" : " ", r.dvcqg_message());
  }
  e.set_summary(std::move(s));
  *e.mutable_sync() = r;
  return e;
}

TimelineEvent DriftEvent(const DriftFound& f) {
  TimelineEvent e;
  *e.mutable_at() = Ts(f.run_started_at);
  e.set_kind(dossiersync::v1::TIMELINE_EVENT_KIND_DRIFT);
  std::string s =
      absl::StrCat("run ", f.item.run_id(), " (", f.trigger, ") found ",
                   dossiersync::v1::DriftKind_Name(f.item.kind()), ": ", f.item.detail());
  if (f.item.repair_requested()) absl::StrAppend(&s, "; repair requested");
  if (f.item.escalated()) absl::StrAppend(&s, "; escalated (an earlier repair did not hold)");
  e.set_summary(std::move(s));
  *e.mutable_drift() = f.item;
  e.set_run_id(f.item.run_id());
  e.set_run_trigger(f.trigger);
  return e;
}

TimelineEvent CheckEvent(const DossierCheck& c) {
  TimelineEvent e;
  *e.mutable_at() = Ts(c.checked_at);
  e.set_kind(dossiersync::v1::TIMELINE_EVENT_KIND_CHECKED);
  e.set_revision(c.revision);
  e.set_in_sync(c.in_sync);
  e.set_run_id(c.run_id);
  e.set_summary(absl::StrCat("latest check (run ", c.run_id, "): revision ", c.revision,
                             c.in_sync     ? " in sync with DVCQG"
                             : !c.national ? " absent at DVCQG"
                                           : " differs at DVCQG"));
  return e;
}

void AddField(std::vector<SnapshotField>& out, const std::string& name, const std::string& p,
              const std::string* n) {
  SnapshotField& f = out.emplace_back();
  f.set_name(name);
  f.set_provincial(p);
  if (n != nullptr) f.set_national(*n);
  f.set_differs(n == nullptr || p != *n);
}

}  // namespace

std::vector<SnapshotField> SideBySide(const Dossier& provincial, const Dossier* national,
                                      const dvcqg::StatusMap& status_map) {
  std::vector<SnapshotField> out;
  const std::string want = absl::StrCat(dvcqg::MapStatus(status_map, provincial.status()));
  const std::string have = national ? absl::StrCat(static_cast<int>(national->status())) : "";
  AddField(out, "TrangThaiHoSo", want, national ? &have : nullptr);
  const dvcqg::ComparedFields p = dvcqg::CompareFieldsOf(provincial);
  std::optional<dvcqg::ComparedFields> n;
  if (national) n = dvcqg::CompareFieldsOf(*national);
  for (size_t i = 0; i < p.dates.size(); ++i) {
    AddField(out, dvcqg::kComparedDates[i], p.dates[i], n ? &n->dates[i] : nullptr);
  }
  for (size_t i = 0; i < p.identity.size(); ++i) {
    AddField(out, dvcqg::kComparedIdentity[i], p.identity[i], n ? &n->identity[i] : nullptr);
  }
  for (size_t i = 0; i < p.scored.size(); ++i) {
    AddField(out, dvcqg::kComparedScored[i], p.scored[i], n ? &n->scored[i] : nullptr);
  }
  // Progress rows: how many of the province's are held nationally.
  int held = 0;
  if (national) {
    std::multiset<std::string> rows;
    for (const auto& s : national->steps()) rows.insert(dvcqg::StepRowKey(s, s.status()));
    for (const auto& s : provincial.steps()) {
      auto it = rows.find(dvcqg::StepRowKey(s, dvcqg::MapStatus(status_map, s.status())));
      if (it != rows.end()) {
        ++held;
        rows.erase(it);
      }
    }
  }
  const std::string steps = absl::StrCat(provincial.steps_size(), " steps");
  const std::string national_steps =
      national ? absl::StrCat(national->steps_size(), " rows, ", held, " of the province's") : "";
  SnapshotField& f = out.emplace_back();
  f.set_name("QuaTrinhXuLy");
  f.set_provincial(steps);
  f.set_national(national_steps);
  f.set_differs(national == nullptr || held < provincial.steps_size());
  return out;
}

void TimelineBuilder::AddProvincial(const std::string& code, DossierTimeline* out,
                                    std::vector<Dossier>* history) {
  dossiersync::v1::GetDossierRequest g;
  g.set_code(code);
  auto ctx = MakeContext(intake_client_, absl::Seconds(10));
  Dossier current;
  grpc::Status st = intake_->GetDossier(ctx.get(), g, &current);
  if (st.error_code() == grpc::StatusCode::NOT_FOUND) return;
  if (!st.ok()) {
    out->add_unavailable(absl::StrCat("intake GetDossier: ", st.error_message()));
    return;
  }
  out->set_agency_code(current.agency_code());
  g.set_include_publications(true);
  auto hctx = MakeContext(intake_client_, absl::Seconds(10));
  dossiersync::v1::DossierHistory h;
  st = intake_->GetDossierHistory(hctx.get(), g, &h);
  if (!st.ok()) {
    out->add_unavailable(absl::StrCat("intake GetDossierHistory: ", st.error_message()));
  }
  std::map<int64_t, const dossiersync::v1::Publication*> where;
  for (const auto& p : h.publications()) where.emplace(p.revision(), &p);  // the first landing
  history->assign(h.revisions().begin(), h.revisions().end());
  if (history->empty()) history->push_back(current);  // accepted before intake kept a history
  for (const Dossier& r : *history) {
    TimelineEvent& e = *out->add_events();
    *e.mutable_at() = r.changed_at();
    e.set_kind(dossiersync::v1::TIMELINE_EVENT_KIND_ACCEPTED);
    e.set_revision(r.revision());
    e.set_status(r.status());
    std::string s = absl::StrCat("intake accepted revision ", r.revision(), " (status ",
                                 static_cast<int>(r.status()), " ",
                                 dossiersync::v1::DossierStatus_Name(r.status()), ")");
    if (auto it = where.find(r.revision()); it != where.end()) {
      e.set_published(true);
      e.set_kafka_partition(it->second->partition());
      e.set_kafka_offset(it->second->offset());
      *e.mutable_published_at() = it->second->published_at();
      absl::StrAppend(&s, "; on Kafka at partition ", it->second->partition(), ", offset ",
                      it->second->offset());
    } else {
      e.set_kafka_partition(-1);
      e.set_kafka_offset(-1);
      absl::StrAppend(&s,
                      "; not in intake's published log (not yet published, or past its "
                      "retention)");
    }
    e.set_summary(std::move(s));
  }
  *out->mutable_provincial() = std::move(current);
  out->set_provincial_known(true);
}

void TimelineBuilder::AddNational(const std::string& code, bool lookup,
                                  const std::optional<DossierCheck>& check,
                                  const std::vector<Dossier>& history, DossierTimeline* out) {
  std::optional<Dossier> national;
  bool known = false;
  if (lookup) {
    dvcqg::LookupResult l = dvcqg_->Lookup(code);
    if (l.call.outcome == dvcqg::Outcome::kAccepted) {
      known = true;
      national = std::move(l.dossier);
      out->set_national_source("live");
      *out->mutable_national_seen_at() = Ts(absl::Now());
    } else {
      out->add_unavailable(absl::StrCat("DVCQG TraCuuHoSo: ", l.call.error_code,
                                        l.call.error_code.empty() ? "" : " ", l.call.message));
    }
  }
  if (!known && check && (!check->in_sync || !check->national)) {
    // The latest check's snapshot: stored when DVCQG differed (or absent).
    known = true;
    national = check->national;
    out->set_national_source("last-check");
    *out->mutable_national_seen_at() = Ts(check->checked_at);
  } else if (!known && check) {
    // In sync at that check: DVCQG held what the province had then, as DVCQG codes it.
    const Dossier* then = nullptr;
    if (out->provincial_known() && out->provincial().revision() == check->revision) {
      then = &out->provincial();  // with its steps
    } else {
      for (const Dossier& r : history) {
        if (r.revision() == check->revision) then = &r;
      }
      // A revision's snapshot has no steps: the province's are taken as held (not compared).
      if (then != nullptr)
        out->add_unavailable("progress rows at DVCQG (the latest check was of an older revision)");
    }
    if (then != nullptr) {
      known = true;
      national = *then;
      if (out->provincial_known() && national->steps().empty()) {
        *national->mutable_steps() = out->provincial().steps();
      }
      national->set_status(static_cast<dossiersync::v1::DossierStatus>(
          dvcqg::MapStatus(status_map_, national->status())));
      for (auto& step : *national->mutable_steps()) {
        step.set_status(static_cast<dossiersync::v1::DossierStatus>(
            dvcqg::MapStatus(status_map_, step.status())));
      }
      out->set_national_source("last-check");
      *out->mutable_national_seen_at() = Ts(check->checked_at);
    }
  }
  if (!known) return;
  out->set_national_present(national.has_value());
  if (national) *out->mutable_national() = *national;
  std::optional<Dossier> provincial;
  if (out->provincial_known()) provincial = out->provincial();
  if (provincial) {
    for (auto& f : SideBySide(*provincial, national ? &*national : nullptr, status_map_)) {
      *out->add_fields() = std::move(f);
    }
  }
  for (const Finding& f : Classify(provincial, national, status_map_, &history)) {
    dossiersync::v1::DriftItem& d = *out->add_differences();
    d.set_code(code);
    d.set_kind(f.kind);
    d.set_detail(f.detail);
  }
  out->set_in_sync(out->differences().empty() && (provincial || national));
}

absl::StatusOr<DossierTimeline> TimelineBuilder::Build(
    const dossiersync::v1::GetDossierTimelineRequest& req) {
  const std::string& code = req.code();
  if (code.empty()) return FieldError("code", "required");
  if (code.size() > kMaxCodeLength) {
    return FieldError("code", absl::StrCat("at most ", kMaxCodeLength, " characters"));
  }
  DossierTimeline out;
  out.set_code(code);
  auto results = store_->SyncResults(code);
  if (!results.ok()) return absl::UnavailableError(results.status().message());
  auto drift = store_->Drift(code);
  if (!drift.ok()) return absl::UnavailableError(drift.status().message());
  auto check = store_->LatestCheck(code);
  if (!check.ok()) return absl::UnavailableError(check.status().message());

  std::vector<Dossier> history;
  AddProvincial(code, &out, &history);
  for (const SyncResult& r : *results) {
    *out.add_events() = SyncEvent(r);
    if (out.agency_code().empty()) out.set_agency_code(r.agency_code());
  }
  for (const DriftFound& f : *drift) *out.add_events() = DriftEvent(f);
  if (*check) *out.add_events() = CheckEvent(**check);
  AddNational(code, !req.no_lookup(), *check, history, &out);
  if (out.agency_code().empty() && out.national_present()) {
    out.set_agency_code(out.national().agency_code());
  }
  if (!out.provincial_known() && out.events().empty() && !out.national_present() &&
      out.unavailable().empty()) {
    return ReasonError(
        absl::StatusCode::kNotFound, "DOSSIER_NOT_FOUND",
        absl::StrCat("neither intake, the sync, the reconciliation nor DVCQG knows ", code),
        {{"code", code}});
  }
  // Oldest first; at one instant the order of the story: accepted, pushed, found, checked.
  std::stable_sort(out.mutable_events()->begin(), out.mutable_events()->end(),
                   [](const TimelineEvent& a, const TimelineEvent& b) {
                     const int64_t ta = TimeUtil::TimestampToMicroseconds(a.at());
                     const int64_t tb = TimeUtil::TimestampToMicroseconds(b.at());
                     return ta != tb ? ta < tb : a.kind() < b.kind();
                   });
  return out;
}

}  // namespace dossiersync::reconciliation
