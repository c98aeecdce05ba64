#include "tests/e2e_checks.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "common/dvcqg/mapping.h"

namespace dossiersync::testing {

using nlohmann::json;

std::string RowKey(const json& row) {
  auto s = [&](const char* k) { return row.value(k, std::string()); };
  return absl::StrCat(s("ThoiDiemXuLy"), "|", s("NguoiXuLy"), "|", s("NoiDungXuLy"), "|",
                      s("TrangThai"));
}

json SimStored(httplib::Client& admin, const std::string& code) {
  auto r = admin.Get(("/admin/dossiers/" + code).c_str());
  if (!r || r->status != 200) return json();
  return json::parse(r->body, nullptr, false);
}

bool SimMatchesWorkload(httplib::Client& admin, const tools::WorkloadOptions& workload, int n,
                        std::string* why, const std::function<bool(int)>& only) {
  tools::Workload w(workload);
  for (int i = 0; i < n; ++i) {
    if (only && !only(i)) continue;
    auto life = w.Lifecycle(i);
    const auto& last = life.back().dossier();
    json got = SimStored(admin, last.code());
    if (got.is_null()) return *why = last.code() + " missing", false;
    size_t steps = 0;
    for (const auto& c : life) steps += c.new_steps_size();
    if (got["QuaTrinhXuLy"].size() != steps) {
      return *why = absl::StrCat(last.code(), " has ", got["QuaTrinhXuLy"].size(), "/", steps,
                                 " steps"),
             false;
    }
    got.erase("QuaTrinhXuLy");
    if (got != dvcqg::DossierToJson(last, last.status())) {
      return *why = last.code() + " differs", false;
    }
  }
  return true;
}

std::vector<std::string> HistoryProblems(httplib::Client& admin,
                                         const tools::WorkloadOptions& workload, int n) {
  std::vector<std::string> problems;
  tools::Workload w(workload);
  for (int i = 0; i < n; ++i) {
    auto life = w.Lifecycle(i);
    std::string code = life[0].dossier().code();
    std::vector<json> snapshots;
    std::multiset<std::string> expected_steps;
    for (const auto& c : life) {
      snapshots.push_back(dvcqg::DossierToJson(c.dossier(), c.dossier().status()));
      for (const auto& s : c.new_steps()) {
        expected_steps.insert(RowKey(dvcqg::StepToJson(code, s, s.status())));
      }
    }
    auto r = admin.Get(("/admin/history/" + code).c_str());
    if (!r || r->status != 200) {
      problems.push_back(code + ": no history");
      continue;
    }
    json h = json::parse(r->body)["history"];
    int last_index = -1;
    std::multiset<std::string> steps;
    for (const auto& e : h) {
      if (e["service"] == "CapNhatTienDoHoSoMC") {
        steps.insert(RowKey(e["item"]));
        continue;
      }
      // Two changes can map to the same DVCQG JSON (4 → 6 → 4 changes nothing DVCQG sees): take
      // the first match at or after the previous write, else any earlier match.
      int index = -1;
      for (int k = std::max(last_index, 0); k < static_cast<int>(snapshots.size()); ++k) {
        if (snapshots[k] == e["item"]) {
          index = k;
          break;
        }
      }
      for (int k = 0; index < 0 && k < static_cast<int>(snapshots.size()); ++k) {
        if (snapshots[k] == e["item"]) index = k;
      }
      if (index < 0) {
        problems.push_back(code + ": a write that matches no provincial snapshot");
        break;
      }
      if (index < last_index) {
        problems.push_back(absl::StrCat(code, ": regression at history seq ", e["seq"].dump()));
      }
      last_index = index;
    }
    if (steps != expected_steps) {
      problems.push_back(absl::StrCat(code, ": ", steps.size(), " step rows for ",
                                      expected_steps.size(), " steps (not exactly once)"));
    }
  }
  return problems;
}

}  // namespace dossiersync::testing
