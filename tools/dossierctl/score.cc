#include "tools/dossierctl/score.h"

#include <cmath>
#include <map>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace dossiersync::tools {
namespace {

std::string Summary(const dossiersync::v1::AgencyScore& a) {
  return absl::StrFormat(
      "provincial %.2f, national view %.2f of %.0f points; the sync gap costs %.3f points "
      "(%d dossiers received, %d without national evidence)",
      a.provincial().points(), a.national().points(), a.provincial().max_points(),
      a.points_at_stake(), a.dossiers(), a.without_evidence());
}

}  // namespace

void PrintScore(const dossiersync::v1::Score& s, const std::string& agency, std::ostream& out) {
  const auto& t = s.total();
  out << absl::StrFormat("score %s (formula %s) %s: %s\n", s.period(), s.formula_version(),
                         agency.empty() ? "province" : agency, Summary(t));
  out << absl::StrFormat("  %-8s %-22s %-22s %s\n", "", "provincial", "national view",
                         "points lost");
  for (int i = 0; i < t.provincial().indicators_size(); ++i) {
    const auto& p = t.provincial().indicators(i);
    const auto& n = t.national().indicators(i);
    double lost = p.points() - n.points();
    if (std::abs(lost) < 0.0005) lost = 0;  // no "-0.000"
    out << absl::StrFormat("  %-8s %7d/%-7d %5.2f  %7d/%-7d %5.2f  %6.3f of %4.1f  %s\n", p.id(),
                           p.numerator(), p.denominator(), p.points(), n.numerator(),
                           n.denominator(), n.points(), lost, p.max_points(), p.name());
  }
  for (const auto& g : t.gaps()) {
    out << absl::StrFormat("  gap %s: %.3f points, %d dossiers: %s%s\n", g.indicator(), g.points(),
                           g.dossiers(), absl::StrJoin(g.codes(), ", "),
                           g.dossiers() > g.codes_size() ? ", ..." : "");
  }
  std::map<std::string, dossiersync::v1::AgencyScore> sorted(s.by_agency().begin(),
                                                             s.by_agency().end());
  for (const auto& [code, a] : sorted) out << "  " << code << ": " << Summary(a) << "\n";
}

}  // namespace dossiersync::tools
