#include "services/reconciliation/score.h"

#include <algorithm>
#include <array>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/util/time_util.h"
#include "nlohmann/json.hpp"
#include "services/reconciliation/score_formula_json.h"

namespace dossiersync::reconciliation {
namespace {

using dossiersync::v1::Dossier;
using google::protobuf::util::TimeUtil;
using nlohmann::json;

constexpr size_t kIndicators = std::size(kScoreIndicators);
enum : size_t { k14, k21, k33, k35, k41, k42, k43, k44, k45 };

const absl::TimeZone& Hanoi() {
  static const absl::TimeZone tz = absl::FixedTimeZone(7 * 3600);
  return tz;
}

bool Set(const google::protobuf::Timestamp& t) { return t.seconds() != 0 || t.nanos() != 0; }
absl::Time At(const google::protobuf::Timestamp& t) {
  return absl::FromUnixMicros(TimeUtil::TimestampToMicroseconds(t));
}

// The first time the dossier reached `status` by its progress steps, if it did.
std::optional<absl::Time> StepAt(const Dossier& d, int status) {
  std::optional<absl::Time> out;
  for (const auto& s : d.steps()) {
    if (s.status() == status && Set(s.occurred_at()) && (!out || At(s.occurred_at()) < *out)) {
      out = At(s.occurred_at());
    }
  }
  return out;
}

// Indicator 2.1 for one received, not withdrawn dossier.
bool OnTime(const Dossier& d, const ScorePeriod& p, const ScoreFormula& f) {
  if (d.supplements_size() >= 2) return false;  // a second supplement request counts as overdue
  const absl::Time received = At(d.received_at());
  const absl::Time due =
      Set(d.due_at()) ? At(d.due_at()) : received + absl::Hours(24 * f.default_max_duration_days);
  // The end of processing: the first of 9 > 10 > 8/3, else the evaluation time.
  absl::Time end = p.evaluated_at;
  if (Set(d.finished_at())) {
    end = At(d.finished_at());
  } else if (Set(d.returned_at())) {
    end = At(d.returned_at());
  } else if (d.status() == 3 && Set(d.refused_at())) {
    end = At(d.refused_at());
  } else if (d.status() == 8) {
    end = StepAt(d, 8).value_or(p.evaluated_at);
  }
  if (d.supplements_size() == 1 && Set(d.supplements(0).requested_at())) {
    // The first request ends the clock until the supplement arrives: its time is subtracted.
    const auto& s = d.supplements(0);
    absl::Time from = At(s.requested_at());
    absl::Time to = Set(s.completed_at()) ? std::min(At(s.completed_at()), end) : end;
    if (to > from) end -= to - from;
  }
  return end <= due;
}

struct Membership {
  bool in_denominator = false;
  bool in_numerator = false;
};

// Every indicator for one snapshot (1.4 and 3.3's ratios are combined later).
std::array<Membership, kIndicators> Evaluate(const Dossier& d, const ScorePeriod& p,
                                             const ScoreFormula& f) {
  std::array<Membership, kIndicators> m{};
  if (!Set(d.received_at()) || At(d.received_at()) < p.from || At(d.received_at()) >= p.until) {
    return m;
  }
  auto set = [&](size_t i, bool den, bool num) { m[i] = {den, den && num}; };
  set(k14, true, true);
  set(k21, d.status() != 7 && d.status() != 1, d.status() != 7 && OnTime(d, p, f));
  bool result_file = std::any_of(d.result_documents().begin(), d.result_documents().end(),
                                 [](const auto& r) { return !r.url().empty(); });
  set(k33, true,
      d.channel() == dossiersync::v1::CHANNEL_ONLINE &&
          (!f.paper_result_procedures.count(d.procedure_code()) || result_file));
  bool fee = std::any_of(d.fees().begin(), d.fees().end(),
                         [](const auto& x) { return x.amount_vnd() > 0; });
  set(k35, fee,
      d.online_payment() == dossiersync::v1::ONLINE_PAYMENT_NATIONAL_PLATFORM ||
          d.online_payment() == dossiersync::v1::ONLINE_PAYMENT_PROVINCIAL_GATEWAY);
  set(k41, d.status() == 9 || d.status() == 10, result_file);
  set(k42, true, d.has_digitised_components());
  set(k43, d.attachments_size() > 0,
      std::all_of(d.attachments().begin(), d.attachments().end(),
                  [](const auto& a) { return a.digitised(); }));
  bool warehouse = std::any_of(d.attachments().begin(), d.attachments().end(),
                               [](const auto& a) { return a.from_national_warehouse(); });
  set(k44, true, warehouse);
  bool population = std::find(d.national_databases().begin(), d.national_databases().end(),
                              f.population_database) != d.national_databases().end();
  set(k45, true, d.applicant().vneid_verified() || warehouse || population);
  return m;
}

void Fill(dossiersync::v1::Indicator* out, const ScoreFormula::Indicator& f, int64_t num,
          int64_t den, double ratio) {
  out->set_id(f.id);
  out->set_name(f.name);
  out->set_numerator(num);
  out->set_denominator(den);
  out->set_ratio(ratio);
  out->set_max_points(f.max_points);
  out->set_points(f.max_points * std::min(1.0, ratio / f.full_at));
}

// One view (provincial or national) from per-dossier memberships.
dossiersync::v1::ScoreView View(const std::vector<std::array<Membership, kIndicators>>& m,
                                int64_t sync_denominator, const ScoreFormula& f) {
  std::array<int64_t, kIndicators> num{}, den{};
  for (const auto& d : m) {
    for (size_t i = 0; i < kIndicators; ++i) {
      num[i] += d[i].in_numerator;
      den[i] += d[i].in_denominator;
    }
  }
  den[k14] = std::max(den[k14], sync_denominator);
  auto ratio = [&](size_t i) {
    return den[i] == 0 ? 1.0 : static_cast<double>(num[i]) / static_cast<double>(den[i]);
  };
  dossiersync::v1::ScoreView v;
  for (size_t i = 0; i < kIndicators; ++i) {
    double r = i == k33 ? ratio(k33) * ratio(k14) : ratio(i);
    Fill(v.add_indicators(), f.indicators[i], num[i], den[i], r);
    v.set_points(v.points() + v.indicators(static_cast<int>(i)).points());
    v.set_max_points(v.max_points() + f.indicators[i].max_points);
  }
  return v;
}

}  // namespace

absl::StatusOr<ScoreFormula> ScoreFormula::FromJson(const std::string& text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError("score formula: not a JSON object");
  }
  ScoreFormula f;
  try {
    f.version = j.at("version").get<std::string>();
    f.source = j.at("source").get<std::string>();
    f.default_max_duration_days = j.value("default_max_duration_days", 15);
    f.population_database = j.value("population_database", std::string("CSDLQGDC"));
    for (const auto& p : j.value("paper_result_procedures", json::array())) {
      f.paper_result_procedures.insert(p.get<std::string>());
    }
    for (const auto& i : j.at("indicators")) {
      f.indicators.push_back({i.at("id").get<std::string>(), i.at("name").get<std::string>(),
                              i.at("max_points").get<double>(), i.value("full_at", 1.0)});
    }
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("score formula: ", e.what()));
  }
  if (f.version.empty() || f.source.empty()) {
    return absl::InvalidArgumentError("score formula: version and source must be set");
  }
  if (f.indicators.size() != kIndicators) {
    return absl::InvalidArgumentError(
        absl::StrCat("score formula: expected ", kIndicators, " indicators"));
  }
  for (size_t i = 0; i < kIndicators; ++i) {
    const auto& x = f.indicators[i];
    if (x.id != kScoreIndicators[i]) {
      return absl::InvalidArgumentError(absl::StrCat("score formula: indicator ", i + 1, " is '",
                                                     x.id, "', expected ", kScoreIndicators[i]));
    }
    if (x.max_points < 0 || x.full_at <= 0 || x.full_at > 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("score formula: indicator ", x.id, ": max_points >= 0, 0 < full_at <= 1"));
    }
  }
  if (f.default_max_duration_days < 1) {
    return absl::InvalidArgumentError("score formula: default_max_duration_days must be >= 1");
  }
  return f;
}

const ScoreFormula& ScoreFormula::Default() {
  static const ScoreFormula* f = [] {
    auto parsed = FromJson(kScoreFormulaJson);
    if (!parsed.ok()) abort();  // the committed file; score_test checks it parses
    return new ScoreFormula(std::move(*parsed));
  }();
  return *f;
}

absl::StatusOr<ScorePeriod> ParsePeriod(const std::string& period, absl::Time now) {
  ScorePeriod p;
  absl::CivilSecond from, until;
  std::string label = period;
  if (label.empty()) {
    absl::CivilMonth m = absl::ToCivilMonth(now, Hanoi());
    label = absl::FormatCivilTime(m);
  }
  std::vector<std::string> parts = absl::StrSplit(label, '-');
  int year = 0, n = 0;
  bool ok = !parts.empty() && parts[0].size() == 4 && absl::SimpleAtoi(parts[0], &year) &&
            year >= 2000 && year <= 2100;
  if (ok && parts.size() == 1) {
    from = absl::CivilYear(year);
    until = absl::CivilYear(year + 1);
  } else if (ok && parts.size() == 2 && parts[1].size() == 2 && parts[1][0] == 'Q' &&
             absl::SimpleAtoi(parts[1].substr(1), &n) && n >= 1 && n <= 4) {
    from = absl::CivilMonth(year, 3 * (n - 1) + 1);
    until = absl::CivilMonth(year, 3 * n + 1);
  } else if (ok && parts.size() == 2 && parts[1].size() == 2 && absl::SimpleAtoi(parts[1], &n) &&
             n >= 1 && n <= 12) {
    from = absl::CivilMonth(year, n);
    until = absl::CivilMonth(year, n + 1);
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "period: expected yyyy-MM (month), yyyy-Qn (quarter) or yyyy (year), got '", period, "'"));
  }
  p.label = label;
  p.from = absl::FromCivil(from, Hanoi());
  p.until = absl::FromCivil(until, Hanoi());
  p.evaluated_at = std::min(p.until, now);
  return p;
}

dossiersync::v1::AgencyScore ComputeScore(const std::vector<ScoredDossier>& dossiers,
                                          const ScorePeriod& period, const ScoreFormula& formula,
                                          int max_codes) {
  std::vector<std::array<Membership, kIndicators>> prov, nat;
  prov.reserve(dossiers.size());
  nat.reserve(dossiers.size());
  dossiersync::v1::AgencyScore out;
  for (const auto& d : dossiers) {
    prov.push_back(Evaluate(*d.provincial, period, formula));
    nat.push_back(d.national ? Evaluate(*d.national, period, formula)
                             : std::array<Membership, kIndicators>{});
    if (prov.back()[k14].in_denominator) {
      out.set_dossiers(out.dossiers() + 1);
      if (!d.known) out.set_without_evidence(out.without_evidence() + 1);
    }
  }
  *out.mutable_provincial() = View(prov, 0, formula);
  *out.mutable_national() = View(nat, out.dossiers(), formula);
  out.set_points_at_stake(out.provincial().points() - out.national().points());
  for (size_t i = 0; i < kIndicators; ++i) {
    double lost = out.provincial().indicators(static_cast<int>(i)).points() -
                  out.national().indicators(static_cast<int>(i)).points();
    if (lost <= 1e-9) continue;  // only what the sync gap costs
    dossiersync::v1::ScoreGap gap;
    for (size_t k = 0; k < dossiers.size(); ++k) {
      // 3.3 also falls with 1.4: a dossier missing nationally costs both.
      bool behind = (prov[k][i].in_numerator && !nat[k][i].in_numerator) ||
                    (i == k33 && prov[k][k14].in_numerator && !nat[k][k14].in_numerator);
      if (!behind) continue;
      gap.set_dossiers(gap.dossiers() + 1);
      if (gap.codes_size() < max_codes) gap.add_codes(dossiers[k].provincial->code());
    }
    gap.set_indicator(kScoreIndicators[i]);
    gap.set_points(lost);
    *out.add_gaps() = std::move(gap);
  }
  return out;
}

}  // namespace dossiersync::reconciliation
