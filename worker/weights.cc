#include "worker/weights.h"

#include <torch/serialize.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include "core/error.h"

namespace ensweep {
namespace {

namespace fs = std::filesystem;

std::string Shape(const torch::Tensor& t) {
  std::string text = "[";
  for (int64_t d = 0; d < t.dim(); ++d) text += (d ? ", " : "") + std::to_string(t.size(d));
  return text + "]";
}

std::string List(const std::vector<std::string>& items) {
  std::string text;
  const size_t shown = std::min<size_t>(items.size(), 8);
  for (size_t i = 0; i < shown; ++i) text += (i ? ", " : "") + items[i];
  if (items.size() > shown) text += ", ... (" + std::to_string(items.size()) + " in all)";
  return text;
}

bool StartsWith(const std::string& text, const std::string& prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

}  // namespace

std::string ResolveWeightFile(const std::string& weights, const std::string& backbone) {
  fs::path path(weights);
  if (fs::is_directory(path)) path /= backbone + ".pt";
  if (!fs::is_regular_file(path)) {
    throw UserError("pretrained weights for " + backbone + ": no file " + path.string() +
                    " (write it with tools/export_torchvision_weights.py --arch " + backbone + ")");
  }
  return path.string();
}

std::map<std::string, torch::Tensor> ReadWeightFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                                std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof()) throw UserError("cannot read weight file " + path);
  c10::IValue value;
  try {
    value = torch::pickle_load(bytes);
  } catch (const std::exception& e) {
    throw UserError("weight file " + path + " is not a torch.save'd dict of tensors: " +
                    std::string(e.what()).substr(0, 200));
  }
  if (!value.isGenericDict()) {
    throw UserError("weight file " + path + " holds " + value.tagKind() +
                    ", expected a dict name -> tensor");
  }
  std::map<std::string, torch::Tensor> tensors;
  for (const auto& entry : value.toGenericDict()) {
    if (!entry.key().isString() || !entry.value().isTensor()) {
      throw UserError("weight file " + path + ": every entry must be name -> tensor");
    }
    tensors[entry.key().toStringRef()] = entry.value().toTensor();
  }
  return tensors;
}

void LoadWeights(ClassifierImpl& model, const std::string& path, bool include_head) {
  std::map<std::string, torch::Tensor> file = ReadWeightFile(path);
  const std::string head = model.head_prefix();
  std::vector<std::string> missing, mismatched, unexpected;
  std::map<std::string, torch::Tensor> targets;
  for (const auto& item : model.named_parameters()) targets[item.key()] = item.value();
  for (const auto& item : model.named_buffers()) targets[item.key()] = item.value();
  torch::NoGradGuard no_grad;
  for (auto& [name, target] : targets) {
    if (!include_head && StartsWith(name, head)) continue;
    const auto it = file.find(name);
    if (it == file.end()) {
      missing.push_back(name);
    } else if (!it->second.sizes().equals(target.sizes())) {
      mismatched.push_back(name + " (file " + Shape(it->second) + ", model " + Shape(target) + ")");
    } else {
      target.copy_(it->second.to(target.dtype()));
    }
  }
  for (const auto& [name, tensor] : file) {
    if (!include_head && StartsWith(name, head)) continue;
    if (targets.count(name) == 0) unexpected.push_back(name);
  }
  if (missing.empty() && mismatched.empty() && unexpected.empty()) return;
  std::string message = "weight file " + path + " does not fit the model:";
  if (!missing.empty()) message += " missing " + List(missing) + ";";
  if (!unexpected.empty()) message += " unexpected " + List(unexpected) + ";";
  if (!mismatched.empty()) message += " mis-shaped " + List(mismatched) + ";";
  message.pop_back();
  throw UserError(message);
}

void FreezeBackbone(ClassifierImpl& model) {
  const std::string head = model.head_prefix();
  for (auto& item : model.named_parameters()) {
    if (!StartsWith(item.key(), head)) item.value().set_requires_grad(false);
  }
}

}  // namespace ensweep
