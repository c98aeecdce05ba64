// Charts drawn on the server as inline SVG (no script, nothing fetched): horizontal bars, one per
// row, scaled to the largest value (or to a given maximum, e.g. 1 for shares), each labelled and
// carrying its shown value, so the page reads the same without the picture.
//
// Thread safety: pure functions.
#ifndef DOSSIERSYNC_SERVICES_CONSOLE_SVG_H_
#define DOSSIERSYNC_SERVICES_CONSOLE_SVG_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace dossiersync::console {

struct Bar {
  std::string label;
  double value = 0;
  std::string shown;  // the value as printed beside the bar
};

// `max` <= 0: the largest value. `title` is the chart's accessible name.
std::string BarChart(absl::string_view title, const std::vector<Bar>& bars, double max = 0,
                     int width = 640);

}  // namespace dossiersync::console

#endif  // DOSSIERSYNC_SERVICES_CONSOLE_SVG_H_
