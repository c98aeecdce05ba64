#include "common/errors.h"

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"

namespace dossiersync {
namespace {
constexpr char kInfoUrl[] = "type.googleapis.com/google.rpc.ErrorInfo";
constexpr char kBadRequestUrl[] = "type.googleapis.com/google.rpc.BadRequest";
}  // namespace

absl::Status FieldError(absl::string_view field, absl::string_view rule) {
  absl::Status st = absl::InvalidArgumentError(absl::StrCat(field, ": ", rule));
  google::rpc::BadRequest br;
  auto* v = br.add_field_violations();
  v->set_field(std::string(field));
  v->set_description(std::string(rule));
  st.SetPayload(kBadRequestUrl, absl::Cord(br.SerializeAsString()));
  google::rpc::ErrorInfo info;
  info.set_reason("INVALID_FIELD");
  info.set_domain(std::string(kErrorDomain));
  (*info.mutable_metadata())["field"] = std::string(field);
  st.SetPayload(kInfoUrl, absl::Cord(info.SerializeAsString()));
  return st;
}

void FieldViolations::Add(absl::string_view field, absl::string_view rule) {
  if (list_.size() >= kMax) {
    ++unlisted_;
    return;
  }
  list_.emplace_back(std::string(field), std::string(rule));
}

void FieldViolations::Add(const absl::Status& st) {
  if (st.ok()) return;
  auto payload = st.GetPayload(kBadRequestUrl);
  google::rpc::BadRequest br;
  if (payload && br.ParseFromString(std::string(*payload)) && br.field_violations_size() > 0) {
    for (const auto& v : br.field_violations()) Add(v.field(), v.description());
  } else {
    Add("", st.message());
  }
}

absl::Status FieldViolations::ToStatus() const {
  if (list_.empty()) return absl::OkStatus();
  if (list_.size() == 1) return FieldError(list_[0].first, list_[0].second);
  constexpr size_t kInMessage = 3;
  std::string message;
  for (size_t i = 0; i < list_.size() && i < kInMessage; ++i) {
    absl::StrAppend(&message, i ? "; " : "", list_[i].first, ": ", list_[i].second);
  }
  if (list_.size() > kInMessage) {
    absl::StrAppend(&message, " (and ", list_.size() - kInMessage, " more in BadRequest)");
  }
  if (unlisted_ > 0) absl::StrAppend(&message, "; ", unlisted_, " further violations not listed");
  absl::Status st = absl::InvalidArgumentError(message);
  google::rpc::BadRequest br;
  for (const auto& [field, rule] : list_) {
    auto* v = br.add_field_violations();
    v->set_field(field);
    v->set_description(rule);
  }
  st.SetPayload(kBadRequestUrl, absl::Cord(br.SerializeAsString()));
  google::rpc::ErrorInfo info;
  info.set_reason("INVALID_FIELD");
  info.set_domain(std::string(kErrorDomain));
  (*info.mutable_metadata())["field"] = list_[0].first;
  (*info.mutable_metadata())["violations"] = absl::StrCat(list_.size() + unlisted_);
  st.SetPayload(kInfoUrl, absl::Cord(info.SerializeAsString()));
  return st;
}

absl::Status ReasonError(absl::StatusCode code, absl::string_view reason, absl::string_view message,
                         const std::map<std::string, std::string>& metadata) {
  absl::Status st(code, message);
  google::rpc::ErrorInfo info;
  info.set_reason(std::string(reason));
  info.set_domain(std::string(kErrorDomain));
  for (const auto& [k, v] : metadata) (*info.mutable_metadata())[k] = v;
  st.SetPayload(kInfoUrl, absl::Cord(info.SerializeAsString()));
  return st;
}

google::rpc::Status ToRpcStatus(const absl::Status& status) {
  google::rpc::Status out;
  out.set_code(static_cast<int>(status.code()));
  out.set_message(std::string(status.message()));
  status.ForEachPayload([&](absl::string_view url, const absl::Cord& payload) {
    auto* any = out.add_details();
    any->set_type_url(std::string(url));
    any->set_value(std::string(payload));
  });
  return out;
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  google::rpc::Status rpc = ToRpcStatus(status);
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()),
                      rpc.SerializeAsString());
}

google::rpc::Status DetailsOf(const grpc::Status& status) {
  google::rpc::Status out;
  if (!out.ParseFromString(status.error_details())) out.Clear();
  return out;
}

std::string ReasonOf(const google::rpc::Status& details) {
  for (const auto& any : details.details()) {
    google::rpc::ErrorInfo info;
    if (any.type_url() == kInfoUrl && info.ParseFromString(any.value())) return info.reason();
  }
  return "";
}

std::string FieldOf(const google::rpc::Status& details) {
  for (const auto& any : details.details()) {
    google::rpc::BadRequest br;
    if (any.type_url() == kBadRequestUrl && br.ParseFromString(any.value()) &&
        br.field_violations_size() > 0) {
      return br.field_violations(0).field();
    }
  }
  return "";
}

std::vector<std::string> FieldsOf(const google::rpc::Status& details) {
  std::vector<std::string> out;
  for (const auto& any : details.details()) {
    google::rpc::BadRequest br;
    if (any.type_url() == kBadRequestUrl && br.ParseFromString(any.value())) {
      for (const auto& v : br.field_violations()) out.push_back(v.field());
    }
  }
  return out;
}

std::string MetadataOf(const google::rpc::Status& details, const std::string& key) {
  for (const auto& any : details.details()) {
    google::rpc::ErrorInfo info;
    if (any.type_url() == kInfoUrl && info.ParseFromString(any.value())) {
      auto it = info.metadata().find(key);
      if (it != info.metadata().end()) return it->second;
    }
  }
  return "";
}

}  // namespace dossiersync
