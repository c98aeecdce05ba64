#include "services/intake/validator.h"

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "common/utf8.h"
#include "google/protobuf/util/time_util.h"

namespace dossiersync::intake {
namespace {

using dossiersync::v1::Dossier;
using dossiersync::v1::ProgressStep;
using google::protobuf::Timestamp;

// Matches `s` against a shape where 'd' is a digit and any other character is literal.
bool MatchShape(absl::string_view s, absl::string_view shape) {
  if (s.size() != shape.size()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (shape[i] == 'd' ? !absl::ascii_isdigit(s[i]) : s[i] != shape[i]) return false;
  }
  return true;
}

constexpr absl::string_view kAgencyShape = "ddd.dd.dd.Hdd";

bool AllDigits(absl::string_view s) {
  for (char c : s) {
    if (!absl::ascii_isdigit(c)) return false;
  }
  return !s.empty();
}

bool ValidYyMmDd(absl::string_view d) {
  int yy = 0, mm = 0, dd = 0;
  if (!absl::SimpleAtoi(d.substr(0, 2), &yy) || !absl::SimpleAtoi(d.substr(2, 2), &mm) ||
      !absl::SimpleAtoi(d.substr(4, 2), &dd)) {
    return false;
  }
  static const int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (mm < 1 || mm > 12 || dd < 1) return false;
  int max = kDays[mm - 1];
  if (mm == 2 && (yy % 4) != 0) max = 28;
  return dd <= max;
}

absl::Time ToTime(const Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

class Checker {
 public:
  Checker(const ValidatorConfig& c, absl::Time now) : c_(c), now_(now) {}

  absl::Status Text(const std::string& field, const std::string& value, int max) {
    int n = Utf8Length(value);
    if (n < 0) return FieldError(field, "must be valid UTF-8");
    if (n > max) {
      return FieldError(
          field, absl::StrCat("longer than the DVCQG limit of ", max, " characters (", n, ")"));
    }
    return absl::OkStatus();
  }

  absl::Status Required(const std::string& field, const std::string& value) {
    if (absl::StripAsciiWhitespace(value).empty()) {
      return FieldError(field, "required by DVCQG, must not be empty");
    }
    return absl::OkStatus();
  }

  // A timestamp must be valid and, unless it is a due date, not in the future.
  absl::Status Time(const std::string& field, const Timestamp& t, bool may_be_future) {
    if (t.seconds() == 0 && t.nanos() == 0) return absl::OkStatus();
    if (t.seconds() < 0 || t.seconds() > 253402300799LL || t.nanos() < 0 || t.nanos() > 999999999) {
      return FieldError(field, "not a valid timestamp");
    }
    if (!may_be_future && ToTime(t) > now_ + c_.max_future_skew) {
      return FieldError(field, absl::StrCat("more than ", absl::FormatDuration(c_.max_future_skew),
                                            " in the future"));
    }
    return absl::OkStatus();
  }

 private:
  const ValidatorConfig& c_;
  absl::Time now_;
};

bool Set(const Timestamp& t) { return t.seconds() != 0 || t.nanos() != 0; }

absl::Status ValidateTimes(const Dossier& d, Checker& ck) {
  DS_RETURN_IF_ERROR(ck.Time("dossier.submitted_at", d.submitted_at(), false));
  DS_RETURN_IF_ERROR(ck.Time("dossier.received_at", d.received_at(), false));
  DS_RETURN_IF_ERROR(ck.Time("dossier.due_at", d.due_at(), true));
  DS_RETURN_IF_ERROR(ck.Time("dossier.finished_at", d.finished_at(), false));
  DS_RETURN_IF_ERROR(ck.Time("dossier.returned_at", d.returned_at(), false));
  DS_RETURN_IF_ERROR(ck.Time("dossier.refused_at", d.refused_at(), false));
  int s = d.status();
  auto need = [&](bool cond, const Timestamp& t, const char* field) -> absl::Status {
    if (cond && !Set(t)) {
      return FieldError(field, absl::StrCat("required when status is ", s));
    }
    return absl::OkStatus();
  };
  bool accepted = s == 2 || s == 4 || s == 5 || s == 6 || s == 8 || s == 9 || s == 10;
  DS_RETURN_IF_ERROR(need(accepted, d.received_at(), "dossier.received_at"));
  DS_RETURN_IF_ERROR(need(s == 9 || s == 10, d.finished_at(), "dossier.finished_at"));
  DS_RETURN_IF_ERROR(need(s == 10, d.returned_at(), "dossier.returned_at"));
  DS_RETURN_IF_ERROR(need(s == 3, d.refused_at(), "dossier.refused_at"));
  // Order: submitted <= received <= due; received <= finished <= returned; submitted <= refused.
  struct Order {
    const Timestamp& a;
    const Timestamp& b;
    const char* field;
    const char* rule;
  };
  const Order orders[] = {
      {d.submitted_at(), d.received_at(), "dossier.received_at", "must not be before submitted_at"},
      {d.received_at(), d.due_at(), "dossier.due_at", "must not be before received_at"},
      {d.received_at(), d.finished_at(), "dossier.finished_at", "must not be before received_at"},
      {d.finished_at(), d.returned_at(), "dossier.returned_at", "must not be before finished_at"},
      {d.received_at(), d.returned_at(), "dossier.returned_at", "must not be before received_at"},
      {d.submitted_at(), d.refused_at(), "dossier.refused_at", "must not be before submitted_at"},
  };
  for (const Order& o : orders) {
    if (Set(o.a) && Set(o.b) && ToTime(o.b) < ToTime(o.a)) return FieldError(o.field, o.rule);
  }
  return absl::OkStatus();
}

absl::Status ValidateApplicant(const Dossier& d, const ValidatorConfig& c, Checker& ck) {
  const auto& a = d.applicant();
  if (a.kind() < 1 || a.kind() > 4) {
    return FieldError("dossier.applicant.kind",
                      "required by DVCQG: 1 citizen, 2 business, "
                      "3 state agency, 4 other organisation");
  }
  DS_RETURN_IF_ERROR(ck.Text("dossier.applicant.name", a.name(), c.max_text_chars));
  if (a.id_kind() < 0 || a.id_kind() > 2) {
    return FieldError("dossier.applicant.id_kind", "must be 1 (CCCD) or 2 (CMND)");
  }
  if (!a.id_number().empty()) {
    bool cccd = a.id_number().size() == 12, cmnd = a.id_number().size() == 9;
    if (!AllDigits(a.id_number()) || (a.id_kind() == 1 && !cccd) || (a.id_kind() == 2 && !cmnd) ||
        (a.id_kind() == 0 && !cccd && !cmnd)) {
      return FieldError("dossier.applicant.id_number",
                        "must be 12 digits (CCCD) or 9 digits (CMND), matching id_kind");
    }
  } else if (a.id_kind() != 0) {
    return FieldError("dossier.applicant.id_number", "required when id_kind is set");
  }
  if (!a.email().empty() && (a.email().find('@') == std::string::npos || a.email().size() > 254)) {
    return FieldError("dossier.applicant.email", "not an email address");
  }
  if (!a.phone().empty()) {
    absl::string_view p = a.phone();
    if (p.front() == '+') p.remove_prefix(1);
    if (!AllDigits(p) || p.size() < 8 || p.size() > 15) {
      return FieldError("dossier.applicant.phone", "must be 8-15 digits, optionally after '+'");
    }
  }
  DS_RETURN_IF_ERROR(ck.Text("dossier.applicant.account_id", a.account_id(), 200));
  return absl::OkStatus();
}

// Attachments and result documents: name (with its own limit), url, id and component code.
template <typename Doc>
absl::Status ValidateDocuments(const google::protobuf::RepeatedPtrField<Doc>& docs,
                               const std::string& field, int max_name, const ValidatorConfig& c,
                               Checker& ck) {
  for (int i = 0; i < docs.size(); ++i) {
    const Doc& x = docs[i];
    std::string f = absl::StrCat(field, "[", i, "]");
    DS_RETURN_IF_ERROR(ck.Text(f + ".name", x.name(), max_name));
    DS_RETURN_IF_ERROR(ck.Text(f + ".url", x.url(), c.max_attachment_name_chars));
    DS_RETURN_IF_ERROR(ck.Text(f + ".id", x.id(), 200));
    DS_RETURN_IF_ERROR(ck.Text(f + ".component_code", x.component_code(), 200));
  }
  return absl::OkStatus();
}

absl::Status ValidateLists(const Dossier& d, const ValidatorConfig& c, Checker& ck) {
  DS_RETURN_IF_ERROR(ValidateDocuments(d.attachments(), "dossier.attachments",
                                       c.max_attachment_name_chars, c, ck));
  DS_RETURN_IF_ERROR(ValidateDocuments(d.result_documents(), "dossier.result_documents",
                                       c.max_result_doc_name_chars, c, ck));
  for (int i = 0; i < d.fees_size(); ++i) {
    const auto& x = d.fees(i);
    std::string f = absl::StrCat("dossier.fees[", i, "]");
    DS_RETURN_IF_ERROR(ck.Text(f + ".name", x.name(), c.max_text_chars));
    if (x.amount_vnd() < 0) return FieldError(f + ".amount_vnd", "must not be negative");
  }
  for (int i = 0; i < d.supplements_size(); ++i) {
    const auto& x = d.supplements(i);
    std::string f = absl::StrCat("dossier.supplements[", i, "]");
    DS_RETURN_IF_ERROR(ck.Text(f + ".content", x.content(), c.max_text_chars));
    DS_RETURN_IF_ERROR(ck.Time(f + ".requested_at", x.requested_at(), false));
    DS_RETURN_IF_ERROR(ck.Time(f + ".due_at", x.due_at(), true));
    DS_RETURN_IF_ERROR(ck.Time(f + ".completed_at", x.completed_at(), false));
  }
  return absl::OkStatus();
}

absl::Status ValidateSteps(const dossiersync::v1::SubmitChangeRequest& req,
                           const ValidatorConfig& c, Checker& ck) {
  if (req.new_steps_size() > c.max_new_steps) {
    return FieldError("new_steps",
                      absl::StrCat("more than ", c.max_new_steps, " steps in one change"));
  }
  absl::flat_hash_map<std::string, int> first_with_id;
  for (int i = 0; i < req.new_steps_size(); ++i) {
    const ProgressStep& s = req.new_steps(i);
    std::string f = absl::StrCat("new_steps[", i, "]");
    if (absl::StripAsciiWhitespace(s.step_id()).empty()) {
      return FieldError(f + ".step_id", "required, unique within the dossier");
    }
    DS_RETURN_IF_ERROR(ck.Text(f + ".step_id", s.step_id(), 200));
    auto [it, fresh] = first_with_id.emplace(s.step_id(), i);
    if (!fresh && req.new_steps(it->second).SerializeAsString() != s.SerializeAsString()) {
      return FieldError(f + ".step_id", "step id reused with different content");
    }
    DS_RETURN_IF_ERROR(ck.Text(f + ".officer", s.officer(), c.max_officer_chars));
    DS_RETURN_IF_ERROR(ck.Text(f + ".officer_title", s.officer_title(), c.max_text_chars));
    DS_RETURN_IF_ERROR(ck.Text(f + ".department", s.department(), c.max_text_chars));
    DS_RETURN_IF_ERROR(ck.Text(f + ".content", s.content(), c.max_text_chars));
    if (s.status() < 1 || s.status() > 10) {
      return FieldError(f + ".status", "must be a DVCQG status code 1-10");
    }
    if (!Set(s.occurred_at())) return FieldError(f + ".occurred_at", "required (ThoiDiemXuLy)");
    DS_RETURN_IF_ERROR(ck.Time(f + ".occurred_at", s.occurred_at(), false));
    DS_RETURN_IF_ERROR(ck.Time(f + ".started_at", s.started_at(), false));
    DS_RETURN_IF_ERROR(ck.Time(f + ".due_at", s.due_at(), true));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidatorConfig::Validate() const {
  if (!MatchShape(province_code, "Hdd")) {
    return absl::InvalidArgumentError(
        absl::StrCat("--province_code: expected Hnn (e.g. H37), got '", province_code, "'"));
  }
  if (max_request_bytes == 0) return absl::InvalidArgumentError("max request size must be > 0");
  return absl::OkStatus();
}

absl::Status ValidateRequest(const dossiersync::v1::SubmitChangeRequest& req,
                             const ValidatorConfig& c, absl::Time now) {
  if (req.ByteSizeLong() > c.max_request_bytes) {
    return FieldError("request", absl::StrCat("message over ", c.max_request_bytes, " bytes"));
  }
  if (!req.has_dossier()) return FieldError("dossier", "required");
  const Dossier& d = req.dossier();
  Checker ck(c, now);
  // Code: {agency}-{yyMMdd}-{sequence}.
  absl::string_view code = d.code();
  size_t dash1 = code.find('-');
  size_t dash2 = dash1 == absl::string_view::npos ? dash1 : code.find('-', dash1 + 1);
  if (dash2 == absl::string_view::npos || !MatchShape(code.substr(0, dash1), kAgencyShape) ||
      dash2 - dash1 != 7 || !AllDigits(code.substr(dash1 + 1, 6)) ||
      !ValidYyMmDd(code.substr(dash1 + 1, 6)) || code.size() - dash2 - 1 < 4 ||
      !AllDigits(code.substr(dash2 + 1))) {
    return FieldError("dossier.code",
                      "must be {agency ddd.dd.dd.Hdd}-{yyMMdd}-{sequence of 4+ digits}");
  }
  if (code.substr(dash1 - 3, 3) != c.province_code) {
    return FieldError("dossier.code",
                      absl::StrCat("agency part must belong to province ", c.province_code));
  }
  if (!MatchShape(d.agency_code(), kAgencyShape)) {
    return FieldError("dossier.agency_code", "must match ddd.dd.dd.Hdd");
  }
  if (!MatchShape(d.procedure_code(), "d.dddddd")) {
    return FieldError("dossier.procedure_code", "must match d.dddddd (e.g. 1.001234)");
  }
  if (d.status() < 1 || d.status() > 10) {
    return FieldError("dossier.status", "must be a DVCQG status code 1-10");
  }
  if (d.revision() <= 0) return FieldError("dossier.revision", "must be a positive integer");
  DS_RETURN_IF_ERROR(ck.Required("dossier.procedure_name", d.procedure_name()));
  DS_RETURN_IF_ERROR(ck.Required("dossier.field_code", d.field_code()));
  DS_RETURN_IF_ERROR(ck.Required("dossier.field_name", d.field_name()));
  DS_RETURN_IF_ERROR(ck.Required("dossier.agency_name", d.agency_name()));
  if (d.channel() < 0 || d.channel() > 3) {
    return FieldError("dossier.channel", "must be 1 in person, 2 online or 3 postal");
  }
  if (d.result_delivery() < 0 || d.result_delivery() > 2) {
    return FieldError("dossier.result_delivery", "must be 1 at the office or 2 by post");
  }
  DS_RETURN_IF_ERROR(ck.Text("dossier.summary", d.summary(), c.max_summary_chars));
  DS_RETURN_IF_ERROR(ck.Text("dossier.procedure_name", d.procedure_name(), c.max_text_chars));
  DS_RETURN_IF_ERROR(ck.Text("dossier.field_code", d.field_code(), 200));
  DS_RETURN_IF_ERROR(ck.Text("dossier.field_name", d.field_name(), c.max_text_chars));
  DS_RETURN_IF_ERROR(ck.Text("dossier.agency_name", d.agency_name(), c.max_text_chars));
  DS_RETURN_IF_ERROR(ck.Text("dossier.receipt_number", d.receipt_number(), 200));
  DS_RETURN_IF_ERROR(ck.Text("dossier.return_info", d.return_info(), c.max_text_chars));
  DS_RETURN_IF_ERROR(ck.Text("dossier.other_info", d.other_info(), c.max_text_chars));
  DS_RETURN_IF_ERROR(ValidateApplicant(d, c, ck));
  DS_RETURN_IF_ERROR(ValidateTimes(d, ck));
  DS_RETURN_IF_ERROR(ValidateLists(d, c, ck));
  DS_RETURN_IF_ERROR(ValidateSteps(req, c, ck));
  return absl::OkStatus();
}

}  // namespace dossiersync::intake
