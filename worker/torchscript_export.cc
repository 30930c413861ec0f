// ExportTorchScript (worker/inference.h): LibTorch cannot script C++ modules, so the exported
// module is built by hand. Every member's parameters and buffers become tensors of one
// torch::jit::Module, under "m<member>_f<fold>_<name with '.' as '_'>", and TorchScript source
// written here from the loaded C++ model (its module tree and each layer's options) computes
// each model's forward with the same ATen operators the C++ modules call (conv2d, batch_norm in
// evaluation, max_pool2d, adaptive_avg_pool2d, linear, relu, silu, sigmoid). The preprocessing
// repeats ensweep's own arithmetic step by step in float32: ResizeRgb's taps (image_decode.cc),
// FillImage's normalisation table or centre-crop sampling (augment.cc), the fold and view means
// (torch_trainer.cc) and the blend in double (ensemble/blend.cc), so the module's output matches
// `ensweep predict` on the same pixels.
#include <torch/script.h>

#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

#include "core/error.h"
#include "worker/augment.h"
#include "worker/batch_norm.h"
#include "worker/inference.h"
#include "worker/member_models.h"

namespace ensweep {
namespace {

namespace nn = torch::nn;

// A float or double as a TorchScript literal that reads back to the same value.
std::string Literal(double value) {
  char text[40];
  std::snprintf(text, sizeof(text), "%.17g", value);
  std::string s = text;
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}

std::string Pair(int64_t a, int64_t b) {
  return "[" + std::to_string(a) + ", " + std::to_string(b) + "]";
}

// Writes one model's forward (normalised images -> logits) as a TorchScript method, registering
// the tensors it reads on `out`.
class NetWriter {
 public:
  NetWriter(torch::jit::Module& out, ClassifierImpl& model, std::string prefix)
      : prefix_(std::move(prefix)) {
    for (const auto& item : model.named_modules("", /*include_self=*/false)) {
      modules_[item.key()] = item.value();
    }
    for (const auto& item : model.named_parameters()) {
      out.register_parameter(Name(item.key()), item.value().detach().clone(), false);
    }
    for (const auto& item : model.named_buffers()) {
      if (item.key().find("num_batches_tracked") != std::string::npos) continue;
      out.register_buffer(Name(item.key()), item.value().detach().clone());
    }
  }

  // def <method>(self, x: Tensor) -> Tensor, returning the model's logits.
  std::string Method(ClassifierImpl& model, const std::string& method,
                     const std::string& backbone) {
    std::string x = "x";
    if (dynamic_cast<CustomCnnImpl*>(&model)) {
      x = CustomCnn(x);
    } else if (dynamic_cast<ResNetImpl*>(&model)) {
      x = ResNet(x);
    } else if (dynamic_cast<EfficientNetB0Impl*>(&model)) {
      x = EfficientNet(x);
    } else {
      throw UserError("backbone " + backbone +
                      ": ensweep export writes custom_cnn, resnet* and efficientnet_b0 models "
                      "only (a torchscript backbone cannot be written into the module)");
    }
    return "def " + method + "(self, x: Tensor) -> Tensor:\n" + body_ + "    return " + x + "\n";
  }

 private:
  std::string Name(const std::string& dotted) const {
    std::string name = prefix_ + dotted;
    std::replace(name.begin(), name.end(), '.', '_');
    return name;
  }
  std::string Attr(const std::string& dotted) const { return "self." + Name(dotted); }
  bool Has(const std::string& name) const { return modules_.count(name) > 0; }
  template <typename T>
  T* Get(const std::string& name) const {
    auto it = modules_.find(name);
    T* module = it == modules_.end() ? nullptr : dynamic_cast<T*>(it->second.get());
    if (!module) throw std::logic_error("export: no layer " + name + " of the expected kind");
    return module;
  }
  std::string Let(const std::string& expression) {
    const std::string v = "v" + std::to_string(next_++);
    body_ += "    " + v + " = " + expression + "\n";
    return v;
  }

  std::string Conv(const std::string& name, const std::string& x) {
    const auto& o = Get<nn::Conv2dImpl>(name)->options;
    const auto* padding = c10::get_if<torch::ExpandingArray<2>>(&o.padding());
    if (!padding || o.padding_mode().index() != 0) {
      throw std::logic_error("export: layer " + name + " pads other than with zeros");
    }
    const bool bias = Get<nn::Conv2dImpl>(name)->bias.defined();
    return Let(
        "torch.conv2d(" + x + ", " + Attr(name + ".weight") + ", " +
        (bias ? Attr(name + ".bias") : "None") + ", " + Pair(o.stride()->at(0), o.stride()->at(1)) +
        ", " + Pair((*padding)->at(0), (*padding)->at(1)) + ", " +
        Pair(o.dilation()->at(0), o.dilation()->at(1)) + ", " + std::to_string(o.groups()) + ")");
  }
  std::string Bn(const std::string& name, const std::string& x) {
    const double eps = Get<BatchNorm2dImpl>(name)->options.eps();
    return Let("torch.batch_norm(" + x + ", " + Attr(name + ".weight") + ", " +
               Attr(name + ".bias") + ", " + Attr(name + ".running_mean") + ", " +
               Attr(name + ".running_var") + ", False, 0.0, " + Literal(eps) + ", True)");
  }
  std::string Linear(const std::string& name, const std::string& x) {
    Get<nn::LinearImpl>(name);
    return Let("torch.linear(" + x + ", " + Attr(name + ".weight") + ", " + Attr(name + ".bias") +
               ")");
  }
  std::string Pool(const std::string& x) {
    return Let("torch.adaptive_avg_pool2d(" + x + ", [1, 1]).flatten(1)");
  }

  std::string CustomCnn(std::string x) {
    for (int i = 0; Has("features." + std::to_string(i)); ++i) {
      const std::string name = "features." + std::to_string(i);
      const nn::Module* layer = modules_.at(name).get();
      if (dynamic_cast<const nn::Conv2dImpl*>(layer)) {
        x = Conv(name, x);
      } else if (dynamic_cast<const BatchNorm2dImpl*>(layer)) {
        x = Bn(name, x);
      } else if (dynamic_cast<const nn::ReLUImpl*>(layer)) {
        x = Let("torch.relu(" + x + ")");
      } else if (const auto* pool = dynamic_cast<const nn::MaxPool2dImpl*>(layer)) {
        const auto& o = pool->options;
        x = Let("torch.max_pool2d(" + x + ", " +
                Pair(o.kernel_size()->at(0), o.kernel_size()->at(1)) + ", " +
                Pair(o.stride()->at(0), o.stride()->at(1)) + ", " +
                Pair(o.padding()->at(0), o.padding()->at(1)) + ", " +
                Pair(o.dilation()->at(0), o.dilation()->at(1)) + ", " +
                (o.ceil_mode() ? "True" : "False") + ")");
      } else {
        throw std::logic_error("export: unexpected layer " + name);
      }
    }
    return Linear("fc", Pool(x));
  }

  std::string ResNet(std::string x) {
    x = Let("torch.relu(" + Bn("bn1", Conv("conv1", x)) + ")");
    x = Let("torch.max_pool2d(" + x + ", [3, 3], [2, 2], [1, 1], [1, 1], False)");
    for (int layer = 1; layer <= 4; ++layer) {
      for (int b = 0;; ++b) {
        const std::string p = "layer" + std::to_string(layer) + "." + std::to_string(b) + ".";
        if (!Has(p + "conv1")) break;
        const std::string shortcut =
            Has(p + "downsample") ? Bn(p + "downsample.1", Conv(p + "downsample.0", x)) : x;
        std::string out = Let("torch.relu(" + Bn(p + "bn1", Conv(p + "conv1", x)) + ")");
        if (Has(p + "conv3")) {  // Bottleneck
          out = Let("torch.relu(" + Bn(p + "bn2", Conv(p + "conv2", out)) + ")");
          out = Bn(p + "bn3", Conv(p + "conv3", out));
        } else {
          out = Bn(p + "bn2", Conv(p + "conv2", out));
        }
        x = Let("torch.relu(" + out + " + " + shortcut + ")");
      }
    }
    return Linear("fc", Pool(x));
  }

  // features.0 (stem) and features.8: conv, BatchNorm, SiLU; features.1..7: MBConv blocks
  // (worker/efficientnet.cc): the ConvBn children before the squeeze-and-excitation are
  // activated, the projection after it is not; the residual joins when the block keeps its
  // shape (stride 1, as many channels out as in).
  std::string EfficientNet(std::string x) {
    const auto conv_bn_silu = [&](const std::string& p, const std::string& in) {
      return Let("torch.silu(" + Bn(p + ".1", Conv(p + ".0", in)) + ")");
    };
    x = conv_bn_silu("features.0", x);
    for (int stage = 1; Has("features." + std::to_string(stage) + ".0.block"); ++stage) {
      for (int b = 0;; ++b) {
        const std::string p =
            "features." + std::to_string(stage) + "." + std::to_string(b) + ".block.";
        if (!Has(p + "0")) break;
        const std::string input = x;
        bool after_se = false, strided = false;
        int64_t in_channels = -1, out_channels = -1;
        for (int j = 0; Has(p + std::to_string(j)); ++j) {
          const std::string child = p + std::to_string(j);
          if (Has(child + ".fc1")) {
            std::string scale = Let("torch.adaptive_avg_pool2d(" + x + ", [1, 1])");
            scale = Let("torch.silu(" + Conv(child + ".fc1", scale) + ")");
            scale = Let("torch.sigmoid(" + Conv(child + ".fc2", scale) + ")");
            x = Let(x + " * " + scale);
            after_se = true;
            continue;
          }
          const auto& o = Get<nn::Conv2dImpl>(child + ".0")->options;
          if (in_channels < 0) in_channels = o.in_channels();
          out_channels = o.out_channels();
          strided = strided || o.stride()->at(0) != 1 || o.stride()->at(1) != 1;
          x = Bn(child + ".1", Conv(child + ".0", x));
          if (!after_se) x = Let("torch.silu(" + x + ")");
        }
        if (!strided && in_channels == out_channels) x = Let(x + " + " + input);
      }
    }
    x = conv_bn_silu("features.8", x);
    return Linear("classifier.1", Pool(x));
  }

  std::string prefix_;
  std::map<std::string, std::shared_ptr<nn::Module>> modules_;
  std::string body_;
  int next_ = 0;
};

// The fixed part: input checks, ResizeRgb's taps and resize, the normalisation table. Compiled
// without Python, TorchScript has no torch.float32 and the like: dtypes are their ScalarType
// numbers (0 uint8, 4 int64, 6 float32, 7 float64).
const char* kPreprocess = R"(
def axis_taps(self, src: int, dst: int) -> Tuple[Tensor, Tensor]:
    scale = float(src) / float(dst)
    if scale >= 1.0:
        index: List[List[int]] = []
        weight: List[List[float]] = []
        most = 1
        for o in range(dst):
            lo = o * scale
            hi = min((o + 1) * scale, float(src))
            row_index: List[int] = []
            row_weight: List[float] = []
            i = int(lo)
            while float(i) < hi:
                overlap = min(hi, float(i + 1)) - max(lo, float(i))
                if overlap > 1e-9:
                    row_index.append(i)
                    row_weight.append(overlap / scale)
                i += 1
            most = max(most, len(row_index))
            index.append(row_index)
            weight.append(row_weight)
        for o in range(dst):
            while len(index[o]) < most:
                index[o].append(0)
                weight[o].append(0.0)
        return torch.tensor(index, dtype=4), torch.tensor(weight, dtype=7).to(6)
    first: List[int] = []
    second: List[int] = []
    fractions: List[float] = []
    for o in range(dst):
        centre = max(0.0, (o + 0.5) * scale - 0.5)
        i0 = min(int(centre), src - 1)
        first.append(i0)
        second.append(min(i0 + 1, src - 1))
        fractions.append(centre - float(i0))
    frac = torch.tensor(fractions, dtype=7).to(6)
    index = torch.stack([torch.tensor(first, dtype=4), torch.tensor(second, dtype=4)], 1)
    return index, torch.stack([1.0 - frac, frac], 1)

def resize(self, images: Tensor) -> Tensor:
    n = images.size(0)
    h = images.size(1)
    w = images.size(2)
    if h == self.height and w == self.width:
        return images
    x = images.to(6)
    device = images.device
    index, weight = self.axis_taps(w, self.width)
    index, weight = index.to(device), weight.to(device)
    rows = torch.zeros([n, h, self.width, 3], dtype=6, device=device)
    for t in range(index.size(1)):
        rows = rows + weight[:, t].view(1, 1, -1, 1) * x.index_select(2, index[:, t])
    index, weight = self.axis_taps(h, self.height)
    index, weight = index.to(device), weight.to(device)
    out = torch.zeros([n, self.height, self.width, 3], dtype=6, device=device)
    for t in range(index.size(1)):
        out = out + weight[:, t].view(1, -1, 1, 1) * rows.index_select(1, index[:, t])
    return torch.clamp(out + 0.5, 0.0, 255.0).to(0)

def normalise(self, images: Tensor) -> Tensor:
    values = images.permute(0, 3, 1, 2).to(4) + self.channel_offset
    return torch.take(self.norm_table, values).contiguous()

def multitask(self, logits: Tensor) -> Tensor:
    n = logits.size(0)
    mask = torch.softmax(logits.narrow(1, 0, 3), 1).view(n, 3, 1, 1)
    gender = torch.softmax(logits.narrow(1, 3, 2), 1).view(n, 1, 2, 1)
    age = torch.softmax(logits.narrow(1, 5, 3), 1).view(n, 1, 1, 3)
    return (mask * gender * age).reshape(n, 18)
)";

// FillImage's normalisation as a lookup (3 x 256, flattened): (v / 255 - mean) / std in float.
torch::Tensor NormTable() {
  torch::Tensor table = torch::empty({3 * 256}, torch::kFloat32);
  float* t = table.data_ptr<float>();
  for (int c = 0; c < 3; ++c) {
    for (int v = 0; v < 256; ++v)
      t[c * 256 + v] = (v / 255.0f - kImageNetMean[c]) / kImageNetStd[c];
  }
  return table;
}

// FillImage's centre-crop sampling (augment.cc Resample) for one member: per output row and
// column the two source indices and the float weights, registered as tensors; returns the method
// that applies it (uint8 NHWC -> normalised NCHW).
std::string CropMethod(torch::jit::Module& out, const std::string& name, double center_crop,
                       int width, int height) {
  const auto axis = [&](int size, const std::string& axis_name) {
    const double window = size * center_crop, origin = (size - window) / 2, s = window / size;
    torch::Tensor i0 = torch::empty({size}, torch::kLong), i1 = torch::empty({size}, torch::kLong);
    torch::Tensor w = torch::empty({size}, torch::kFloat32), rest = torch::empty_like(w);
    for (int o = 0; o < size; ++o) {
      const double f = std::clamp(origin + (o + 0.5) * s - 0.5, 0.0, size - 1.0);
      const int a = static_cast<int>(f);
      i0[o] = a;
      i1[o] = std::min(a + 1, size - 1);
      const float frac = static_cast<float>(f - a);
      w.data_ptr<float>()[o] = frac;
      rest.data_ptr<float>()[o] = 1 - frac;
    }
    out.register_buffer(name + "_" + axis_name + "0", i0);
    out.register_buffer(name + "_" + axis_name + "1", i1);
    out.register_buffer(name + "_" + axis_name + "w", w);
    out.register_buffer(name + "_" + axis_name + "r", rest);
  };
  axis(width, "x");
  axis(height, "y");
  const std::string s = "self." + name + "_";
  return "def " + name +
         "(self, images: Tensor) -> Tensor:\n"
         "    x = images.permute(0, 3, 1, 2).to(6)\n"
         "    r0 = x.index_select(2, " +
         s +
         "y0)\n"
         "    r1 = x.index_select(2, " +
         s +
         "y1)\n"
         "    wx = " +
         s +
         "xw.view(1, 1, 1, -1)\n"
         "    rx = " +
         s +
         "xr.view(1, 1, 1, -1)\n"
         "    top = r0.index_select(3, " +
         s + "x0) * rx + r0.index_select(3, " + s +
         "x1) * wx\n"
         "    bottom = r1.index_select(3, " +
         s + "x0) * rx + r1.index_select(3, " + s +
         "x1) * wx\n"
         "    p = (top * " +
         s + "yr.view(1, 1, -1, 1) + bottom * " + s +
         "yw.view(1, 1, -1, 1)) / self.c255\n"
         "    return ((p - self.channel_mean) / self.channel_std).contiguous()\n";
}

// Writes member `m`'s methods into `source` (its centre crop if any, one net per fold, and
// member_m<m>: uint8 images at the study's size -> the member's probabilities) and registers its
// tensors on `out`.
void WriteMember(torch::jit::Module& out, const InferenceJob& job, size_t m, std::string& source) {
  const InferenceMember& member = job.members[m];
  const LoadedMember loaded = LoadMember(job, member, torch::Device(torch::kCPU));
  const std::string tag = "m" + std::to_string(m);
  std::string body;
  if (loaded.params.center_crop == 1.0) {
    body += "    x = self.normalise(images)\n";
  } else {
    source +=
        CropMethod(out, "crop_" + tag, loaded.params.center_crop, job.data.width, job.data.height);
    body += "    x = self.crop_" + tag + "(images)\n";
  }
  if (member.hflip) body += "    xf = torch.flip(x, [3])\n";  // FillImage's mirror
  const float share = 1.0f / static_cast<float>(loaded.folds.size());
  const std::vector<std::string> views =
      member.hflip ? std::vector<std::string>{"x", "xf"} : std::vector<std::string>{"x"};
  for (size_t f = 0; f < loaded.folds.size(); ++f) {
    const std::string net = "net_" + tag + "_f" + std::to_string(f);
    NetWriter writer(out, *loaded.folds[f], tag + "_f" + std::to_string(f) + "_");
    source += writer.Method(*loaded.folds[f], net, loaded.params.backbone);
    for (const std::string& view : views) {
      const std::string logits = "self." + net + "(" + view + ")";
      const std::string probs = loaded.params.head == "multitask"
                                    ? "self.multitask(" + logits + ")"
                                    : "torch.softmax(" + logits + ", 1)";
      const std::string sum = view == "x" ? "plain" : "mirrored";
      body += "    " + sum + " = " + (f == 0 ? "" : sum + " + ") + probs + " * " + Literal(share) +
              "\n";
    }
  }
  if (member.hflip) body += "    plain = (plain + mirrored) * 0.5\n";  // MeanOfViews
  source +=
      "def member_" + tag + "(self, images: Tensor) -> Tensor:\n" + body + "    return plain\n";
}

}  // namespace

void ExportTorchScript(const InferenceJob& job, const std::string& path) {
  torch::NoGradGuard no_grad;
  torch::jit::Module out("ensweep_model");
  out.register_attribute("width", c10::IntType::get(), static_cast<int64_t>(job.data.width));
  out.register_attribute("height", c10::IntType::get(), static_cast<int64_t>(job.data.height));
  out.register_buffer("norm_table", NormTable());
  out.register_buffer("channel_offset", torch::tensor({0L, 256L, 512L}).view({1, 3, 1, 1}));
  out.register_buffer("channel_mean",
                      torch::tensor(at::ArrayRef<float>(kImageNetMean)).view({1, 3, 1, 1}));
  out.register_buffer("channel_std",
                      torch::tensor(at::ArrayRef<float>(kImageNetStd)).view({1, 3, 1, 1}));
  out.register_buffer("c255", torch::tensor({255.0f}));
  std::string source = kPreprocess;
  double total = 0;
  for (const InferenceMember& m : job.members) total += m.weight;
  if (job.members.empty() || total <= 0) throw UserError("export: no member with a weight");
  std::string forward =
      "def forward(self, images: Tensor) -> Tensor:\n"
      "    assert images.dim() == 4 and images.size(3) == 3 and images.dtype == 0, "
      "\"expected an (N, H, W, 3) uint8 RGB batch\"\n"
      "    images = self.resize(images)\n";
  for (size_t m = 0; m < job.members.size(); ++m) {
    WriteMember(out, job, m, source);
    const std::string term = "self.member_m" + std::to_string(m) + "(images).to(7) * " +
                             Literal(job.members[m].weight / total);
    forward += "    " + std::string(m == 0 ? "out = " : "out = out + ") + term + "\n";
  }
  forward += "    return out.to(6)\n";
  source += forward;
  try {
    out.define(source);
  } catch (const std::exception& e) {
    throw std::runtime_error("export: the generated TorchScript does not compile: " +
                             std::string(e.what()).substr(0, 2000));
  }
  out.eval();
  out.save(path);
}

}  // namespace ensweep
