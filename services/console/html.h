// The console's HTML: escaping, the two languages (Vietnamese by default, English on request:
// ?lang=en, remembered in a cookie), the page frame (navigation, sign-in state, a stylesheet
// served by the console itself: nothing is loaded from elsewhere) and small builders for tables,
// figures and action forms (each carrying the session's CSRF token).
//
// Thread safety: pure functions.
#ifndef DOSSIERSYNC_SERVICES_CONSOLE_HTML_H_
#define DOSSIERSYNC_SERVICES_CONSOLE_HTML_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace dossiersync::console {

enum class Lang { kVi, kEn };

// The text of `key` in `lang` (the key itself when the table lacks it).
const char* Tr(Lang lang, absl::string_view key);
std::string Escape(absl::string_view s);
// Percent-encodes a query value.
std::string UrlEncode(absl::string_view s);

struct PageContext {
  Lang lang = Lang::kVi;
  std::string path;   // the page's own path, for the language switch
  std::string query;  // its query without lang=..., for the language switch
  bool signed_in = false;
  std::string operator_name;  // when signed in
  std::string csrf;           // when signed in
  bool sign_in_available = true;
};

// The whole document: navigation (the active page marked), the title, `body`.
std::string Page(const PageContext& ctx, absl::string_view active, absl::string_view title,
                 absl::string_view body);
// A <table> with a header row; cells are HTML already (escape what comes from data).
std::string Table(const std::vector<std::string>& header,
                  const std::vector<std::vector<std::string>>& rows,
                  absl::string_view css_class = "");
// A figure tile: a label over a big value (both escaped), `id` for tests to find it.
std::string Figure(absl::string_view id, absl::string_view label, absl::string_view value);
// A POST form to `action` with hidden fields (name, value), the CSRF token and a submit button.
std::string ActionForm(const PageContext& ctx, absl::string_view action,
                       const std::vector<std::pair<std::string, std::string>>& hidden,
                       absl::string_view button, absl::string_view extra_inputs = "");
// A notice box (class "ok" or "error").
std::string Notice(absl::string_view cls, absl::string_view text);
// "12.3 %" / "12,3 %" by language; "–" for a negative value (unknown).
std::string Percent(Lang lang, double share);

// The stylesheet served at /static/console.css.
const char* Stylesheet();

}  // namespace dossiersync::console

#endif  // DOSSIERSYNC_SERVICES_CONSOLE_HTML_H_
