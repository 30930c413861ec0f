// Runs the real coordinator over in-process workers (threads running the real worker loop), each
// with a trainer from the given factory, storing into the study's SQLite file.
#pragma once

#include <memory>
#include <thread>
#include <vector>

#include "core/store.h"
#include "orchestrator/coordinator.h"
#include "orchestrator/in_process_transport.h"
#include "orchestrator/worker_loop.h"

namespace ensweep::testing {

class WorkerHarness {
 public:
  // `heartbeat_interval_s`: how often KeepAlive sends a HEARTBEAT (and a gang member looks for
  // an ABORT); WorkerOptions' default unless given.
  WorkerHarness(const StudySpec& spec, int workers, TrainerFactory make_trainer,
                double heartbeat_interval_s = WorkerOptions{}.heartbeat_interval_s)
      : spec_(spec) {
    store_ = Store::OpenForWriting(spec.storage);
    for (int i = 0; i < workers; ++i) {
      threads_.emplace_back([i, make_trainer, heartbeat_interval_s, ch = hub_.Connect()]() mutable {
        WorkerOptions options;
        options.name = "w" + std::to_string(i + 1);
        options.heartbeat_interval_s = heartbeat_interval_s;
        RunWorker(*ch, make_trainer, options);
        ch.reset();
      });
    }
  }

  // A worker whose HELLO arrived after the study finished never got SHUTDOWN (instant trials can
  // finish before the last worker connects): closing every channel releases it.
  ~WorkerHarness() {
    for (int peer = 1; peer <= static_cast<int>(threads_.size()); ++peer) {
      hub_.Kill(peer, "test over");
    }
    for (auto& t : threads_) t.join();
  }

  RunSummary Run(CoordinatorOptions options = {}) {
    Coordinator coordinator(spec_, *store_, hub_.coordinator(), options);
    return coordinator.Run();
  }

  InProcessHub& hub() { return hub_; }
  Store& store() { return *store_; }

 private:
  StudySpec spec_;
  InProcessHub hub_;
  std::unique_ptr<Store> store_;
  std::vector<std::thread> threads_;
};

}  // namespace ensweep::testing
