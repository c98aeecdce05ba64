// The console's routes: pages (GET), sign-in and sign-out, and the operator actions (POST, signed
// in, CSRF token checked) that call the services with the operator's own token.
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "services/console/app.h"
#include "services/console/html.h"
#include "services/console/http_util.h"
#include "services/console/pages.h"

namespace dossiersync::console {
namespace {

std::string Param(const httplib::Request& req, const char* name) {
  return req.has_param(name) ? req.get_param_value(name) : std::string();
}

// The query without lang=, for the language switch.
std::string QueryWithoutLang(const httplib::Request& req) {
  std::string out;
  for (const auto& [k, v] : req.params) {
    if (k == "lang") continue;
    absl::StrAppend(&out, out.empty() ? "" : "&", UrlEncode(k), "=", UrlEncode(v));
  }
  return out;
}

}  // namespace

void App::Routes() {
  // The language: ?lang= (remembered in a cookie), else the cookie, else Vietnamese.
  auto context = [this](const httplib::Request& req, httplib::Response& res) {
    PageInput in;
    std::string lang = Param(req, "lang");
    if (lang == "en" || lang == "vi") {
      res.set_header("Set-Cookie",
                     SetCookie(kLangCookie, lang, config_.cookie_secure, absl::Hours(24 * 365)));
    } else {
      lang = CookieOf(req, kLangCookie);
    }
    in.ctx.lang = lang == "en" ? Lang::kEn : Lang::kVi;
    in.ctx.path = req.path;
    in.ctx.query = QueryWithoutLang(req);
    in.ctx.sign_in_available = operators_ != nullptr;
    if (auto s = sessions_->Find(CookieOf(req, kSessionCookie))) {
      in.ctx.signed_in = true;
      in.ctx.operator_name = s->operator_name;
      in.ctx.csrf = s->csrf;
    }
    in.backends = &backends_;
    in.config = &config_;
    return in;
  };

  server_.Get("/static/console.css", [](const httplib::Request&, httplib::Response& res) {
    res.set_header("Cache-Control", "max-age=3600");
    res.set_content(Stylesheet(), "text/css; charset=utf-8");
  });
  server_.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });
  server_.Get("/", [context](const httplib::Request& req, httplib::Response& res) {
    Html(res, 200, OverviewPage(context(req, res), Param(req, "period")));
  });
  server_.Get("/runs", [context](const httplib::Request& req, httplib::Response& res) {
    Html(res, 200, RunsPage(context(req, res)));
  });
  server_.Get("/drift", [context](const httplib::Request& req, httplib::Response& res) {
    int kind = 0;
    if (!absl::SimpleAtoi(Param(req, "kind"), &kind)) kind = 0;
    Html(res, 200, DriftPage(context(req, res), Param(req, "run"), kind));
  });
  server_.Get("/dead-letters", [context](const httplib::Request& req, httplib::Response& res) {
    Html(res, 200, DeadLettersPage(context(req, res), Param(req, "agency"), Param(req, "q")));
  });
  server_.Get("/dossier", [context](const httplib::Request& req, httplib::Response& res) {
    int status = 200;
    std::string page = DossierPage(context(req, res), Param(req, "code"), &status);
    Html(res, status, page);
  });

  // Sign-in: the form carries a random value also set as a cookie (double submit), so another
  // site cannot sign a browser in.
  server_.Get("/signin", [this, context](const httplib::Request& req, httplib::Response& res) {
    PageInput in = context(req, res);
    const std::string nonce = RandomToken();
    res.set_header("Set-Cookie",
                   SetCookie(kSignInCookie, nonce, config_.cookie_secure, absl::Minutes(30)));
    std::string page = SignInPage(in, "");
    const std::string marker = "<form method=\"post\" action=\"/signin\">";
    if (auto at = page.find(marker); at != std::string::npos) {
      page.insert(at + marker.size(),
                  absl::StrCat("<input type=\"hidden\" name=\"nonce\" value=\"", nonce, "\">"));
    }
    Html(res, operators_ ? 200 : 503, page);
  });
  server_.Post("/signin", [this, context](const httplib::Request& req, httplib::Response& res) {
    PageInput in = context(req, res);
    const Lang l = in.ctx.lang;
    if (!operators_) return Html(res, 503, SignInPage(in, ""));
    const std::string nonce = CookieOf(req, kSignInCookie);
    if (nonce.empty() || nonce != Param(req, "nonce")) {
      return Html(res, 403,
                  SignInPage(in, Tr(l, "Wrong or expired form: reload the page and try again")));
    }
    auto caller = operators_->AuthenticateToken(Param(req, "token"), Role::kOperator);
    if (!caller.ok()) {
      LogWarn("console sign-in refused", {{"error", std::string(caller.status().message())}});
      const bool not_operator = caller.status().code() == absl::StatusCode::kPermissionDenied;
      return Html(res, 401,
                  SignInPage(in, Tr(l, not_operator ? "Not an operator token" : "Unknown token")));
    }
    Session s = sessions_->Create(caller->name, Param(req, "token"));
    LogInfo("console sign-in", {{"operator", caller->name}});
    res.set_header("Set-Cookie",
                   SetCookie(kSessionCookie, s.id, config_.cookie_secure, config_.session_ttl));
    res.set_redirect("/", 303);
  });

  // Actions: a live session and its CSRF token, else refused before anything is called.
  auto action = [this, context](const std::string& path, auto&& run) {
    server_.Post(path, [this, context, run](const httplib::Request& req, httplib::Response& res) {
      PageInput in = context(req, res);
      const Lang l = in.ctx.lang;
      auto session = sessions_->Find(CookieOf(req, kSessionCookie));
      if (!session) {
        return Html(res, 401, MessagePage(in, Tr(l, "Refused"), "error", Tr(l, "Sign in to act")));
      }
      if (!Sessions::CsrfMatches(*session, Param(req, "csrf"))) {
        LogWarn("console action without its CSRF token refused",
                {{"path", req.path}, {"operator", session->operator_name}});
        return Html(res, 403,
                    MessagePage(in, Tr(l, "Refused"), "error",
                                Tr(l, "Wrong or expired form: reload the page and try again")));
      }
      run(req, res, in, *session);
    });
  };
  action("/signout",
         [this](const httplib::Request&, httplib::Response& res, PageInput&, const Session& s) {
           sessions_->Remove(s.id);
           res.set_header("Set-Cookie", SetCookie(kSessionCookie, "", config_.cookie_secure,
                                                  absl::ZeroDuration()));
           res.set_redirect("/", 303);
         });
  action("/actions/resync", [this](const httplib::Request& req, httplib::Response& res,
                                   PageInput& in, const Session& s) {
    const Lang l = in.ctx.lang;
    const std::string code = Param(req, "code");
    dossiersync::v1::ResyncRequest r;
    r.add_codes(code);
    r.set_full(Param(req, "full") == "1");
    r.set_reason(absl::StrCat("console: ", s.operator_name));
    dossiersync::v1::ResyncResponse resp;
    grpc::Status st =
        backends_.sync->Resync(CallContext(config_, config_.sync_client, s.token).get(), r, &resp);
    LogInfo("console resync", {{"operator", s.operator_name}, {"code", code}, {"ok", st.ok()}});
    in.notice = st.ok() ? Notice("ok", absl::StrCat(Tr(l, "Done"), ": resync ", code))
                        : Notice("error", absl::StrCat(Tr(l, "Refused"), ": ", st.error_message()));
    int status = 200;
    std::string page = DossierPage(in, code, &status);
    Html(res, st.ok() ? 200 : 502, page);
  });
  action("/actions/reconcile", [this](const httplib::Request& req, httplib::Response& res,
                                      PageInput& in, const Session& s) {
    const Lang l = in.ctx.lang;
    dossiersync::v1::StartRunRequest r;
    r.set_repair(Param(req, "repair") == "1");
    dossiersync::v1::StartRunResponse resp;
    grpc::Status st = backends_.reconciliation->StartRun(
        CallContext(config_, config_.reconciliation_client, s.token).get(), r, &resp);
    LogInfo("console reconcile", {{"operator", s.operator_name}, {"ok", st.ok()}});
    in.notice = st.ok() ? Notice("ok", absl::StrCat(Tr(l, "Done"), ": ", resp.run_id()))
                        : Notice("error", absl::StrCat(Tr(l, "Refused"), ": ", st.error_message()));
    Html(res, st.ok() ? 200 : 502, RunsPage(in));
  });
  action("/actions/replay", [this](const httplib::Request& req, httplib::Response& res,
                                   PageInput& in, const Session& s) {
    const Lang l = in.ctx.lang;
    dossiersync::v1::ReplayDeadLettersRequest r;
    r.set_agency_code(Param(req, "agency"));
    r.set_reason_contains(Param(req, "q"));
    r.set_dry_run(Param(req, "dry_run") == "1");
    dossiersync::v1::ReplayDeadLettersResponse resp;
    grpc::Status st = backends_.sync->ReplayDeadLetters(
        CallContext(config_, config_.sync_client, s.token).get(), r, &resp);
    LogInfo("console replay", {{"operator", s.operator_name},
                               {"dry_run", r.dry_run()},
                               {"ok", st.ok()},
                               {"replayed", resp.replayed()}});
    in.notice =
        st.ok() ? Notice("ok",
                         absl::StrCat(Tr(l, "Done"), ": ", Tr(l, "Replay"), " ", resp.replayed(),
                                      " / ", resp.dead_letters_size(),
                                      r.dry_run() ? absl::StrCat(" (", Tr(l, "Dry run"), ")") : ""))
                : Notice("error", absl::StrCat(Tr(l, "Refused"), ": ", st.error_message()));
    Html(res, st.ok() ? 200 : 502, DeadLettersPage(in, r.agency_code(), r.reason_contains()));
  });
}

}  // namespace dossiersync::console
