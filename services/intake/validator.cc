#include "services/intake/validator.h"

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/dvcqg/mapping.h"
#include "common/errors.h"
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

// Records violations into `v`; nothing here stops at the first one.
class Checker {
 public:
  Checker(const ValidatorConfig& c, absl::Time now, FieldViolations* v) : c_(c), now_(now), v_(v) {}

  void Fail(const std::string& field, const std::string& rule) { v_->Add(field, rule); }

  void Text(const std::string& field, const std::string& value, int max) {
    int n = Utf8Length(value);
    if (n < 0) return Fail(field, "must be valid UTF-8");
    if (n > max) {
      Fail(field, absl::StrCat("longer than the DVCQG limit of ", max, " characters (", n, ")"));
    }
  }

  void Required(const std::string& field, const std::string& value) {
    if (absl::StripAsciiWhitespace(value).empty()) {
      Fail(field, "required by DVCQG, must not be empty");
    }
  }

  // A timestamp must be valid and, unless it is a due date, not in the future. False when it is
  // not a valid timestamp (later order checks skip it).
  bool Time(const std::string& field, const Timestamp& t, bool may_be_future) {
    if (t.seconds() == 0 && t.nanos() == 0) return true;
    if (t.seconds() < 0 || t.seconds() > 253402300799LL || t.nanos() < 0 || t.nanos() > 999999999) {
      Fail(field, "not a valid timestamp");
      return false;
    }
    if (!may_be_future && ToTime(t) > now_ + c_.max_future_skew) {
      Fail(field,
           absl::StrCat("more than ", absl::FormatDuration(c_.max_future_skew), " in the future"));
    }
    return true;
  }

  const ValidatorConfig& config() const { return c_; }

 private:
  const ValidatorConfig& c_;
  absl::Time now_;
  FieldViolations* v_;
};

bool Set(const Timestamp& t) { return t.seconds() != 0 || t.nanos() != 0; }

void ValidateTimes(const Dossier& d, Checker& ck) {
  bool valid = true;
  valid &= ck.Time("dossier.submitted_at", d.submitted_at(), false);
  valid &= ck.Time("dossier.received_at", d.received_at(), false);
  valid &= ck.Time("dossier.due_at", d.due_at(), true);
  valid &= ck.Time("dossier.finished_at", d.finished_at(), false);
  valid &= ck.Time("dossier.returned_at", d.returned_at(), false);
  valid &= ck.Time("dossier.refused_at", d.refused_at(), false);
  int s = d.status();
  auto need = [&](bool cond, const Timestamp& t, const char* field) {
    if (cond && !Set(t)) ck.Fail(field, absl::StrCat("required when status is ", s));
  };
  bool accepted = s == 2 || s == 4 || s == 5 || s == 6 || s == 8 || s == 9 || s == 10;
  need(accepted, d.received_at(), "dossier.received_at");
  need(s == 9 || s == 10, d.finished_at(), "dossier.finished_at");
  need(s == 10, d.returned_at(), "dossier.returned_at");
  need(s == 3, d.refused_at(), "dossier.refused_at");
  if (!valid) return;
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
    if (Set(o.a) && Set(o.b) && ToTime(o.b) < ToTime(o.a)) ck.Fail(o.field, o.rule);
  }
}

// Citizens by CCCD (12 digits) or CMND (9); businesses, state agencies and other organisations
// by their enterprise / tax code (10 digits, or dddddddddd-ddd for a branch).
void ValidateIdentity(const dossiersync::v1::Applicant& a, Checker& ck) {
  using dossiersync::v1::IdKind;
  const bool citizen = a.kind() == dossiersync::v1::APPLICANT_KIND_CITIZEN;
  const bool organisation = a.kind() >= 2 && a.kind() <= 4;
  if (a.id_kind() < 0 || a.id_kind() > 3) {
    return ck.Fail("dossier.applicant.id_kind",
                   "must be 1 (CCCD), 2 (CMND) or 3 (enterprise / tax code)");
  }
  if (a.id_number().empty()) {
    if (a.id_kind() != 0) ck.Fail("dossier.applicant.id_number", "required when id_kind is set");
    return;
  }
  if (citizen) {
    if (a.id_kind() == dossiersync::v1::ID_KIND_ENTERPRISE) {
      return ck.Fail("dossier.applicant.id_kind",
                     "a citizen is identified by CCCD (1) or CMND (2), not an enterprise code");
    }
    bool cccd = a.id_number().size() == 12, cmnd = a.id_number().size() == 9;
    if (!AllDigits(a.id_number()) || (a.id_kind() == 1 && !cccd) || (a.id_kind() == 2 && !cmnd) ||
        (a.id_kind() == 0 && !cccd && !cmnd)) {
      ck.Fail("dossier.applicant.id_number",
              "a citizen's must be 12 digits (CCCD) or 9 digits (CMND), matching id_kind");
    }
  } else if (organisation) {
    if (a.id_kind() != 0 && a.id_kind() != dossiersync::v1::ID_KIND_ENTERPRISE) {
      return ck.Fail("dossier.applicant.id_kind",
                     "a business or organisation is identified by its enterprise / tax code (3)");
    }
    if (!dvcqg::IsEnterpriseCode(a.id_number())) {
      ck.Fail("dossier.applicant.id_number",
              "a business's or organisation's must be its enterprise / tax code: 10 digits, or "
              "dddddddddd-ddd for a branch");
    }
  }
}

void ValidateApplicant(const Dossier& d, Checker& ck) {
  const auto& a = d.applicant();
  if (a.kind() < 1 || a.kind() > 4) {
    ck.Fail("dossier.applicant.kind",
            "required by DVCQG: 1 citizen, 2 business, 3 state agency, 4 other organisation");
  }
  ck.Text("dossier.applicant.name", a.name(), ck.config().max_text_chars);
  ValidateIdentity(a, ck);
  if (!a.email().empty() && (a.email().find('@') == std::string::npos || a.email().size() > 254)) {
    ck.Fail("dossier.applicant.email", "not an email address");
  }
  if (!a.phone().empty()) {
    absl::string_view p = a.phone();
    if (p.front() == '+') p.remove_prefix(1);
    if (!AllDigits(p) || p.size() < 8 || p.size() > 15) {
      ck.Fail("dossier.applicant.phone", "must be 8-15 digits, optionally after '+'");
    }
  }
  ck.Text("dossier.applicant.account_id", a.account_id(), 200);
}

// Attachments and result documents: name (with its own limit), url, id and component code.
template <typename Doc>
void ValidateDocuments(const google::protobuf::RepeatedPtrField<Doc>& docs,
                       const std::string& field, int max_name, Checker& ck) {
  for (int i = 0; i < docs.size(); ++i) {
    const Doc& x = docs[i];
    std::string f = absl::StrCat(field, "[", i, "]");
    ck.Text(f + ".name", x.name(), max_name);
    ck.Text(f + ".url", x.url(), ck.config().max_attachment_name_chars);
    ck.Text(f + ".id", x.id(), 200);
    ck.Text(f + ".component_code", x.component_code(), 200);
  }
}

void ValidateFees(const google::protobuf::RepeatedPtrField<dossiersync::v1::Fee>& fees,
                  const std::string& field, Checker& ck) {
  for (int i = 0; i < fees.size(); ++i) {
    std::string f = absl::StrCat(field, "[", i, "]");
    ck.Text(f + ".name", fees[i].name(), ck.config().max_text_chars);
    if (fees[i].amount_vnd() < 0) ck.Fail(f + ".amount_vnd", "must not be negative");
  }
}

void ValidateLists(const Dossier& d, Checker& ck) {
  const ValidatorConfig& c = ck.config();
  ValidateDocuments(d.attachments(), "dossier.attachments", c.max_attachment_name_chars, ck);
  for (int i = 0; i < d.attachments_size(); ++i) {
    ck.Text(absl::StrCat("dossier.attachments[", i, "].replacement_result_code"),
            d.attachments(i).replacement_result_code(), 200);
  }
  ValidateDocuments(d.result_documents(), "dossier.result_documents", c.max_result_doc_name_chars,
                    ck);
  for (int i = 0; i < d.result_documents_size(); ++i) {
    ck.Text(absl::StrCat("dossier.result_documents[", i, "].result_code"),
            d.result_documents(i).result_code(), 200);
  }
  ValidateFees(d.fees(), "dossier.fees", ck);
  for (int i = 0; i < d.supplements_size(); ++i) {
    const auto& x = d.supplements(i);
    std::string f = absl::StrCat("dossier.supplements[", i, "]");
    for (const auto& [name, text] : {std::pair{".content", &x.content()},
                                     {".requested_by", &x.requested_by()},
                                     {".received_by", &x.received_by()},
                                     {".reception_info", &x.reception_info()}}) {
      ck.Text(f + name, *text, c.max_text_chars);
    }
    ck.Text(f + ".id", x.id(), 200);
    bool valid = ck.Time(f + ".requested_at", x.requested_at(), false);
    valid &= ck.Time(f + ".completed_at", x.completed_at(), false);
    ck.Time(f + ".previous_due_at", x.previous_due_at(), true);
    ck.Time(f + ".new_due_at", x.new_due_at(), true);
    if (!Set(x.requested_at())) ck.Fail(f + ".requested_at", "required (NgayBoSung)");
    if (valid && Set(x.requested_at()) && Set(x.completed_at()) &&
        ToTime(x.completed_at()) < ToTime(x.requested_at())) {
      ck.Fail(f + ".completed_at", "must not be before requested_at");
    }
    ValidateDocuments(x.documents(), f + ".documents", c.max_attachment_name_chars, ck);
    ValidateFees(x.fees(), f + ".fees", ck);
  }
  for (int i = 0; i < d.national_databases_size(); ++i) {
    std::string f = absl::StrCat("dossier.national_databases[", i, "]");
    if (absl::StripAsciiWhitespace(d.national_databases(i)).empty()) {
      ck.Fail(f, "must not be empty (MaCSDL)");
    }
    ck.Text(f, d.national_databases(i), 200);
  }
}

void ValidateSteps(const dossiersync::v1::SubmitChangeRequest& req, Checker& ck) {
  const ValidatorConfig& c = ck.config();
  if (req.new_steps_size() > c.max_new_steps) {
    return ck.Fail("new_steps",
                   absl::StrCat("more than ", c.max_new_steps, " steps in one change"));
  }
  absl::flat_hash_map<std::string, int> first_with_id;
  for (int i = 0; i < req.new_steps_size(); ++i) {
    const ProgressStep& s = req.new_steps(i);
    std::string f = absl::StrCat("new_steps[", i, "]");
    if (absl::StripAsciiWhitespace(s.step_id()).empty()) {
      ck.Fail(f + ".step_id", "required, unique within the dossier");
    }
    ck.Text(f + ".step_id", s.step_id(), 200);
    auto [it, fresh] = first_with_id.emplace(s.step_id(), i);
    if (!fresh && req.new_steps(it->second).SerializeAsString() != s.SerializeAsString()) {
      ck.Fail(f + ".step_id", "step id reused with different content");
    }
    ck.Text(f + ".officer", s.officer(), c.max_officer_chars);
    ck.Text(f + ".officer_title", s.officer_title(), c.max_text_chars);
    ck.Text(f + ".department", s.department(), c.max_text_chars);
    ck.Text(f + ".content", s.content(), c.max_text_chars);
    if (s.status() < 1 || s.status() > 10) {
      ck.Fail(f + ".status", "must be a DVCQG status code 1-10");
    }
    if (!Set(s.occurred_at())) ck.Fail(f + ".occurred_at", "required (ThoiDiemXuLy)");
    ck.Time(f + ".occurred_at", s.occurred_at(), false);
    ck.Time(f + ".started_at", s.started_at(), false);
    ck.Time(f + ".due_at", s.due_at(), true);
  }
}

// Code: {agency}-{yyMMdd}-{sequence}, the agency part in the province and (unless configured
// otherwise) the dossier's own agency.
void ValidateCode(const Dossier& d, Checker& ck) {
  const ValidatorConfig& c = ck.config();
  absl::string_view code = d.code();
  size_t dash1 = code.find('-');
  size_t dash2 = dash1 == absl::string_view::npos ? dash1 : code.find('-', dash1 + 1);
  if (dash2 == absl::string_view::npos || !MatchShape(code.substr(0, dash1), kAgencyShape) ||
      dash2 - dash1 != 7 || !AllDigits(code.substr(dash1 + 1, 6)) ||
      !ValidYyMmDd(code.substr(dash1 + 1, 6)) || code.size() - dash2 - 1 < 4 ||
      !AllDigits(code.substr(dash2 + 1))) {
    return ck.Fail("dossier.code",
                   "must be {agency ddd.dd.dd.Hdd}-{yyMMdd}-{sequence of 4+ digits}");
  }
  if (code.substr(dash1 - 3, 3) != c.province_code) {
    return ck.Fail("dossier.code",
                   absl::StrCat("agency part must belong to province ", c.province_code));
  }
  if (c.code_agency_must_match && MatchShape(d.agency_code(), kAgencyShape) &&
      code.substr(0, dash1) != d.agency_code()) {
    ck.Fail("dossier.code", absl::StrCat("agency part ", code.substr(0, dash1),
                                         " is not the dossier's agency_code ", d.agency_code(),
                                         " (--code_agency_must_match=false for inter-agency "
                                         "setups)"));
  }
}

void ValidateDossier(const Dossier& d, Checker& ck) {
  const ValidatorConfig& c = ck.config();
  ValidateCode(d, ck);
  if (!MatchShape(d.agency_code(), kAgencyShape)) {
    ck.Fail("dossier.agency_code", "must match ddd.dd.dd.Hdd");
  }
  if (!MatchShape(d.procedure_code(), "d.dddddd")) {
    ck.Fail("dossier.procedure_code", "must match d.dddddd (e.g. 1.001234)");
  }
  if (d.status() < 1 || d.status() > 10) {
    ck.Fail("dossier.status", "must be a DVCQG status code 1-10");
  }
  if (d.revision() <= 0) ck.Fail("dossier.revision", "must be a positive integer");
  ck.Required("dossier.procedure_name", d.procedure_name());
  ck.Required("dossier.field_code", d.field_code());
  ck.Required("dossier.field_name", d.field_name());
  ck.Required("dossier.agency_name", d.agency_name());
  if (d.channel() < 0 || d.channel() > 3) {
    ck.Fail("dossier.channel", "must be 1 in person, 2 online or 3 postal");
  }
  if (d.result_delivery() < 0 || d.result_delivery() > 2) {
    ck.Fail("dossier.result_delivery", "must be 1 at the office or 2 by post");
  }
  if (d.online_payment() < 0 || d.online_payment() > 3) {
    ck.Fail("dossier.online_payment",
            "must be 0 not online, 1 national platform, 2 provincial gateway or 3 other");
  }
  ck.Text("dossier.summary", d.summary(), c.max_summary_chars);
  ck.Text("dossier.procedure_name", d.procedure_name(), c.max_text_chars);
  ck.Text("dossier.field_code", d.field_code(), 200);
  ck.Text("dossier.field_name", d.field_name(), c.max_text_chars);
  ck.Text("dossier.agency_name", d.agency_name(), c.max_text_chars);
  ck.Text("dossier.receipt_number", d.receipt_number(), 200);
  ck.Text("dossier.return_info", d.return_info(), c.max_text_chars);
  ck.Text("dossier.other_info", d.other_info(), c.max_text_chars);
  ck.Text("dossier.submission_place", d.submission_place(), 200);
  ValidateApplicant(d, ck);
  ValidateTimes(d, ck);
  ValidateLists(d, ck);
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
  FieldViolations violations;
  Checker ck(c, now, &violations);
  ValidateDossier(req.dossier(), ck);
  ValidateSteps(req, ck);
  return violations.ToStatus();
}

}  // namespace dossiersync::intake
