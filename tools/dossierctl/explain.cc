#include "tools/dossierctl/explain.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "google/protobuf/util/time_util.h"

namespace dossiersync::tools {
namespace {

using dossiersync::v1::TimelineEvent;
using google::protobuf::util::TimeUtil;

std::string VietnamTime(const google::protobuf::Timestamp& ts) {
  static const absl::TimeZone kVietnam = absl::FixedTimeZone(7 * 3600);
  return absl::FormatTime("%Y-%m-%d %H:%M:%E3S",
                          absl::FromUnixMicros(TimeUtil::TimestampToMicroseconds(ts)), kVietnam);
}

const char* KindWord(dossiersync::v1::TimelineEventKind k) {
  switch (k) {
    case dossiersync::v1::TIMELINE_EVENT_KIND_ACCEPTED:
      return "intake";
    case dossiersync::v1::TIMELINE_EVENT_KIND_SYNC_RESULT:
      return "sync";
    case dossiersync::v1::TIMELINE_EVENT_KIND_DRIFT:
      return "drift";
    case dossiersync::v1::TIMELINE_EVENT_KIND_CHECKED:
      return "check";
    default:
      return "?";
  }
}

}  // namespace

void PrintTimeline(const dossiersync::v1::DossierTimeline& t, std::ostream& out) {
  out << "Dossier " << t.code();
  if (!t.agency_code().empty()) out << " (agency " << t.agency_code() << ")";
  out << "\n";
  if (!t.provincial_known()) out << "Not known to intake (the province).\n";
  if (t.national_source().empty()) {
    out << "Now: DVCQG's side is not known (no lookup answered, never checked).\n";
  } else {
    out << "DVCQG's side: " << (t.national_source() == "live" ? "looked up now" : "latest check")
        << " at " << VietnamTime(t.national_seen_at()) << " (UTC+7)"
        << (t.national_present() ? "" : ": DVCQG does not have the dossier") << "\n";
    if (t.in_sync()) {
      out << "Now: IN SYNC\n";
    } else {
      out << "Now: DIFFERS\n";
      for (const auto& d : t.differences()) {
        out << "  " << dossiersync::v1::DriftKind_Name(d.kind()) << ": " << d.detail() << "\n";
      }
    }
  }
  if (!t.fields().empty()) {
    size_t w = 5, pw = 8;
    for (const auto& f : t.fields()) {
      w = std::max(w, f.name().size());
      pw = std::max(pw, std::min<size_t>(f.provincial().size(), 40));
    }
    out << "\n"
        << absl::StrFormat("  %-*s  %-*s  %s\n", static_cast<int>(w), "Field", static_cast<int>(pw),
                           "Province", "DVCQG");
    for (const auto& f : t.fields()) {
      out << (f.differs() ? "≠ " : "  ")
          << absl::StrFormat("%-*s  %-*s  %s\n", static_cast<int>(w), f.name(),
                             static_cast<int>(pw), f.provincial(),
                             t.national_present() ? f.national() : "(absent)");
    }
  }
  out << "\nStory (oldest first, UTC+7):\n";
  if (t.events().empty()) out << "  (nothing recorded)\n";
  for (const TimelineEvent& e : t.events()) {
    out << "  " << VietnamTime(e.at()) << "  " << absl::StrFormat("%-6s", KindWord(e.kind()))
        << "  " << e.summary() << "\n";
  }
  if (!t.unavailable().empty()) {
    out << "\nNot available: " << absl::StrJoin(t.unavailable(), "; ") << "\n";
  }
}

}  // namespace dossiersync::tools
