// dossier-console over HTTP against a running stack (intake, the devbroker, the sync, the
// simulator, the reconciliation, each on real sockets): the pages show what the services answer,
// in Vietnamese by default and English on request, with nothing loaded from elsewhere; the
// actions need a signed-in operator and the session's CSRF token; a resync started from the
// dossier page reaches DVCQG.
#include <httplib.h>

#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/grpc_client.h"
#include "dossiersync/v1/reconciliation.grpc.pb.h"
#include "dossiersync/v1/sync.grpc.pb.h"
#include "gtest/gtest.h"
#include "services/console/app.h"
#include "services/console/html.h"
#include "services/console/pages.h"
#include "services/dvcqg_sim/simulator.h"
#include "services/reconciliation/app.h"
#include "services/sync/app.h"
#include "tests/console_fixture.h"

namespace dossiersync {
namespace {

using nlohmann::json;

// The text between `before` and the next `until` in `text`, or "". (Not std::regex: GCC 12 warns
// inside <regex> under the sanitizer build's -O1, and warnings are errors.)
std::string Between(const std::string& text, const std::string& before, char until) {
  size_t at = text.find(before);
  if (at == std::string::npos) return "";
  at += before.size();
  size_t end = text.find(until, at);
  return end == std::string::npos ? "" : text.substr(at, end - at);
}

// The text of the element with id `id` (a figure), or "".
std::string ById(const std::string& html, const std::string& id) {
  return Between(html, "id=\"" + id + "\">", '<');
}

std::string CsrfOf(const std::string& html) { return Between(html, "name=\"csrf\" value=\"", '"'); }

TEST_F(ConsoleFixture, PagesShowWhatTheServicesAnswer) {
  Populate();
  httplib::Client http("127.0.0.1", console_->port());
  auto home = http.Get("/");
  ASSERT_TRUE(home);
  ASSERT_EQ(home->status, 200) << home->body;
  EXPECT_TRUE(absl::StrContains(home->body, "<html lang=\"vi\"")) << home->body;
  EXPECT_TRUE(absl::StrContains(home->body, "Tổng quan"));
  EXPECT_TRUE(
      absl::StrContains(home->get_header_value("Content-Security-Policy"), "default-src 'none'"));
  // The figures equal the services' answers.
  dossiersync::v1::Kpis k;
  ASSERT_TRUE(
      recon_stub_
          ->GetKpis(MakeContext({}, absl::Seconds(10)).get(), dossiersync::v1::GetKpisRequest(), &k)
          .ok());
  EXPECT_EQ(ById(home->body, "province-received"), absl::StrCat(k.received()));
  EXPECT_EQ(ById(home->body, "province-in-sync"),
            console::Percent(console::Lang::kVi, k.in_sync_share()));
  dossiersync::v1::SyncStatus s;
  ASSERT_TRUE(sync_stub_
                  ->GetStatus(MakeContext({}, absl::Seconds(10)).get(),
                              dossiersync::v1::GetStatusRequest(), &s)
                  .ok());
  EXPECT_EQ(s.dead_letters(), 1);
  EXPECT_EQ(ById(home->body, "dead-letters"), "1");
  EXPECT_EQ(ById(home->body, absl::StrCat("agency-", kAgency, "-dead-letters")), "1");
  EXPECT_EQ(ById(home->body, "breaker"), console::Tr(console::Lang::kVi, "closed"));
  EXPECT_TRUE(absl::StrContains(home->body, "<svg class=\"chart\"")) << home->body;
  // English on request, remembered.
  auto en = http.Get("/?lang=en");
  ASSERT_TRUE(en);
  EXPECT_TRUE(absl::StrContains(en->body, "<html lang=\"en\"")) << en->body;
  EXPECT_TRUE(absl::StrContains(en->body, ">Overview<"));
  EXPECT_TRUE(absl::StrContains(en->get_header_value("Set-Cookie"), "ds_lang=en"));
  EXPECT_EQ(ById(en->body, "province-in-sync"),
            console::Percent(console::Lang::kEn, k.in_sync_share()));

  // Runs and drift: the run the fixture made.
  auto runs = http.Get("/runs");
  ASSERT_TRUE(runs && runs->status == 200);
  EXPECT_TRUE(absl::StrContains(runs->body, run_.run_id())) << runs->body;
  auto drift = http.Get(("/drift?run=" + run_.run_id()).c_str());
  ASSERT_TRUE(drift && drift->status == 200);
  int64_t items = 0;
  for (const auto& [kind, n] : run_.drift_by_kind()) items += n;
  EXPECT_EQ(ById(drift->body, "drift-items"), absl::StrCat(items)) << drift->body;
  EXPECT_EQ(ById(drift->body, "run-checked"), absl::StrCat(run_.dossiers_checked()));
  EXPECT_TRUE(absl::StrContains(drift->body, "DRIFT_KIND_FIELD_MISMATCH")) << drift->body;

  // Dead letters.
  auto dl = http.Get("/dead-letters?q=MaTTHC");
  ASSERT_TRUE(dl && dl->status == 200);
  EXPECT_EQ(ById(dl->body, "dead-letters-matched"), "1");
  EXPECT_TRUE(absl::StrContains(dl->body, refused_code_)) << dl->body;

  // One dossier: the tampered field marked.
  auto d = http.Get(("/dossier?code=" + tampered_code_).c_str());
  ASSERT_TRUE(d && d->status == 200) << (d ? d->body : "");
  EXPECT_TRUE(absl::StrContains(d->body, "<tr class=\"differs\" data-field=\"NgayHenTra\">"))
      << d->body;
  EXPECT_TRUE(absl::StrContains(d->body, "20240801080000"));
  EXPECT_TRUE(absl::StrContains(d->body, "DRIFT_KIND_FIELD_MISMATCH"));
  auto unknown = http.Get("/dossier?code=000.00.13.H37-240705-9999");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  // Nothing from elsewhere: every reference is the console's own.
  for (const auto* page : {&home->body, &drift->body, &d->body, &dl->body}) {
    for (const char* ref : {"src=\"http", "href=\"http", "href=\"//", "src=\"//", "url("}) {
      EXPECT_FALSE(absl::StrContains(*page, ref)) << ref << " in " << *page;
    }
    EXPECT_FALSE(absl::StrContains(*page, "<script")) << *page;
  }
}

TEST_F(ConsoleFixture, ActionsNeedSignInAndTheCsrfTokenAndAResyncReachesDvcqg) {
  Populate();
  httplib::Client http("127.0.0.1", console_->port());
  const std::string code = tampered_code_;
  // Not signed in: refused, nothing called.
  httplib::Params p{{"code", code}};
  auto anon = http.Post("/actions/resync", p);
  ASSERT_TRUE(anon);
  EXPECT_EQ(anon->status, 401);
  // Sign-in: the form's nonce must come back with its cookie.
  auto form = http.Get("/signin");
  ASSERT_TRUE(form && form->status == 200);
  const std::string nonce = Between(form->body, "name=\"nonce\" value=\"", '"');
  ASSERT_EQ(nonce.size(), 64u) << form->body;
  httplib::Headers nonce_cookie{{"Cookie", "ds_signin=" + nonce}};
  auto bad =
      http.Post("/signin", nonce_cookie, httplib::Params{{"token", "wrong"}, {"nonce", nonce}});
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 401);
  auto portal = http.Post("/signin", nonce_cookie,
                          httplib::Params{{"token", kPortalToken}, {"nonce", nonce}});
  ASSERT_TRUE(portal);
  EXPECT_EQ(portal->status, 401) << "a portal token is not an operator's";
  auto no_nonce =
      http.Post("/signin", httplib::Params{{"token", kOperatorToken}, {"nonce", nonce}});
  ASSERT_TRUE(no_nonce);
  EXPECT_EQ(no_nonce->status, 403) << "the nonce without its cookie";
  auto ok = http.Post("/signin", nonce_cookie,
                      httplib::Params{{"token", kOperatorToken}, {"nonce", nonce}});
  ASSERT_TRUE(ok);
  ASSERT_EQ(ok->status, 303);
  const std::string set = ok->get_header_value("Set-Cookie");
  EXPECT_TRUE(absl::StrContains(set, "HttpOnly")) << set;
  EXPECT_TRUE(absl::StrContains(set, "SameSite=Strict")) << set;
  const std::string id = Between(set, "ds_session=", ';');
  ASSERT_EQ(id.size(), 64u) << set;
  httplib::Headers session{{"Cookie", "ds_session=" + id}};

  // Signed in: the dossier page carries the action with its CSRF token.
  auto page = http.Get(("/dossier?code=" + code).c_str(), session);
  ASSERT_TRUE(page && page->status == 200);
  EXPECT_TRUE(absl::StrContains(page->body, "ops-alice")) << page->body;
  const std::string csrf = CsrfOf(page->body);
  ASSERT_FALSE(csrf.empty()) << page->body;
  const size_t writes_before = History(code).size();
  auto no_csrf = http.Post("/actions/resync", session, p);
  ASSERT_TRUE(no_csrf);
  EXPECT_EQ(no_csrf->status, 403);
  auto wrong_csrf = http.Post("/actions/resync", session,
                              httplib::Params{{"code", code}, {"csrf", std::string(64, 'a')}});
  ASSERT_TRUE(wrong_csrf);
  EXPECT_EQ(wrong_csrf->status, 403);
  EXPECT_EQ(History(code).size(), writes_before) << "a refused action called nothing";
  auto resync =
      http.Post("/actions/resync", session, httplib::Params{{"code", code}, {"csrf", csrf}});
  ASSERT_TRUE(resync);
  EXPECT_EQ(resync->status, 200) << resync->body;
  EXPECT_TRUE(absl::StrContains(resync->body, "class=\"notice ok\"")) << resync->body;
  // It reaches DVCQG: a new write of the dossier, and the tampered date is repaired.
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        return History(code).size() > writes_before &&
               testing::SimStored(*admin_, code)["NgayHenTra"] != "20240801080000";
      },
      absl::Seconds(60)))
      << History(code).dump();

  // Replay (a dry run sends nothing), then reconcile from the runs page.
  auto dl = http.Get("/dead-letters", session);
  ASSERT_TRUE(dl);
  auto dry = http.Post("/actions/replay", session,
                       httplib::Params{{"csrf", CsrfOf(dl->body)}, {"dry_run", "1"}});
  ASSERT_TRUE(dry);
  EXPECT_EQ(dry->status, 200) << dry->body;
  EXPECT_TRUE(absl::StrContains(dry->body, "0 / 1")) << dry->body;
  auto runs = http.Get("/runs", session);
  ASSERT_TRUE(runs);
  auto started = http.Post("/actions/reconcile", session,
                           httplib::Params{{"csrf", CsrfOf(runs->body)}, {"repair", "1"}});
  ASSERT_TRUE(started);
  EXPECT_EQ(started->status, 200) << started->body;
  EXPECT_TRUE(absl::StrContains(started->body, "class=\"notice ok\"")) << started->body;

  // Sign-out ends the session: the same cookie is refused afterwards.
  auto out = http.Post("/signout", session, httplib::Params{{"csrf", csrf}});
  ASSERT_TRUE(out);
  EXPECT_EQ(out->status, 303);
  auto after =
      http.Post("/actions/resync", session, httplib::Params{{"code", code}, {"csrf", csrf}});
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, 401);
}

TEST(ConsoleConfigTest, RefusesAnInsecureConfigurationUnlessAskedFor) {
  console::ConsoleConfig c;
  EXPECT_TRUE(absl::StrContains(c.Validate().message(), "--auth_tokens_file")) << c.Validate();
  c.tokens_file = "/tmp/tokens";
  EXPECT_TRUE(absl::StrContains(c.Validate().message(), "--intake_token_file")) << c.Validate();
  c.allow_insecure = true;
  EXPECT_TRUE(c.Validate().ok());
  c.session_ttl = absl::Seconds(1);
  EXPECT_EQ(c.Validate().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace dossiersync
