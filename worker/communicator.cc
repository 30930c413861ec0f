#include "worker/communicator.h"

#include <stdexcept>

#include "collective/collective.h"

namespace ensweep {
namespace {

collective::DType SumDType(const torch::Tensor& t, const std::string& backend) {
  if (t.scalar_type() == torch::kFloat32) return collective::DType::kFloat32;
  if (t.scalar_type() == torch::kFloat64) return collective::DType::kFloat64;
  throw std::invalid_argument(backend + ": AllReduceSum takes float32 or float64 tensors, not " +
                              std::string(c10::toString(t.scalar_type())));
}

// Tensors summed or broadcast together: consecutive tensors of one dtype whose bytes add up to
// about the bucket size. Every member forms the same buckets from tensors of the same shapes.
struct Bucket {
  std::vector<torch::Tensor> tensors;
  int64_t bytes = 0;
};

std::vector<Bucket> FormBuckets(const std::vector<torch::Tensor>& tensors, size_t bucket_bytes,
                                bool by_dtype) {
  std::vector<Bucket> buckets;
  for (const auto& t : tensors) {
    const int64_t bytes = t.numel() * static_cast<int64_t>(t.element_size());
    const bool fits =
        !buckets.empty() && buckets.back().bytes + bytes <= static_cast<int64_t>(bucket_bytes) &&
        (!by_dtype || buckets.back().tensors.front().scalar_type() == t.scalar_type());
    if (!fits) buckets.emplace_back();
    buckets.back().tensors.push_back(t);
    buckets.back().bytes += bytes;
  }
  return buckets;
}

class GroupCommunicator : public Communicator {
 public:
  GroupCommunicator(std::unique_ptr<collective::Group> group, torch::Device device,
                    const CommOptions& options)
      : group_(std::move(group)), device_(device), options_(options) {}

  int rank() const override { return group_->rank(); }
  int size() const override { return group_->size(); }
  std::string backend() const override { return group_->backend(); }
  CommStats stats() const override { return stats_; }

  void AllReduceSum(const std::vector<torch::Tensor>& tensors) override {
    const auto start = std::chrono::steady_clock::now();
    for (const auto& t : tensors) {
      Check(t);
      SumDType(t, backend());
    }
    int64_t bytes = 0;
    for (const auto& bucket : FormBuckets(tensors, options_.bucket_bytes, true)) {
      bytes += bucket.bytes;
      const auto dtype = SumDType(bucket.tensors.front(), backend());
      torch::Tensor flat = Pack(bucket, bucket.tensors.front().scalar_type());
      group_->AllReduceSum(flat.data_ptr(), static_cast<size_t>(flat.numel()), dtype);
      Unpack(bucket, flat);
    }
    ++stats_.allreduce_calls;
    stats_.allreduce_bytes += bytes;
    stats_.allreduce_seconds +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }

  void Broadcast(const std::vector<torch::Tensor>& tensors, int root) override {
    if (root < 0 || root >= size())
      throw std::invalid_argument(backend() + ": broadcast root " + std::to_string(root) +
                                  " is not a member of a group of " + std::to_string(size()));
    std::vector<torch::Tensor> bytes;
    for (const auto& t : tensors) {
      Check(t);
      bytes.push_back(t.reshape({-1}).view(torch::kUInt8));
    }
    for (const auto& bucket : FormBuckets(bytes, options_.bucket_bytes, false)) {
      torch::Tensor flat = Pack(bucket, torch::kUInt8);
      group_->Broadcast(flat.data_ptr(), static_cast<size_t>(flat.numel()), root);
      if (rank() != root) Unpack(bucket, flat);
    }
  }

  void Barrier() override { group_->Barrier(); }

 private:
  void Check(const torch::Tensor& t) const {
    if (!t.defined() || !t.is_contiguous())
      throw std::invalid_argument(backend() + ": collectives take defined, contiguous tensors");
    // "cuda" without an index stands for any CUDA device's tensors (the trainer's own choice).
    const bool same = t.device().type() == device_.type() &&
                      (!device_.has_index() || t.device().index() == device_.index());
    if (!same)
      throw std::invalid_argument(backend() + ": a tensor on " + t.device().str() +
                                  " given to a communicator on " + device_.str());
  }

  torch::Device BufferDevice() const {
    return group_->memory() == collective::Memory::kDevice ? device_ : torch::Device(torch::kCPU);
  }

  // One contiguous buffer where the group reads: the tensor itself when it is alone in its
  // bucket and already there, else a copy of the bucket's tensors end to end.
  torch::Tensor Pack(const Bucket& bucket, torch::ScalarType dtype) const {
    const torch::Tensor& first = bucket.tensors.front();
    if (bucket.tensors.size() == 1 && first.device() == BufferDevice()) return first.view({-1});
    torch::Tensor flat = torch::empty({bucket.bytes / static_cast<int64_t>(first.element_size())},
                                      torch::TensorOptions().dtype(dtype).device(BufferDevice()));
    int64_t offset = 0;
    for (const auto& t : bucket.tensors) {
      flat.narrow(0, offset, t.numel()).copy_(t.reshape({-1}));
      offset += t.numel();
    }
    return flat;
  }

  static void Unpack(const Bucket& bucket, const torch::Tensor& flat) {
    const torch::Tensor& first = bucket.tensors.front();
    if (bucket.tensors.size() == 1 && flat.data_ptr() == first.data_ptr()) return;
    int64_t offset = 0;
    for (const auto& t : bucket.tensors) {
      t.view({-1}).copy_(flat.narrow(0, offset, t.numel()));
      offset += t.numel();
    }
  }

  std::unique_ptr<collective::Group> group_;
  const torch::Device device_;
  const CommOptions options_;
  CommStats stats_;
};

}  // namespace

std::unique_ptr<Communicator> ConnectGang(const GangInfo& gang, TrialContext& context,
                                          const torch::Device& device, const CommOptions& options) {
  if (gang.size < 1 || gang.rank < 0 || gang.rank >= gang.size)
    throw std::invalid_argument("gang: rank " + std::to_string(gang.rank) + " of a gang of " +
                                std::to_string(gang.size));
  const collective::Options raw{options.timeout};
  const collective::RendezvousFn rendezvous = [&context](const std::string& blob) {
    return context.Rendezvous(blob);
  };
  std::unique_ptr<collective::Group> group;
  if (device.is_cuda() && collective::NcclAvailable()) {
    group = collective::ConnectNccl(gang, rendezvous, device.has_index() ? device.index() : 0, raw);
  } else if (!gang.mpi_ranks.empty()) {
    group = collective::ConnectMpi(gang, rendezvous, raw);
  } else {
    group = collective::ConnectTcp(gang, rendezvous, raw);
  }
  return std::make_unique<GroupCommunicator>(std::move(group), device, options);
}

std::vector<std::unique_ptr<Communicator>> MakeLocalGroup(int size) {
  return MakeLocalGroup(size, CommOptions{});
}

std::vector<std::unique_ptr<Communicator>> MakeLocalGroup(int size, const CommOptions& options) {
  std::vector<std::unique_ptr<Communicator>> out;
  for (auto& group : collective::MakeLocalGroups(size, collective::Options{options.timeout}))
    out.push_back(
        std::make_unique<GroupCommunicator>(std::move(group), torch::Device(torch::kCPU), options));
  return out;
}

}  // namespace ensweep
