// One dossier (/dossier?code=): its timeline, both snapshots side by side, the resync action.
#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "services/console/pages.h"

namespace dossiersync::console {
namespace {

const char* KindText(Lang l, dossiersync::v1::TimelineEventKind k) {
  switch (k) {
    case dossiersync::v1::TIMELINE_EVENT_KIND_ACCEPTED:
      return l == Lang::kVi ? "Tiếp nhận" : "Accepted";
    case dossiersync::v1::TIMELINE_EVENT_KIND_SYNC_RESULT:
      return l == Lang::kVi ? "Đồng bộ" : "Sync";
    case dossiersync::v1::TIMELINE_EVENT_KIND_DRIFT:
      return l == Lang::kVi ? "Sai lệch" : "Drift";
    case dossiersync::v1::TIMELINE_EVENT_KIND_CHECKED:
      return l == Lang::kVi ? "Kiểm tra" : "Check";
    default:
      return "?";
  }
}

}  // namespace

std::string DossierPage(const PageInput& in, const std::string& code, int* status) {
  const Lang l = in.ctx.lang;
  const ConsoleConfig& c = *in.config;
  *status = 200;
  std::string title = absl::StrCat(Tr(l, "Dossier"), " ", code);
  std::string body = in.notice;
  dossiersync::v1::GetDossierTimelineRequest req;
  req.set_code(code);
  dossiersync::v1::DossierTimeline t;
  grpc::Status st = in.backends->reconciliation->GetDossierTimeline(
      CallContext(c, c.reconciliation_client).get(), req, &t);
  if (!st.ok()) {
    if (st.error_code() == grpc::StatusCode::NOT_FOUND) {
      *status = 404;
      body += Notice("error", absl::StrCat(Tr(l, "Not found"), ": ", code));
    } else if (st.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
      *status = 400;
      body += Notice("error", st.error_message());
    } else {
      *status = 502;
      body += Notice("error", absl::StrCat(Tr(l, "Not available"),
                                           ": GetDossierTimeline: ", st.error_message()));
    }
    return Page(in.ctx, "", title, body);
  }
  // Where it stands.
  std::string now;
  if (t.national_source().empty()) {
    now = Tr(l, "Unknown");
  } else if (t.in_sync()) {
    now = Tr(l, "In sync");
  } else {
    now = Tr(l, "Differences");
  }
  body += "<div class=\"figures\">";
  body += Figure("dossier-state", Tr(l, "State"), now);
  body += Figure("dossier-agency", Tr(l, "Agency"), t.agency_code());
  body += Figure("dossier-revision", Tr(l, "Revision"),
                 t.provincial_known() ? absl::StrCat(t.provincial().revision()) : "–");
  body += Figure("dossier-national-source",
                 t.national_source() == "live" ? Tr(l, "Looked up now") : Tr(l, "Latest check"),
                 VnTime(t.national_seen_at()));
  body += "</div>";
  if (!t.differences().empty()) {
    body += "<h2>" + Escape(Tr(l, "Differences")) + "</h2><ul id=\"differences\">";
    for (const auto& d : t.differences()) {
      body += absl::StrCat("<li><strong>", Escape(dossiersync::v1::DriftKind_Name(d.kind())),
                           "</strong>: ", Escape(d.detail()), "</li>");
    }
    body += "</ul>";
  }
  // Side by side.
  if (!t.fields().empty()) {
    body += absl::StrCat("<h2>", Escape(Tr(l, "Provincial")), " / ",
                         Escape(Tr(l, "National (DVCQG)")), "</h2>");
    if (!t.national_present() && !t.national_source().empty()) {
      body += Notice("error", Tr(l, "Absent at DVCQG"));
    }
    std::string rows;
    for (const auto& f : t.fields()) {
      absl::StrAppend(&rows, "<tr", f.differs() ? " class=\"differs\"" : "", " data-field=\"",
                      Escape(f.name()), "\"><td class=\"mark\">", f.differs() ? "≠" : "",
                      "</td><td>", Escape(f.name()), "</td><td>", Escape(f.provincial()),
                      "</td><td>", Escape(t.national_present() ? f.national() : ""), "</td></tr>");
    }
    body += absl::StrCat("<table id=\"side-by-side\"><thead><tr><th></th><th>",
                         Escape(Tr(l, "Field")), "</th><th>", Escape(Tr(l, "Provincial")),
                         "</th><th>", Escape(Tr(l, "National (DVCQG)")),
                         "</th></tr></thead><tbody>", rows, "</tbody></table>");
  }
  // The story.
  std::vector<std::vector<std::string>> story;
  for (const auto& e : t.events()) {
    story.push_back({Escape(VnTime(e.at())), Escape(KindText(l, e.kind())),
                     e.revision() > 0 ? absl::StrCat(e.revision()) : "", Escape(e.summary())});
  }
  body += "<h2>" + Escape(Tr(l, "Story")) + "</h2>";
  body += Table({Escape(Tr(l, "Time")), Escape(Tr(l, "Event")), Escape(Tr(l, "Revision")),
                 Escape(Tr(l, "Detail"))},
                story, "story");
  for (const auto& u : t.unavailable()) {
    body += Notice("error", absl::StrCat(Tr(l, "Not available"), ": ", u));
  }
  if (in.ctx.signed_in) {
    body += ActionForm(in.ctx, "/actions/resync", {{"code", code}}, Tr(l, "Resync this dossier"),
                       "<label><input type=\"checkbox\" name=\"full\" value=\"1\"> full</label> ");
  } else if (in.ctx.sign_in_available) {
    body += absl::StrCat("<p><a href=\"/signin\">", Escape(Tr(l, "Sign in to act")), "</a></p>");
  }
  return Page(in.ctx, "", title, body);
}

}  // namespace dossiersync::console
