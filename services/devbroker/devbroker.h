// devbroker: librdkafka's mock cluster (rdkafka_mock.h) as an embedded Kafka for local runs and
// tests. Real Kafka wire protocol on loopback, data in memory, every SPEC §5 topic created.
//
// The control interface is HTTP on loopback (cpp-httplib), calling the mock cluster's own
// functions:
//   GET  /health                              -> "ok"
//   GET  /info                                -> {"bootstrap": ..., "brokers": N, "topics": [...]}
//   POST /brokers/{id}/down | /brokers/{id}/up
//   POST /brokers/{id}/rtt?ms=N               -> round-trip time added to that broker's responses
//   POST /errors?api=KEY&codes=E1,E2,...      -> next requests of API KEY fail with those errors
//   POST /brokers/{id}/errors?api=KEY&codes=E1,...  (per broker,
//   rd_kafka_mock_broker_push_request_error_rtts) POST /errors/clear?api=KEY POST
//   /leader?topic=T&partition=P&broker=B -> leader change
// API keys and error codes are Kafka's numeric ones (Produce=0, Fetch=1, ...; e.g. 6 =
// NOT_LEADER_OR_FOLLOWER, 7 = REQUEST_TIMED_OUT).
//
// Thread safety: Start/Stop from one thread; the HTTP handlers run on httplib's threads and only
// call the mock cluster's thread-safe functions.
#ifndef DOSSIERSYNC_SERVICES_DEVBROKER_DEVBROKER_H_
#define DOSSIERSYNC_SERVICES_DEVBROKER_DEVBROKER_H_

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"

namespace httplib {
class Server;
}

namespace dossiersync::devbroker {

struct DevBrokerOptions {
  int brokers = 1;
  int partitions = 6;
  std::string control_listen = "127.0.0.1:0";  // port 0 picks a free port
  // The brokers' listeners: "127.0.0.1:PORT" puts broker i on PORT+i (restartable on the same
  // ports, services/devbroker/fixed_ports.h); "" picks free ports. The mock listens on loopback
  // only.
  std::string listen;
};

class DevBroker {
 public:
  static absl::StatusOr<std::unique_ptr<DevBroker>> Start(const DevBrokerOptions& options);
  ~DevBroker();

  const std::string& bootstrap() const { return bootstrap_; }
  int control_port() const { return control_port_; }
  std::string control_url() const;
  rd_kafka_mock_cluster_t* cluster() { return mcluster_; }

 private:
  DevBroker() = default;
  void InstallRoutes();

  DevBrokerOptions options_;
  rd_kafka_t* rk_ = nullptr;
  rd_kafka_mock_cluster_t* mcluster_ = nullptr;
  std::string bootstrap_;
  std::unique_ptr<httplib::Server> http_;
  std::thread http_thread_;
  int control_port_ = 0;
};

}  // namespace dossiersync::devbroker

#endif  // DOSSIERSYNC_SERVICES_DEVBROKER_DEVBROKER_H_
