// The overview (/): the province and each agency.
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "google/protobuf/util/time_util.h"
#include "services/console/pages.h"
#include "services/console/svg.h"

namespace dossiersync::console {

using google::protobuf::util::TimeUtil;

std::unique_ptr<grpc::ClientContext> CallContext(const ConsoleConfig& config,
                                                 const ClientOptions& options,
                                                 const std::string& token) {
  ClientOptions o = options;
  if (!token.empty()) o.token = token;
  return MakeContext(o, config.call_timeout);
}

std::string VnTime(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0 && t.nanos() == 0) return "–";
  static const absl::TimeZone kVietnam = absl::FixedTimeZone(7 * 3600);
  return absl::FormatTime("%Y-%m-%d %H:%M:%S",
                          absl::FromUnixMicros(TimeUtil::TimestampToMicroseconds(t)), kVietnam);
}

std::string DurationText(const google::protobuf::Duration& d) {
  const int64_t ms = TimeUtil::DurationToMilliseconds(d);
  if (ms < 1000) return absl::StrCat(ms, " ms");
  if (ms < 60000) return absl::StrFormat("%.1f s", ms / 1000.0);
  return absl::StrCat(ms / 60000, " min ", (ms % 60000) / 1000, " s");
}

std::string MessagePage(const PageInput& in, const std::string& title, const std::string& cls,
                        const std::string& text) {
  return Page(in.ctx, "", title, Notice(cls, text));
}

namespace {

std::string Unavailable(Lang l, const std::string& what, const grpc::Status& st) {
  return Notice("error",
                absl::StrCat(Tr(l, "Not available"), ": ", what, ": ", st.error_message()));
}

std::string Points(double p) { return absl::StrFormat("%.2f", p); }

}  // namespace

std::string OverviewPage(const PageInput& in, const std::string& period) {
  const Lang l = in.ctx.lang;
  Backends& b = *in.backends;
  const ConsoleConfig& c = *in.config;
  std::string body;
  if (!in.notice.empty()) body += in.notice;

  dossiersync::v1::Kpis k;
  grpc::Status kst = b.reconciliation->GetKpis(CallContext(c, c.reconciliation_client).get(),
                                               dossiersync::v1::GetKpisRequest(), &k);
  dossiersync::v1::SyncStatus s;
  grpc::Status sst = b.sync->GetStatus(CallContext(c, c.sync_client).get(),
                                       dossiersync::v1::GetStatusRequest(), &s);
  dossiersync::v1::GetScoreRequest sr;
  sr.set_period(period.empty() ? c.score_period : period);
  sr.set_max_codes(5);
  dossiersync::v1::Score score;
  grpc::Status scst =
      b.reconciliation->GetScore(CallContext(c, c.reconciliation_client).get(), sr, &score);

  body += "<h2>" + Escape(Tr(l, "Province")) + "</h2><div class=\"figures\">";
  if (kst.ok()) {
    body += Figure("province-received", Tr(l, "Received"), absl::StrCat(k.received()));
    body += Figure("province-in-sync", Tr(l, "In-sync share"), Percent(l, k.in_sync_share()));
    body += Figure("province-lag-p50", Tr(l, "Sync lag p50"), DurationText(k.sync_lag_p50()));
    body += Figure("province-lag-p99", Tr(l, "Sync lag p99"), DurationText(k.sync_lag_p99()));
  }
  if (sst.ok()) {
    body += Figure("breaker", Tr(l, "Breaker"), Tr(l, s.breaker_open() ? "open" : "closed"));
    body += Figure("paused", Tr(l, "Paused"), Tr(l, s.operator_paused() ? "yes" : "no"));
    body += Figure("dead-letters", Tr(l, "Dead letters"), absl::StrCat(s.dead_letters()));
  }
  if (scst.ok()) {
    body += Figure("score-provincial",
                   absl::StrCat(Tr(l, "Score forecast"), " (", Tr(l, "provincial data"), ")"),
                   Points(score.total().provincial().points()));
    body += Figure("score-national",
                   absl::StrCat(Tr(l, "Score forecast"), " (", Tr(l, "as DVCQG holds it"), ")"),
                   Points(score.total().national().points()));
    body += Figure("score-at-stake", Tr(l, "Points the sync gap costs"),
                   Points(score.total().points_at_stake()));
  }
  body += "</div>";
  if (scst.ok()) {
    body += absl::StrCat("<p>", Escape(Tr(l, "Period")), ": <span id=\"score-period\">",
                         Escape(score.period()), "</span></p>");
  }
  if (!kst.ok()) body += Unavailable(l, "GetKpis", kst);
  if (!sst.ok()) body += Unavailable(l, "SyncService.GetStatus", sst);
  if (!scst.ok()) body += Unavailable(l, "GetScore", scst);

  // Each agency: every code any of the three answers names.
  std::set<std::string> agencies;
  for (const auto& [a, v] : k.by_agency()) agencies.insert(a);
  for (const auto& [a, v] : s.dead_letters_by_agency()) agencies.insert(a);
  for (const auto& [a, v] : score.by_agency()) agencies.insert(a);
  std::vector<std::vector<std::string>> rows;
  std::vector<Bar> shares, dead, stake;
  for (const std::string& a : agencies) {
    auto ki = k.by_agency().find(a);
    auto di = s.dead_letters_by_agency().find(a);
    auto si = score.by_agency().find(a);
    const bool has_k = ki != k.by_agency().end();
    const int64_t dl = di == s.dead_letters_by_agency().end() ? 0 : di->second;
    const std::string share = has_k ? Percent(l, ki->second.in_sync_share()) : "–";
    const std::string at_stake =
        si == score.by_agency().end() ? "–" : Points(si->second.points_at_stake());
    const std::string id = Escape(a);
    rows.push_back(
        {absl::StrCat("<span id=\"agency-", id, "\">", id, "</span>"),
         absl::StrCat("<span id=\"agency-", id, "-received\">",
                      has_k ? absl::StrCat(ki->second.received()) : "–", "</span>"),
         absl::StrCat("<span id=\"agency-", id, "-in-sync\">", Escape(share), "</span>"),
         has_k ? Escape(DurationText(ki->second.sync_lag_p50())) : "–",
         has_k ? Escape(DurationText(ki->second.sync_lag_p99())) : "–",
         absl::StrCat("<span id=\"agency-", id, "-dead-letters\">", dl, "</span>"),
         absl::StrCat("<span id=\"agency-", id, "-at-stake\">", Escape(at_stake), "</span>")});
    if (has_k) shares.push_back({a, ki->second.in_sync_share(), share});
    dead.push_back({a, static_cast<double>(dl), absl::StrCat(dl)});
    if (si != score.by_agency().end()) {
      stake.push_back({a, si->second.points_at_stake(), at_stake});
    }
  }
  body += "<h2>" + Escape(Tr(l, "Agencies")) + "</h2>";
  body += Table({Escape(Tr(l, "Agency")), Escape(Tr(l, "Received")), Escape(Tr(l, "In-sync share")),
                 Escape(Tr(l, "Sync lag p50")), Escape(Tr(l, "Sync lag p99")),
                 Escape(Tr(l, "Dead letters")), Escape(Tr(l, "Points the sync gap costs"))},
                rows, "agencies");
  if (!shares.empty()) {
    body += "<h2>" + Escape(Tr(l, "In-sync share by agency")) + "</h2>" +
            BarChart(Tr(l, "In-sync share by agency"), shares, 1.0);
  }
  if (!dead.empty()) {
    body += "<h2>" + Escape(Tr(l, "Dead letters by agency")) + "</h2>" +
            BarChart(Tr(l, "Dead letters by agency"), dead);
  }
  if (!stake.empty()) {
    body += "<h2>" + Escape(Tr(l, "Points at stake by agency")) + "</h2>" +
            BarChart(Tr(l, "Points at stake by agency"), stake);
  }
  return Page(in.ctx, "Overview", Tr(l, "Overview"), body);
}

}  // namespace dossiersync::console
