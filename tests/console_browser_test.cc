// dossier-console in a real headless Chromium (tests/browser/console_check.mjs through
// puppeteer-core, installed by tests/lib/browser_tools.sh) against a running stack: every page
// loads without a console error or a failed request, the figures on the page equal what the
// services answer over gRPC, actions need sign-in, an action without the CSRF token is refused,
// and a resync clicked on the dossier page reaches DVCQG. Screenshots of each page land in
// <build>/screenshots.
#include <fstream>
#include <iterator>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "services/console/html.h"
#include "services/console/pages.h"
#include "tests/console_fixture.h"

namespace dossiersync {
namespace {

using nlohmann::json;

class ConsoleBrowserTest : public ConsoleFixture {
 protected:
  // Runs the browser script; its JSON answer, or null with the log in `why`.
  json Browse(const std::string& mode, std::string* why) {
    const std::string log = dir_.File("browser-" + mode + ".log");
    const std::string out = dir_.File("browser-" + mode + ".json");
    const std::string tools = DS_TOOLS_DIR;
    if (!std::ifstream(tools + "/node_modules/puppeteer-core/package.json")) {
      *why = "puppeteer-core is not installed: run tests/lib/browser_tools.sh";
      return nullptr;
    }
    setenv("DS_TOOLS_DIR", tools.c_str(), 1);
    testing::Process node(
        {"/bin/sh", "-c",
         absl::StrCat("exec node ", DS_SOURCE_DIR, "/tests/browser/console_check.mjs ", mode,
                      " http://127.0.0.1:", console_->port(), " ", kOperatorToken, " ",
                      tampered_code_, " ", DS_SCREENSHOT_DIR, " > ", out)},
        log);
    const int rc = node.Wait();
    std::ifstream lin(log), oin(out);
    std::string text(std::istreambuf_iterator<char>(oin), {});
    *why = absl::StrCat("exit ", rc, "\n", std::string(std::istreambuf_iterator<char>(lin), {}));
    if (rc != 0) return nullptr;
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded()) {
      *why += "\nnot JSON: " + text;
      return nullptr;
    }
    return j;
  }
};

TEST_F(ConsoleBrowserTest, EveryPageLoadsCleanShowsTheServicesFiguresAndActsOnlySignedIn) {
  Populate();
  // The services' answers before and after the pages were read: the pages must equal them (and
  // nothing may have moved meanwhile).
  struct Answers {
    dossiersync::v1::Kpis k;
    dossiersync::v1::SyncStatus s;
    dossiersync::v1::Score score;
    std::string Key() const {
      return k.SerializeAsString() + s.SerializeAsString() + score.SerializeAsString();
    }
  };
  auto read = [&](Answers* a) {
    ASSERT_TRUE(recon_stub_
                    ->GetKpis(MakeContext({}, absl::Seconds(10)).get(),
                              dossiersync::v1::GetKpisRequest(), &a->k)
                    .ok());
    ASSERT_TRUE(sync_stub_
                    ->GetStatus(MakeContext({}, absl::Seconds(10)).get(),
                                dossiersync::v1::GetStatusRequest(), &a->s)
                    .ok());
    dossiersync::v1::GetScoreRequest sr;
    sr.set_period("2024");
    ASSERT_TRUE(
        recon_stub_->GetScore(MakeContext({}, absl::Seconds(10)).get(), sr, &a->score).ok());
  };
  Answers before, after;
  json r;
  std::string why;
  // The reconciliation's evidence may still be catching up with the sync's results: read until
  // the answers stand still around the browser's visit.
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        read(&before);
        r = Browse("pages", &why);
        read(&after);
        return !r.is_null() && before.Key() == after.Key();
      },
      absl::Seconds(120)))
      << why;
  const dossiersync::v1::Kpis& k = after.k;
  const dossiersync::v1::SyncStatus& s = after.s;
  const dossiersync::v1::Score& score = after.score;

  // Every page: 200, no console error, nothing failed or refused, a screenshot.
  for (const auto& [name, page] : r["pages"].items()) {
    EXPECT_EQ(page["status"], 200) << name;
    EXPECT_TRUE(page["problems"].empty()) << name << ": " << page["problems"].dump();
    EXPECT_TRUE(std::ifstream(page["screenshot"].get<std::string>()).good()) << name;
  }
  EXPECT_EQ(r["pages"].size(), 7u);
  EXPECT_EQ(r["pages"]["overview"]["lang"], "vi");
  EXPECT_EQ(r["pages"]["overview-en"]["lang"], "en");

  // The figures equal the services' answers.
  const json& o = r["pages"]["overview"]["ids"];
  EXPECT_EQ(o["province-received"], absl::StrCat(k.received()));
  EXPECT_EQ(o["province-in-sync"], console::Percent(console::Lang::kVi, k.in_sync_share()));
  EXPECT_EQ(o["province-lag-p50"], console::DurationText(k.sync_lag_p50()));
  EXPECT_EQ(o["dead-letters"], absl::StrCat(s.dead_letters()));
  EXPECT_EQ(o["score-at-stake"], absl::StrFormat("%.2f", score.total().points_at_stake()));
  EXPECT_EQ(o["score-national"], absl::StrFormat("%.2f", score.total().national().points()));
  EXPECT_EQ(o[absl::StrCat("agency-", kAgency, "-received")],
            absl::StrCat(k.by_agency().at(kAgency).received()));
  EXPECT_EQ(r["pages"]["overview-en"]["ids"]["province-in-sync"],
            console::Percent(console::Lang::kEn, k.in_sync_share()));
  const json& d = r["pages"]["drift"]["ids"];
  EXPECT_EQ(d["run-id"], run_.run_id());
  EXPECT_EQ(d["run-checked"], absl::StrCat(run_.dossiers_checked()));
  EXPECT_EQ(r["pages"]["dossier"]["marked"], json::array({"NgayHenTra"}));
  EXPECT_EQ(r["pages"]["dead-letters"]["ids"]["dead-letters-matched"], "1");

  // Actions: none without sign-in; the CSRF token is required; the resync reaches DVCQG.
  const size_t writes_before = History(tampered_code_).size();
  json acts = Browse("actions", &why);
  ASSERT_FALSE(acts.is_null()) << why;
  const json& a = acts["actions"];
  EXPECT_FALSE(a["resync_form_without_session"].get<bool>());
  EXPECT_EQ(a["without_session"], 401);
  EXPECT_EQ(a["signin"]["status"], 200);
  EXPECT_TRUE(absl::StrContains(a["signed_in_as"].get<std::string>(), "ops-alice")) << a.dump();
  ASSERT_EQ(a["session_cookie"].size(), 1u) << a.dump();
  EXPECT_TRUE(a["session_cookie"][0]["httpOnly"].get<bool>());
  EXPECT_EQ(a["session_cookie"][0]["sameSite"], "Strict");
  EXPECT_EQ(a["without_csrf"], 403);
  EXPECT_EQ(a["resync"]["status"], 200) << a.dump();
  EXPECT_TRUE(a["problems"].empty()) << a["problems"].dump();
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        return History(tampered_code_).size() > writes_before &&
               testing::SimStored(*admin_, tampered_code_)["NgayHenTra"] != "20240801080000";
      },
      absl::Seconds(60)))
      << History(tampered_code_).dump();
}

}  // namespace
}  // namespace dossiersync
