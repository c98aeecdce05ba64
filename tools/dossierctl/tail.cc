#include "tools/dossierctl/tail.h"

#include <memory>

#include "absl/time/clock.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/message.h"
#include "google/protobuf/util/json_util.h"

// Link the generated types so the descriptor pool knows them.
#include "dossiersync/v1/events.pb.h"

namespace dossiersync::tools {

nlohmann::json DecodeMessage(const InMessage& m) {
  nlohmann::json j{{"topic", m.topic},
                   {"partition", m.partition},
                   {"offset", m.offset},
                   {"key", m.key},
                   {"timestamp_ms", m.timestamp_ms}};
  nlohmann::json h = nlohmann::json::object();
  for (const auto& [k, v] : m.headers) h[k] = v;
  j["headers"] = h;
  auto it = m.headers.find("schema");
  std::string schema = it != m.headers.end() ? it->second : SchemaOfTopic(m.topic);
  // Make sure the events file is linked and registered.
  (void)dossiersync::v1::DossierChange::descriptor();
  const google::protobuf::Descriptor* desc =
      google::protobuf::DescriptorPool::generated_pool()->FindMessageTypeByName(schema);
  if (desc == nullptr) {
    j["error"] = "unknown schema '" + schema + "'";
    return j;
  }
  std::unique_ptr<google::protobuf::Message> msg(
      google::protobuf::MessageFactory::generated_factory()->GetPrototype(desc)->New());
  if (!msg->ParseFromString(m.value)) {
    j["error"] = "value does not decode as " + schema;
    return j;
  }
  std::string out;
  google::protobuf::util::JsonPrintOptions po;
  po.preserve_proto_field_names = true;
  if (!google::protobuf::util::MessageToJsonString(*msg, &out, po).ok()) {
    j["error"] = "cannot print value as JSON";
    return j;
  }
  j["value"] = nlohmann::json::parse(out, nullptr, false);
  return j;
}

absl::StatusOr<int64_t> RunTail(const TailOptions& o,
                                const std::function<void(const nlohmann::json&)>& emit) {
  if (o.topic.empty()) return absl::InvalidArgumentError("tail: TOPIC required");
  auto c = KafkaConsumer::CreateAssigned(o.brokers, o.topic, o.from_beginning);
  if (!c.ok()) return c.status();
  int64_t n = 0;
  absl::Time last = absl::Now();
  while (o.max_messages == 0 || n < o.max_messages) {
    auto m = (*c)->Poll(200);
    if (!m.ok()) return m.status();
    if (!m->has_value()) {
      if (o.idle_timeout > absl::ZeroDuration() && absl::Now() - last > o.idle_timeout) break;
      continue;
    }
    last = absl::Now();
    emit(DecodeMessage(**m));
    ++n;
  }
  return n;
}

}  // namespace dossiersync::tools
