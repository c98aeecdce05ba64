// Small HTTP pieces the console's routes share: cookies, the security headers of every page.
//
// Thread safety: pure functions.
#ifndef DOSSIERSYNC_SERVICES_CONSOLE_HTTP_UTIL_H_
#define DOSSIERSYNC_SERVICES_CONSOLE_HTTP_UTIL_H_

#include <httplib.h>

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"

namespace dossiersync::console {

inline constexpr char kSessionCookie[] = "ds_session";
inline constexpr char kSignInCookie[] = "ds_signin";  // double-submit token of the sign-in form
inline constexpr char kLangCookie[] = "ds_lang";

// No script, nothing from elsewhere: the stylesheet is the console's own, forms post to itself.
inline constexpr char kCsp[] =
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'";

inline std::string CookieOf(const httplib::Request& req, absl::string_view name) {
  for (absl::string_view part : absl::StrSplit(req.get_header_value("Cookie"), ';')) {
    part = absl::StripAsciiWhitespace(part);
    if (absl::ConsumePrefix(&part, name) && absl::ConsumePrefix(&part, "=")) {
      return std::string(part);
    }
  }
  return "";
}

inline std::string SetCookie(absl::string_view name, absl::string_view value, bool secure,
                             absl::Duration max_age) {
  return absl::StrCat(name, "=", value, "; Path=/; HttpOnly; SameSite=Strict",
                      secure ? "; Secure" : "", "; Max-Age=", absl::ToInt64Seconds(max_age));
}

inline void Html(httplib::Response& res, int status, const std::string& body) {
  res.status = status;
  res.set_header("Content-Security-Policy", kCsp);
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Referrer-Policy", "no-referrer");
  res.set_header("Cache-Control", "no-store");
  res.set_content(body, "text/html; charset=utf-8");
}

}  // namespace dossiersync::console

#endif  // DOSSIERSYNC_SERVICES_CONSOLE_HTTP_UTIL_H_
