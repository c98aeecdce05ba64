#include "services/console/html.h"

#include <cmath>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"

namespace dossiersync::console {
namespace {

// English text -> Vietnamese. The English text is the key: a missing entry shows English.
const absl::flat_hash_map<absl::string_view, const char*>& Vietnamese() {
  static const auto* m = new absl::flat_hash_map<absl::string_view, const char*>{
      {"dossier-sync console", "Bảng điều khiển đồng bộ hồ sơ"},
      {"Overview", "Tổng quan"},
      {"Drift", "Sai lệch"},
      {"Dossier", "Hồ sơ"},
      {"Dead letters", "Hồ sơ lỗi đồng bộ"},
      {"Runs", "Lượt đối soát"},
      {"Sign in", "Đăng nhập"},
      {"Sign out", "Đăng xuất"},
      {"Signed in as", "Đã đăng nhập:"},
      {"Operator token", "Mã truy cập của cán bộ vận hành"},
      {"Province", "Toàn tỉnh"},
      {"Agency", "Cơ quan"},
      {"Agencies", "Các cơ quan"},
      {"In sync", "Đã đồng bộ"},
      {"In-sync share", "Tỷ lệ đồng bộ"},
      {"Sync lag p50", "Độ trễ đồng bộ p50"},
      {"Sync lag p99", "Độ trễ đồng bộ p99"},
      {"Received", "Tiếp nhận"},
      {"Breaker", "Cầu dao DVCQG"},
      {"closed", "đóng (bình thường)"},
      {"open", "mở (tạm dừng gọi DVCQG)"},
      {"Paused", "Tạm dừng"},
      {"yes", "có"},
      {"no", "không"},
      {"Pending", "Đang chờ"},
      {"Score forecast", "Dự báo điểm đánh giá"},
      {"provincial data", "theo dữ liệu tỉnh"},
      {"as DVCQG holds it", "theo dữ liệu DVCQG"},
      {"Points the sync gap costs", "Số điểm mất do chưa đồng bộ"},
      {"Period", "Kỳ"},
      {"Run", "Lượt"},
      {"State", "Trạng thái"},
      {"Trigger", "Kích hoạt"},
      {"Started", "Bắt đầu"},
      {"Checked", "Đã kiểm tra"},
      {"In flight", "Đang đồng bộ"},
      {"Verified before", "Đã khớp trước đó"},
      {"Consistency", "Tỷ lệ khớp"},
      {"Repairs", "Yêu cầu sửa"},
      {"Kind", "Loại"},
      {"Detail", "Chi tiết"},
      {"Count", "Số lượng"},
      {"Code", "Mã hồ sơ"},
      {"Revision", "Phiên bản"},
      {"Reason", "Lý do"},
      {"Time", "Thời điểm"},
      {"Replayed", "Đã gửi lại"},
      {"Field", "Trường"},
      {"Provincial", "Cấp tỉnh"},
      {"National (DVCQG)", "Quốc gia (DVCQG)"},
      {"Story", "Diễn biến"},
      {"Event", "Sự kiện"},
      {"Differences", "Khác biệt"},
      {"none", "không có"},
      {"Absent at DVCQG", "DVCQG không có hồ sơ này"},
      {"Looked up now", "Tra cứu lúc này"},
      {"Latest check", "Lần kiểm tra gần nhất"},
      {"Unknown", "Chưa rõ"},
      {"Find a dossier", "Tìm hồ sơ"},
      {"Find", "Tìm"},
      {"Resync this dossier", "Đồng bộ lại hồ sơ này"},
      {"Start a reconciliation", "Bắt đầu đối soát"},
      {"with repairs", "kèm sửa sai lệch"},
      {"Replay", "Gửi lại"},
      {"Dry run", "Chạy thử"},
      {"Filter", "Lọc"},
      {"Reason contains", "Lý do chứa"},
      {"matched", "kết quả"},
      {"Sign in to act", "Đăng nhập để thao tác"},
      {"Done", "Đã thực hiện"},
      {"Refused", "Bị từ chối"},
      {"Drift by kind", "Sai lệch theo loại"},
      {"Drift by agency", "Sai lệch theo cơ quan"},
      {"No runs yet", "Chưa có lượt đối soát"},
      {"Not available", "Không đọc được"},
      {"Dead letters by agency", "Hồ sơ lỗi theo cơ quan"},
      {"In-sync share by agency", "Tỷ lệ đồng bộ theo cơ quan"},
      {"Points at stake by agency", "Điểm mất theo cơ quan"},
      {"Not found", "Không tìm thấy"},
      {"Wrong or expired form: reload the page and try again",
       "Biểu mẫu sai hoặc hết hạn: tải lại trang rồi thử lại"},
      {"Sign-in is not configured (--auth_tokens_file)",
       "Chưa cấu hình đăng nhập (--auth_tokens_file)"},
      {"Unknown token", "Mã truy cập không đúng"},
      {"Not an operator token", "Không phải mã của cán bộ vận hành"},
      {"Read on", "Đọc lúc"},
  };
  return *m;
}

}  // namespace

const char* Tr(Lang lang, absl::string_view key) {
  if (lang == Lang::kVi) {
    auto it = Vietnamese().find(key);
    if (it != Vietnamese().end()) return it->second;
  }
  return key.data();
}

std::string Escape(absl::string_view s) {
  return absl::StrReplaceAll(
      s, {{"&", "&amp;"}, {"<", "&lt;"}, {">", "&gt;"}, {"\"", "&quot;"}, {"'", "&#39;"}});
}

std::string UrlEncode(absl::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      absl::StrAppendFormat(&out, "%%%02X", c);
    }
  }
  return out;
}

std::string Percent(Lang lang, double share) {
  if (share < 0 || std::isnan(share)) return "–";
  std::string s = absl::StrFormat("%.1f %%", share * 100);
  if (lang == Lang::kVi) absl::StrReplaceAll({{".", ","}}, &s);
  return s;
}

std::string Page(const PageContext& ctx, absl::string_view active, absl::string_view title,
                 absl::string_view body) {
  const Lang l = ctx.lang;
  std::string nav;
  for (const auto& [path, label] :
       std::vector<std::pair<std::string, std::string>>{{"/", "Overview"},
                                                        {"/drift", "Drift"},
                                                        {"/dead-letters", "Dead letters"},
                                                        {"/runs", "Runs"}}) {
    absl::StrAppend(&nav, "<a href=\"", path, "\"", label == active ? " class=\"active\"" : "", ">",
                    Escape(Tr(l, label)), "</a>");
  }
  absl::StrAppend(&nav,
                  "<form class=\"find\" method=\"get\" action=\"/dossier\"><input name=\"code\" "
                  "placeholder=\"",
                  Escape(Tr(l, "Find a dossier")), "\" aria-label=\"",
                  Escape(Tr(l, "Find a dossier")), "\"><button>", Escape(Tr(l, "Find")),
                  "</button></form>");
  // The other language, same page.
  const std::string other = l == Lang::kVi ? "en" : "vi";
  std::string switch_to =
      absl::StrCat(ctx.path, "?", ctx.query, ctx.query.empty() ? "" : "&", "lang=", other);
  std::string who;
  if (ctx.signed_in) {
    who = absl::StrCat("<span class=\"who\">", Escape(Tr(l, "Signed in as")), " ",
                       Escape(ctx.operator_name), "</span>",
                       ActionForm(ctx, "/signout", {}, Tr(l, "Sign out")));
  } else if (ctx.sign_in_available) {
    who = absl::StrCat("<a id=\"signin\" href=\"/signin\">", Escape(Tr(l, "Sign in")), "</a>");
  }
  return absl::StrCat(
      "<!doctype html>\n<html lang=\"", l == Lang::kVi ? "vi" : "en",
      "\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" "
      "content=\"width=device-width, initial-scale=1\"><title>",
      Escape(title), " · ", Escape(Tr(l, "dossier-sync console")),
      "</title><link rel=\"stylesheet\" href=\"/static/console.css\"><link rel=\"icon\" "
      "href=\"data:,\"></head><body><header><strong>",
      Escape(Tr(l, "dossier-sync console")), "</strong><nav>", nav, "</nav><span class=\"side\">",
      who, "<a id=\"lang\" href=\"", Escape(switch_to), "\">",
      other == "en" ? "English" : "Tiếng Việt", "</a></span></header><main><h1>", Escape(title),
      "</h1>", body, "</main></body></html>\n");
}

std::string Table(const std::vector<std::string>& header,
                  const std::vector<std::vector<std::string>>& rows, absl::string_view css_class) {
  std::string out = absl::StrCat("<table", css_class.empty() ? "" : " class=\"", css_class,
                                 css_class.empty() ? "" : "\"", "><thead><tr>");
  for (const auto& h : header) absl::StrAppend(&out, "<th>", h, "</th>");
  absl::StrAppend(&out, "</tr></thead><tbody>");
  for (const auto& r : rows) {
    absl::StrAppend(&out, "<tr>");
    for (const auto& c : r) absl::StrAppend(&out, "<td>", c, "</td>");
    absl::StrAppend(&out, "</tr>");
  }
  absl::StrAppend(&out, "</tbody></table>");
  return out;
}

std::string Figure(absl::string_view id, absl::string_view label, absl::string_view value) {
  return absl::StrCat("<div class=\"figure\"><div class=\"label\">", Escape(label),
                      "</div><div class=\"value\" id=\"", Escape(id), "\">", Escape(value),
                      "</div></div>");
}

std::string ActionForm(const PageContext& ctx, absl::string_view action,
                       const std::vector<std::pair<std::string, std::string>>& hidden,
                       absl::string_view button, absl::string_view extra_inputs) {
  std::string out =
      absl::StrCat("<form class=\"action\" method=\"post\" action=\"", Escape(action),
                   "\"><input type=\"hidden\" name=\"csrf\" value=\"", Escape(ctx.csrf), "\">");
  for (const auto& [k, v] : hidden) {
    absl::StrAppend(&out, "<input type=\"hidden\" name=\"", Escape(k), "\" value=\"", Escape(v),
                    "\">");
  }
  absl::StrAppend(&out, extra_inputs, "<button type=\"submit\">", Escape(button),
                  "</button></form>");
  return out;
}

std::string Notice(absl::string_view cls, absl::string_view text) {
  return absl::StrCat("<p class=\"notice ", Escape(cls), "\" id=\"notice\">", Escape(text), "</p>");
}

const char* Stylesheet() {
  return R"css(
body{font-family:system-ui,"Segoe UI",Roboto,"Noto Sans",sans-serif;margin:0;color:#1d2733;background:#f5f7fa}
header{display:flex;gap:1.5em;align-items:center;padding:.6em 1.2em;background:#12355b;color:#fff;flex-wrap:wrap}
header a{color:#dce9f7;text-decoration:none;margin-right:1em}
header a.active{color:#fff;font-weight:600;border-bottom:2px solid #f3c623}
header .side{margin-left:auto;display:flex;gap:1em;align-items:center}
header form{display:inline}
form.find input{padding:.2em .4em}
main{padding:1em 1.5em;max-width:1200px}
h1{font-size:1.4em;margin:.3em 0 .8em}
h2{font-size:1.1em;margin:1.4em 0 .5em}
.figures{display:flex;gap:1em;flex-wrap:wrap}
.figure{background:#fff;border:1px solid #d5dde6;border-radius:6px;padding:.6em 1em;min-width:10em}
.figure .label{font-size:.85em;color:#56657a}
.figure .value{font-size:1.5em;font-weight:600}
table{border-collapse:collapse;background:#fff;margin:.4em 0 1em;font-size:.92em}
th,td{border:1px solid #d5dde6;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#e9eef4}
tr.differs td{background:#fde8e8}
td.mark{color:#b3261e;font-weight:700}
.notice{padding:.5em .8em;border-radius:4px}
.notice.ok{background:#e3f4e6}
.notice.error{background:#fde8e8}
form.action{display:inline-block;margin:.3em .5em .3em 0}
svg text{font-size:12px;fill:#1d2733}
)css";
}

}  // namespace dossiersync::console
