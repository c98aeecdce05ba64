#include "services/devbroker/devbroker.h"

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/http_server.h"
#include "common/kafka.h"
#include "nlohmann/json.hpp"
#include "services/devbroker/fixed_ports.h"

namespace dossiersync::devbroker {
namespace {

bool ParseInts(const std::string& csv, std::vector<int>* out) {
  for (absl::string_view p : absl::StrSplit(csv, ',', absl::SkipEmpty())) {
    int v = 0;
    if (!absl::SimpleAtoi(p, &v)) return false;
    out->push_back(v);
  }
  return !out->empty();
}

void Reply(httplib::Response& res, int status, const std::string& msg) {
  res.status = status;
  res.set_content(nlohmann::json{{status < 300 ? "result" : "error", msg}}.dump() + "\n",
                  "application/json");
}

bool IntParam(const httplib::Request& req, const char* name, int* out) {
  return req.has_param(name) && absl::SimpleAtoi(req.get_param_value(name), out);
}

}  // namespace

absl::StatusOr<std::unique_ptr<DevBroker>> DevBroker::Start(const DevBrokerOptions& o) {
  if (o.brokers < 1 || o.brokers > 9) return absl::InvalidArgumentError("--brokers must be 1-9");
  if (o.partitions < 1 || o.partitions > 1024) {
    return absl::InvalidArgumentError("--partitions must be 1-1024");
  }
  std::vector<std::string> hp = absl::StrSplit(o.control_listen, absl::MaxSplits(':', 1));
  int port = 0;
  if (hp.size() != 2 || !absl::SimpleAtoi(hp[1], &port)) {
    return absl::InvalidArgumentError("--control_listen: expected HOST:PORT");
  }
  auto b = std::unique_ptr<DevBroker>(new DevBroker());
  b->options_ = o;
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "client.id", "devbroker", err, sizeof(err));
  // This handle only hosts the mock cluster: its "no bootstrap.servers" notice is noise.
  rd_kafka_conf_set(conf, "log_level", "3", err, sizeof(err));
  b->rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  if (!b->rk_) return absl::InternalError(absl::StrCat("devbroker: ", err));
  std::vector<int> fixed;
  if (!o.listen.empty()) {
    std::vector<std::string> lp = absl::StrSplit(o.listen, absl::MaxSplits(':', 1));
    int first = 0;
    if (lp.size() != 2 || lp[0] != "127.0.0.1" || !absl::SimpleAtoi(lp[1], &first) || first < 1 ||
        first + o.brokers - 1 > 65535) {
      return absl::InvalidArgumentError(
          absl::StrCat("--listen: expected 127.0.0.1:PORT (the mock listens on loopback only), "
                       "got '",
                       o.listen, "'"));
    }
    for (int i = 0; i < o.brokers; ++i) fixed.push_back(first + i);
  }
  {
    FixedPortScope scope(fixed);
    b->mcluster_ = rd_kafka_mock_cluster_new(b->rk_, o.brokers);
    if (!b->mcluster_) {
      return absl::UnavailableError(
          fixed.empty() ? std::string("devbroker: cannot create the mock cluster")
                        : absl::StrCat("--listen: cannot listen on 127.0.0.1:", fixed.front(),
                                       fixed.size() > 1 ? absl::StrCat("-", fixed.back()) : "",
                                       " (in use?)"));
    }
    if (scope.unused() > 0) {
      return absl::InternalError("--listen: the mock cluster did not take every fixed port");
    }
  }
  b->bootstrap_ = rd_kafka_mock_cluster_bootstraps(b->mcluster_);
  // Created concurrently: each call waits for the mock cluster's thread, which may take up to its
  // poll interval to pick the request up; in parallel the waits overlap.
  int rf = std::min(o.brokers, 3);
  std::vector<rd_kafka_resp_err_t> errs(AllTopics().size());
  std::vector<std::thread> creators;
  for (size_t i = 0; i < AllTopics().size(); ++i) {
    creators.emplace_back([&, i] {
      errs[i] = rd_kafka_mock_topic_create(b->mcluster_, AllTopics()[i].c_str(), o.partitions, rf);
    });
  }
  for (auto& t : creators) t.join();
  for (size_t i = 0; i < errs.size(); ++i) {
    if (errs[i]) {
      return absl::InternalError(
          absl::StrCat("create ", AllTopics()[i], ": ", rd_kafka_err2str(errs[i])));
    }
  }
  b->http_ = std::make_unique<httplib::Server>();
  b->InstallRoutes();
  auto bound = StartHttpServer(*b->http_, o.control_listen, &b->http_thread_, "--control_listen");
  if (!bound.ok()) return bound.status();
  b->control_port_ = *bound;
  return b;
}

DevBroker::~DevBroker() {
  StopHttpServer(http_.get(), &http_thread_);
  if (mcluster_) rd_kafka_mock_cluster_destroy(mcluster_);
  if (rk_) rd_kafka_destroy(rk_);
}

std::string DevBroker::control_url() const {
  return absl::StrCat("http://127.0.0.1:", control_port_);
}

void DevBroker::InstallRoutes() {
  httplib::Server& s = *http_;
  s.Get("/health", [](const httplib::Request&, httplib::Response& res) { Reply(res, 200, "ok"); });
  s.Get("/info", [this](const httplib::Request&, httplib::Response& res) {
    nlohmann::json j{{"bootstrap", bootstrap_},
                     {"brokers", options_.brokers},
                     {"partitions", options_.partitions},
                     {"topics", AllTopics()}};
    res.set_content(j.dump() + "\n", "application/json");
  });
  s.Post(R"(/brokers/(\d+)/(down|up))", [this](const httplib::Request& req,
                                               httplib::Response& res) {
    int id = std::stoi(req.matches[1]);
    rd_kafka_resp_err_t e = req.matches[2] == "down" ? rd_kafka_mock_broker_set_down(mcluster_, id)
                                                     : rd_kafka_mock_broker_set_up(mcluster_, id);
    if (e) return Reply(res, 400, rd_kafka_err2str(e));
    Reply(res, 200, absl::StrCat("broker ", id, " ", std::string(req.matches[2])));
  });
  s.Post(R"(/brokers/(\d+)/rtt)", [this](const httplib::Request& req, httplib::Response& res) {
    int id = std::stoi(req.matches[1]), ms = 0;
    if (!IntParam(req, "ms", &ms) || ms < 0) return Reply(res, 400, "ms=N (>= 0) required");
    rd_kafka_resp_err_t e = rd_kafka_mock_broker_set_rtt(mcluster_, id, ms);
    if (e) return Reply(res, 400, rd_kafka_err2str(e));
    Reply(res, 200, absl::StrCat("broker ", id, " rtt ", ms, " ms"));
  });
  s.Post("/errors", [this](const httplib::Request& req, httplib::Response& res) {
    int api = 0;
    std::vector<int> codes;
    if (!IntParam(req, "api", &api) || !ParseInts(req.get_param_value("codes"), &codes)) {
      return Reply(res, 400, "api=KEY and codes=E1,E2,... required");
    }
    std::vector<rd_kafka_resp_err_t> errs;
    for (int c : codes) errs.push_back(static_cast<rd_kafka_resp_err_t>(c));
    rd_kafka_mock_push_request_errors_array(mcluster_, static_cast<int16_t>(api), errs.size(),
                                            errs.data());
    Reply(res, 200, absl::StrCat(errs.size(), " errors pushed for api ", api));
  });
  s.Post(R"(/brokers/(\d+)/errors)", [this](const httplib::Request& req, httplib::Response& res) {
    int id = std::stoi(req.matches[1]), api = 0, rtt = 0;
    std::vector<int> codes;
    if (!IntParam(req, "api", &api) || !ParseInts(req.get_param_value("codes"), &codes)) {
      return Reply(res, 400, "api=KEY and codes=E1,E2,... required");
    }
    IntParam(req, "rtt_ms", &rtt);
    for (int c : codes) {
      rd_kafka_resp_err_t e = rd_kafka_mock_broker_push_request_error_rtts(
          mcluster_, id, static_cast<int16_t>(api), 1, static_cast<rd_kafka_resp_err_t>(c), rtt);
      if (e) return Reply(res, 400, rd_kafka_err2str(e));
    }
    Reply(res, 200, absl::StrCat(codes.size(), " errors pushed for broker ", id));
  });
  s.Post("/errors/clear", [this](const httplib::Request& req, httplib::Response& res) {
    int api = 0;
    if (!IntParam(req, "api", &api)) return Reply(res, 400, "api=KEY required");
    rd_kafka_mock_clear_request_errors(mcluster_, static_cast<int16_t>(api));
    Reply(res, 200, absl::StrCat("cleared api ", api));
  });
  s.Post("/leader", [this](const httplib::Request& req, httplib::Response& res) {
    int partition = 0, broker = 0;
    std::string topic = req.get_param_value("topic");
    if (topic.empty() || !IntParam(req, "partition", &partition) ||
        !IntParam(req, "broker", &broker)) {
      return Reply(res, 400, "topic=T&partition=P&broker=B required");
    }
    rd_kafka_resp_err_t e =
        rd_kafka_mock_partition_set_leader(mcluster_, topic.c_str(), partition, broker);
    if (e) return Reply(res, 400, rd_kafka_err2str(e));
    Reply(res, 200, absl::StrCat(topic, "[", partition, "] leader ", broker));
  });
}

}  // namespace dossiersync::devbroker
