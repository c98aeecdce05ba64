// libFuzzer target: what comes back from DVCQG. Arbitrary bytes as a JSON response: error codes,
// TraCuuHoSo items and progress rows decoded with the mapping, dates parsed, text truncated on
// character boundaries. Nothing may crash; a dossier that decodes must encode and decode again
// to the same dossier (the mapping is its own inverse on what it accepts).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/dvcqg/mapping.h"
#include "google/protobuf/util/message_differencer.h"

using nlohmann::json;

namespace {

void Item(const json& item) {
  auto d = dossiersync::dvcqg::DossierFromJson(item);
  if (d.ok()) {
    json back = dossiersync::dvcqg::DossierToJson(*d, d->status());
    auto again = dossiersync::dvcqg::DossierFromJson(back);
    if (!again.ok()) abort();
    google::protobuf::util::MessageDifferencer diff;
    std::string report;
    diff.ReportDifferencesToString(&report);
    if (!diff.Compare(*d, *again)) {
      fprintf(stderr, "round trip changed the dossier:\n%s\n", report.c_str());
      abort();
    }
  }
  (void)dossiersync::dvcqg::StepFromJson(item);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  (void)dossiersync::dvcqg::ParseDate(text);
  std::string cut = dossiersync::dvcqg::TruncateChars(text, static_cast<int>(size % 64));
  if (cut.size() > text.size()) abort();
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  (void)dossiersync::dvcqg::ErrorCodeOf(j);
  if (!j.is_object()) return 0;
  Item(j);
  auto result = j.find("result");
  if (result != j.end() && result->is_array()) {
    for (const auto& item : *result) {
      if (item.is_object()) Item(item);
    }
  }
  return 0;
}
