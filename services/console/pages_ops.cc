// Drift (/drift), dead letters (/dead-letters), runs (/runs) and the sign-in form.
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "services/console/pages.h"
#include "services/console/svg.h"

namespace dossiersync::console {
namespace {

std::string RunLink(const std::string& id) {
  return absl::StrCat("<a href=\"/drift?run=", UrlEncode(id), "\">", Escape(id), "</a>");
}

std::string DossierLink(const std::string& code) {
  return absl::StrCat("<a href=\"/dossier?code=", UrlEncode(code), "\">", Escape(code), "</a>");
}

std::string Consistency(Lang l, const dossiersync::v1::ReconciliationRun& r) {
  std::string s = Percent(l, r.consistency_ratio());
  if (r.sample_size() > 0) {
    absl::StrAppend(&s, " [", Percent(l, r.consistency_low()), " – ",
                    Percent(l, r.consistency_high()), "]");
  }
  return s;
}

}  // namespace

std::string RunsPage(const PageInput& in) {
  const Lang l = in.ctx.lang;
  const ConsoleConfig& c = *in.config;
  std::string body = in.notice;
  if (in.ctx.signed_in) {
    body += ActionForm(in.ctx, "/actions/reconcile", {}, Tr(l, "Start a reconciliation"),
                       absl::StrCat("<label><input type=\"checkbox\" name=\"repair\" value=\"1\" "
                                    "checked> ",
                                    Escape(Tr(l, "with repairs")), "</label> "));
  } else if (in.ctx.sign_in_available) {
    body += absl::StrCat("<p><a href=\"/signin\">", Escape(Tr(l, "Sign in to act")), "</a></p>");
  }
  dossiersync::v1::ListRunsRequest req;
  req.set_limit(50);
  dossiersync::v1::ListRunsResponse runs;
  grpc::Status st = in.backends->reconciliation->ListRuns(
      CallContext(c, c.reconciliation_client).get(), req, &runs);
  if (!st.ok()) {
    body +=
        Notice("error", absl::StrCat(Tr(l, "Not available"), ": ListRuns: ", st.error_message()));
    return Page(in.ctx, "Runs", Tr(l, "Runs"), body);
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : runs.runs()) {
    int64_t drifted = 0;
    for (const auto& [a, n] : r.drifted_by_agency()) drifted += n;
    rows.push_back({RunLink(r.run_id()), Escape(r.state()), Escape(r.trigger()),
                    Escape(VnTime(r.started_at())), absl::StrCat(r.dossiers_checked()),
                    absl::StrCat(r.in_flight()), absl::StrCat(r.verified_unchanged()),
                    absl::StrCat(drifted), Escape(Consistency(l, r)),
                    absl::StrCat(r.repairs_requested())});
  }
  if (rows.empty()) body += "<p>" + Escape(Tr(l, "No runs yet")) + "</p>";
  body += Table({Escape(Tr(l, "Run")), Escape(Tr(l, "State")), Escape(Tr(l, "Trigger")),
                 Escape(Tr(l, "Started")), Escape(Tr(l, "Checked")), Escape(Tr(l, "In flight")),
                 Escape(Tr(l, "Verified before")), Escape(Tr(l, "Drift")),
                 Escape(Tr(l, "Consistency")), Escape(Tr(l, "Repairs"))},
                rows, "runs");
  return Page(in.ctx, "Runs", Tr(l, "Runs"), body);
}

std::string DriftPage(const PageInput& in, const std::string& run_id, int kind) {
  const Lang l = in.ctx.lang;
  const ConsoleConfig& c = *in.config;
  std::string body = in.notice;
  dossiersync::v1::ReconciliationRun run;
  grpc::Status st;
  if (run_id.empty()) {
    dossiersync::v1::ListRunsRequest req;
    req.set_limit(1);
    dossiersync::v1::ListRunsResponse runs;
    st = in.backends->reconciliation->ListRuns(CallContext(c, c.reconciliation_client).get(), req,
                                               &runs);
    if (st.ok() && runs.runs().empty()) {
      body += "<p>" + Escape(Tr(l, "No runs yet")) + "</p>";
      return Page(in.ctx, "Drift", Tr(l, "Drift"), body);
    }
    if (st.ok()) run = runs.runs(0);
  } else {
    dossiersync::v1::GetRunRequest req;
    req.set_run_id(run_id);
    st = in.backends->reconciliation->GetRun(CallContext(c, c.reconciliation_client).get(), req,
                                             &run);
  }
  if (!st.ok()) {
    body += Notice("error", absl::StrCat(Tr(l, "Not available"), ": ", st.error_message()));
    return Page(in.ctx, "Drift", Tr(l, "Drift"), body);
  }
  body += "<div class=\"figures\">";
  body += Figure("run-id", Tr(l, "Run"), run.run_id());
  body += Figure("run-state", Tr(l, "State"), run.state());
  body += Figure("run-checked", Tr(l, "Checked"), absl::StrCat(run.dossiers_checked()));
  body += Figure("run-consistency", Tr(l, "Consistency"), Consistency(l, run));
  body += "</div>";
  std::vector<Bar> kinds;
  for (const auto& [k, n] :
       std::map<std::string, int64_t>(run.drift_by_kind().begin(), run.drift_by_kind().end())) {
    kinds.push_back({k, static_cast<double>(n), absl::StrCat(n)});
  }
  body += "<h2>" + Escape(Tr(l, "Drift by kind")) + "</h2>";
  body += kinds.empty() ? "<p id=\"no-drift\">" + Escape(Tr(l, "none")) + "</p>"
                        : BarChart(Tr(l, "Drift by kind"), kinds);
  std::vector<std::vector<std::string>> agencies;
  std::vector<Bar> by_agency;
  for (const auto& [a, checked] : std::map<std::string, int64_t>(run.checked_by_agency().begin(),
                                                                 run.checked_by_agency().end())) {
    auto d = run.drifted_by_agency().find(a);
    const int64_t drifted = d == run.drifted_by_agency().end() ? 0 : d->second;
    agencies.push_back({Escape(a), absl::StrCat(checked),
                        absl::StrCat("<span id=\"drifted-", Escape(a), "\">", drifted, "</span>")});
    by_agency.push_back({a, static_cast<double>(drifted), absl::StrCat(drifted)});
  }
  body += "<h2>" + Escape(Tr(l, "Drift by agency")) + "</h2>";
  body += Table({Escape(Tr(l, "Agency")), Escape(Tr(l, "Checked")), Escape(Tr(l, "Drift"))},
                agencies, "drift-agencies");
  if (!by_agency.empty()) body += BarChart(Tr(l, "Drift by agency"), by_agency);
  // The items.
  dossiersync::v1::ListDriftRequest lr;
  lr.set_run_id(run.run_id());
  lr.set_kind(static_cast<dossiersync::v1::DriftKind>(kind));
  auto ctx = CallContext(c, c.reconciliation_client);
  auto reader = in.backends->reconciliation->ListDrift(ctx.get(), lr);
  dossiersync::v1::DriftItem item;
  std::vector<std::vector<std::string>> items;
  int64_t total = 0;
  while (reader->Read(&item)) {
    if (++total > 1000) continue;  // counted, not shown
    items.push_back({DossierLink(item.code()), Escape(dossiersync::v1::DriftKind_Name(item.kind())),
                     Escape(item.detail()), item.repair_requested() ? Tr(l, "yes") : Tr(l, "no")});
  }
  grpc::Status rst = reader->Finish();
  body += absl::StrCat("<h2>", Escape(Tr(l, "Drift")), " (<span id=\"drift-items\">", total,
                       "</span>)</h2>");
  if (!rst.ok()) body += Notice("error", rst.error_message());
  body += Table({Escape(Tr(l, "Code")), Escape(Tr(l, "Kind")), Escape(Tr(l, "Detail")),
                 Escape(Tr(l, "Repairs"))},
                items, "drift");
  return Page(in.ctx, "Drift", Tr(l, "Drift"), body);
}

std::string DeadLettersPage(const PageInput& in, const std::string& agency,
                            const std::string& reason_contains) {
  const Lang l = in.ctx.lang;
  const ConsoleConfig& c = *in.config;
  std::string body = in.notice;
  body += absl::StrCat("<form method=\"get\" action=\"/dead-letters\"><label>",
                       Escape(Tr(l, "Agency")), " <input name=\"agency\" value=\"", Escape(agency),
                       "\"></label> <label>", Escape(Tr(l, "Reason contains")),
                       " <input name=\"q\" value=\"", Escape(reason_contains),
                       "\"></label> <button>", Escape(Tr(l, "Filter")), "</button></form>");
  dossiersync::v1::ListDeadLettersRequest req;
  req.mutable_filter()->set_agency_code(agency);
  req.mutable_filter()->set_reason_contains(reason_contains);
  req.set_limit(500);
  dossiersync::v1::ListDeadLettersResponse resp;
  grpc::Status st =
      in.backends->sync->ListDeadLetters(CallContext(c, c.sync_client).get(), req, &resp);
  if (!st.ok()) {
    body += Notice("error",
                   absl::StrCat(Tr(l, "Not available"), ": ListDeadLetters: ", st.error_message()));
    return Page(in.ctx, "Dead letters", Tr(l, "Dead letters"), body);
  }
  body += absl::StrCat("<p><span id=\"dead-letters-matched\">", resp.matched(), "</span> ",
                       Escape(Tr(l, "matched")), "</p>");
  std::vector<std::vector<std::string>> rows;
  for (const auto& d : resp.dead_letters()) {
    rows.push_back({DossierLink(d.code()), Escape(d.agency_code()), absl::StrCat(d.revision()),
                    Escape(VnTime(d.dead_lettered_at())), Escape(d.reason())});
  }
  body += Table({Escape(Tr(l, "Code")), Escape(Tr(l, "Agency")), Escape(Tr(l, "Revision")),
                 Escape(Tr(l, "Time")), Escape(Tr(l, "Reason"))},
                rows, "dead-letters");
  if (in.ctx.signed_in && resp.matched() > 0) {
    body += ActionForm(
        in.ctx, "/actions/replay", {{"agency", agency}, {"q", reason_contains}}, Tr(l, "Replay"),
        absl::StrCat("<label><input type=\"checkbox\" name=\"dry_run\" value=\"1\"> ",
                     Escape(Tr(l, "Dry run")), "</label> "));
  } else if (!in.ctx.signed_in && in.ctx.sign_in_available) {
    body += absl::StrCat("<p><a href=\"/signin\">", Escape(Tr(l, "Sign in to act")), "</a></p>");
  }
  return Page(in.ctx, "Dead letters", Tr(l, "Dead letters"), body);
}

std::string SignInPage(const PageInput& in, const std::string& error) {
  const Lang l = in.ctx.lang;
  std::string body;
  if (!error.empty()) body += Notice("error", error);
  if (!in.ctx.sign_in_available) {
    body += Notice("error", Tr(l, "Sign-in is not configured (--auth_tokens_file)"));
  } else {
    body += absl::StrCat("<form method=\"post\" action=\"/signin\"><label>",
                         Escape(Tr(l, "Operator token")),
                         " <input type=\"password\" name=\"token\" autocomplete=\"off\" "
                         "required></label> <button type=\"submit\">",
                         Escape(Tr(l, "Sign in")), "</button></form>");
  }
  return Page(in.ctx, "", Tr(l, "Sign in"), body);
}

}  // namespace dossiersync::console
