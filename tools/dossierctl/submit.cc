#include "tools/dossierctl/submit.h"

#include <atomic>
#include <cstdio>
#include <deque>
#include <fstream>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/errors.h"
#include "dossiersync/v1/intake.grpc.pb.h"
#include "google/protobuf/util/json_util.h"

namespace dossiersync::tools {
namespace {

using dossiersync::v1::IntakeService;
using dossiersync::v1::SubmitChangeRequest;
using dossiersync::v1::SubmitChangeResponse;

// The changes of the dossiers bound to one worker, interleaved `window` dossiers at a time.
class Source {
 public:
  Source(const SubmitOptions& o, int worker,
         std::vector<std::vector<SubmitChangeRequest>>* file_dossiers)
      : o_(o), workload_(o.workload), file_(file_dossiers) {
    next_dossier_ = worker;
  }
  // Fills `out` with the next round of changes; false when done.
  bool NextRound(std::vector<SubmitChangeRequest>* out) {
    out->clear();
    while (static_cast<int>(active_.size()) < o_.window && HaveMore()) {
      active_.push_back(Load(next_dossier_));
      next_dossier_ += o_.concurrency;
      ++dossiers_;
    }
    for (auto it = active_.begin(); it != active_.end();) {
      out->push_back(std::move(it->front()));
      it->pop_front();
      it = it->empty() ? active_.erase(it) : it + 1;
    }
    return !out->empty();
  }
  int64_t dossiers() const { return dossiers_; }

 private:
  int64_t Total() const { return file_ ? static_cast<int64_t>(file_->size()) : o_.generate; }
  bool HaveMore() const { return next_dossier_ < Total(); }
  std::deque<SubmitChangeRequest> Load(int64_t i) {
    std::vector<SubmitChangeRequest> v =
        file_ ? std::move((*file_)[i]) : workload_.Lifecycle(o_.first_index + i);
    return std::deque<SubmitChangeRequest>(std::make_move_iterator(v.begin()),
                                           std::make_move_iterator(v.end()));
  }
  const SubmitOptions& o_;
  Workload workload_;
  std::vector<std::vector<SubmitChangeRequest>>* file_;
  int64_t next_dossier_;
  int64_t dossiers_ = 0;
  std::deque<std::deque<SubmitChangeRequest>> active_;
};

struct Shared {
  std::atomic<int64_t> changes{0}, accepted{0}, duplicates{0}, failed{0}, dossiers{0};
  absl::Mutex mu;
  std::map<std::string, int64_t> errors ABSL_GUARDED_BY(mu);
  std::string first_errors ABSL_GUARDED_BY(mu);
  void Record(const SubmitChangeResponse& r) {
    ++changes;
    if (r.has_error() && r.error().code() != 0) {
      ++failed;
      std::string reason = ReasonOf(r.error());
      if (reason.empty()) reason = absl::StrCat("code ", r.error().code());
      absl::MutexLock l(&mu);
      ++errors[reason];
      if (errors[reason] <= 3) {
        absl::StrAppend(&first_errors, "  ", r.code(), ": ", r.error().message(), "\n");
      }
    } else if (r.duplicate()) {
      ++duplicates;
    } else {
      ++accepted;
    }
  }
};

void StreamWorker(IntakeService::Stub* stub, const SubmitOptions& o, Source* src, Shared* sh) {
  // One long stream per worker; the server answers in order and applies flow control.
  auto ctx = MakeContext(o.client, o.stream_timeout);
  auto stream = stub->SubmitChanges(ctx.get());
  std::thread reader([&] {
    SubmitChangeResponse resp;
    while (stream->Read(&resp)) sh->Record(resp);
  });
  std::vector<SubmitChangeRequest> round;
  bool broken = false;
  while (!broken && src->NextRound(&round)) {
    for (auto& r : round) {
      if (!stream->Write(r)) {
        broken = true;
        break;
      }
    }
  }
  stream->WritesDone();
  reader.join();
  grpc::Status st = stream->Finish();
  if (!st.ok()) {
    absl::MutexLock l(&sh->mu);
    ++sh->errors[absl::StrCat("stream: ", st.error_message())];
    ++sh->failed;
  }
}

void UnaryWorker(IntakeService::Stub* stub, const SubmitOptions& o, Source* src, Shared* sh) {
  std::vector<SubmitChangeRequest> round;
  while (src->NextRound(&round)) {
    for (auto& r : round) {
      auto ctx = MakeContext(o.client, o.call_timeout);
      SubmitChangeResponse resp;
      grpc::Status st = stub->SubmitChange(ctx.get(), r, &resp);
      if (!st.ok()) {
        resp.set_code(r.dossier().code());
        auto* e = resp.mutable_error();
        *e = DetailsOf(st);
        e->set_code(st.error_code());
        e->set_message(st.error_message());
      }
      sh->Record(resp);
    }
  }
}

absl::StatusOr<std::vector<std::vector<SubmitChangeRequest>>> ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::vector<std::vector<SubmitChangeRequest>> out;
  std::map<std::string, size_t> by_code;
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    SubmitChangeRequest r;
    auto st = google::protobuf::util::JsonStringToMessage(line, &r);
    if (!st.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ":", n, ": ", st.ToString()));
    }
    auto [it, fresh] = by_code.emplace(r.dossier().code(), out.size());
    if (fresh) out.emplace_back();
    out[it->second].push_back(std::move(r));
  }
  return out;
}

}  // namespace

double SubmitReport::rate() const {
  double s = absl::ToDoubleSeconds(elapsed);
  return s > 0 ? static_cast<double>(changes) / s : 0;
}

absl::StatusOr<SubmitReport> RunSubmit(const SubmitOptions& o) {
  if (o.concurrency < 1 || o.window < 1)
    return absl::InvalidArgumentError("--concurrency and --window must be >= 1");
  std::vector<std::vector<SubmitChangeRequest>> file_dossiers;
  if (!o.file.empty()) {
    auto f = ReadFile(o.file);
    if (!f.ok()) return f.status();
    file_dossiers = std::move(*f);
  } else if (o.generate <= 0) {
    return absl::InvalidArgumentError("give --file=PATH or --generate=N");
  }
  auto channel = MakeChannel(o.intake_addr, o.client);
  if (!channel.ok()) return channel.status();
  auto stub = IntakeService::NewStub(*channel);
  int64_t total = o.file.empty() ? o.generate : static_cast<int64_t>(file_dossiers.size());
  Shared sh;
  std::vector<std::unique_ptr<Source>> sources;
  std::vector<std::thread> workers;
  const absl::Time start = absl::Now();
  for (int w = 0; w < o.concurrency; ++w) {
    sources.push_back(std::make_unique<Source>(o, w, o.file.empty() ? nullptr : &file_dossiers));
    workers.emplace_back([&, src = sources.back().get()] {
      if (o.unary)
        UnaryWorker(stub.get(), o, src, &sh);
      else
        StreamWorker(stub.get(), o, src, &sh);
    });
  }
  absl::Notification done;
  std::thread progress([&] {
    while (!done.WaitForNotificationWithTimeout(absl::Seconds(1))) {
      if (!o.progress) continue;
      int64_t d = 0;
      for (auto& s : sources) d += s->dossiers();
      double secs = absl::ToDoubleSeconds(absl::Now() - start);
      double rate = secs > 0 ? static_cast<double>(sh.changes.load()) / secs : 0;
      double dps = secs > 0 ? static_cast<double>(d) / secs : 0;
      double eta = dps > 0 ? static_cast<double>(total - d) / dps : 0;
      std::fprintf(
          stderr,
          "\rsubmit: dossiers %lld/%lld  changes %lld  %.0f changes/s  failed %lld  ETA %.0fs   ",
          static_cast<long long>(d), static_cast<long long>(total),
          static_cast<long long>(sh.changes.load()), rate, static_cast<long long>(sh.failed.load()),
          eta);
    }
  });
  for (auto& t : workers) t.join();
  done.Notify();
  progress.join();
  if (o.progress) std::fprintf(stderr, "\n");
  SubmitReport rep;
  for (auto& s : sources) rep.dossiers += s->dossiers();
  rep.changes = sh.changes;
  rep.accepted = sh.accepted;
  rep.duplicates = sh.duplicates;
  rep.failed = sh.failed;
  rep.elapsed = absl::Now() - start;
  absl::MutexLock l(&sh.mu);
  rep.errors = sh.errors;
  if (!sh.first_errors.empty()) std::fprintf(stderr, "first errors:\n%s", sh.first_errors.c_str());
  return rep;
}

}  // namespace dossiersync::tools
