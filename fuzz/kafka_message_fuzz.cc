// libFuzzer target: Kafka messages as our consumers and `dossierctl tail` meet them. The first
// byte picks the topic (and so the documented value type), the next 16 bytes are the key, the
// rest the value; a schema header may name another type. Decoding must never crash, and the JSON
// it produces must print (keys and headers are arbitrary bytes).
#include <cstdint>
#include <string>

#include "common/kafka.h"
#include "dossiersync/v1/events.pb.h"
#include "tools/dossierctl/tail.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const char* kTopics[] = {
      dossiersync::kTopicDossierChanges,        dossiersync::kTopicSyncRequests,
      dossiersync::kTopicSyncResults,           dossiersync::kTopicDeadLetters,
      dossiersync::kTopicReconciliationRuns,    dossiersync::kTopicDrift,
      dossiersync::kTopicReconciliationRequests};
  if (size == 0) return 0;
  dossiersync::InMessage m;
  m.topic = kTopics[data[0] % (sizeof(kTopics) / sizeof(kTopics[0]))];
  size_t key_len = std::min<size_t>(16, size - 1);
  m.key.assign(reinterpret_cast<const char*>(data + 1), key_len);
  m.value.assign(reinterpret_cast<const char*>(data + 1 + key_len), size - 1 - key_len);
  if (data[0] & 0x80) m.headers["schema"] = "dossiersync.v1.DriftItem";
  m.headers["event-id"] = m.key;
  nlohmann::json j = dossiersync::tools::DecodeMessage(m);
  (void)j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  // The sync's own decoding of a change.
  dossiersync::v1::DossierChange change;
  if (change.ParseFromString(m.value)) (void)change.dossier().code().size();
  return 0;
}
