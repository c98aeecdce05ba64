#include "services/console/svg.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "services/console/html.h"

namespace dossiersync::console {

std::string BarChart(absl::string_view title, const std::vector<Bar>& bars, double max, int width) {
  constexpr int kRow = 22, kLabel = 190, kValue = 90;
  if (max <= 0) {
    for (const Bar& b : bars) max = std::max(max, b.value);
  }
  if (max <= 0) max = 1;
  const int height = std::max<int>(kRow, static_cast<int>(bars.size()) * kRow) + 4;
  const int span = std::max(10, width - kLabel - kValue);
  std::string out = absl::StrFormat(
      "<svg class=\"chart\" role=\"img\" aria-label=\"%s\" width=\"%d\" height=\"%d\" "
      "viewBox=\"0 0 %d %d\" xmlns=\"http://www.w3.org/2000/svg\"><title>%s</title>",
      Escape(title), width, height, width, height, Escape(title));
  for (size_t i = 0; i < bars.size(); ++i) {
    const Bar& b = bars[i];
    const int y = static_cast<int>(i) * kRow + 2;
    const double share = std::clamp(b.value / max, 0.0, 1.0);
    const int w = static_cast<int>(share * span + 0.5);
    absl::StrAppendFormat(&out,
                          "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s</text>"
                          "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#2f6db5\"/>"
                          "<text x=\"%d\" y=\"%d\">%s</text>",
                          kLabel - 6, y + 15, Escape(b.label), kLabel, y + 3, std::max(w, 1),
                          kRow - 6, kLabel + w + 6, y + 15, Escape(b.shown));
  }
  absl::StrAppend(&out, "</svg>");
  return out;
}

}  // namespace dossiersync::console
