#include "audit/data_profile.h"

#include <algorithm>
#include <bitset>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>

#include "core/data_edits.h"
#include "datagen/image_decode.h"

namespace fs = std::filesystem;

namespace ensweep {
namespace {

std::vector<uint8_t> ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open");
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string FormatOf(const std::vector<uint8_t>& bytes) {
  if (bytes.size() >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8) return "jpeg";
  if (bytes.size() >= 8 && std::memcmp(bytes.data(), "\x89PNG", 4) == 0) return "png";
  return "unknown";
}

uint64_t Fnv1a(const std::vector<uint8_t>& bytes) {
  uint64_t h = 1469598103934665603ULL;
  for (const uint8_t b : bytes) {
    h ^= b;
    h *= 1099511628211ULL;
  }
  return h;
}

// The difference hash of an image decoded as training decodes it (datagen/image_decode.h): its 9x8
// area-averaged thumbnail in grey (ITU-R BT.601 luma), bit set where a cell is brighter than its
// right neighbour.
uint64_t HashOf(const RgbImage& image) {
  constexpr int kW = 9, kH = 8;
  uint8_t thumb[kW * kH * 3];
  ResizeRgb(image.pixels.data(), image.width, image.height, thumb, kW, kH);
  double grey[kW * kH];
  for (int i = 0; i < kW * kH; ++i) {
    grey[i] = 0.299 * thumb[i * 3] + 0.587 * thumb[i * 3 + 1] + 0.114 * thumb[i * 3 + 2];
  }
  uint64_t hash = 0;
  for (int y = 0; y < kH; ++y) {
    for (int x = 0; x + 1 < kW; ++x) {
      hash = (hash << 1) | (grey[y * kW + x] > grey[y * kW + x + 1] ? 1 : 0);
    }
  }
  return hash;
}

ImageFacts Examine(const std::string& set, const std::string& path, const std::string& person) {
  ImageFacts f;
  f.set = set;
  f.path = path;
  f.person = person;
  try {
    const std::vector<uint8_t> bytes = ReadBytes(path);
    f.bytes = bytes.size();
    f.content_hash = Fnv1a(bytes);
    f.format = FormatOf(bytes);
    const RgbImage image = DecodeImageBytes(bytes, path);
    f.width = image.width;
    f.height = image.height;
    f.dhash = HashOf(image);
    f.readable = true;
  } catch (const std::exception& e) {
    f.error = e.what();
  }
  return f;
}

void Count(DataProfile& p, const std::string& set, int label,
           const std::vector<std::string>& class_names, bool mask_fields) {
  ++p.counts[set]["class"][class_names[static_cast<size_t>(label)]];
  if (!mask_fields) return;
  for (const char* field : {"mask", "gender", "age"}) {
    ++p.counts[set][field][MaskFieldValues(field)[static_cast<size_t>(MaskFieldOf(label, field))]];
  }
}

std::vector<DuplicatePair> FindDuplicates(const std::vector<ImageFacts>& images, int near_bits) {
  std::vector<DuplicatePair> pairs;
  for (size_t a = 0; a < images.size(); ++a) {
    if (!images[a].readable && images[a].bytes == 0) continue;
    for (size_t b = a + 1; b < images.size(); ++b) {
      if (images[a].content_hash == images[b].content_hash && images[a].bytes == images[b].bytes) {
        pairs.push_back({true, 0, a, b});
        continue;
      }
      if (!images[a].readable || !images[b].readable) continue;
      const int d = static_cast<int>(std::bitset<64>(images[a].dhash ^ images[b].dhash).count());
      if (d <= near_bits) pairs.push_back({false, d, a, b});
    }
  }
  return pairs;
}

// Whether `s` is a whole number of at most 18 digits (so that it fits an int64 exactly).
bool IsWholeNumber(const std::string& s) {
  return !s.empty() && s.size() <= 18 &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

bool ValueNameLess::operator()(const std::string& a, const std::string& b) const {
  const bool a_number = IsWholeNumber(a), b_number = IsWholeNumber(b);
  if (a_number && b_number) {
    const long long x = std::stoll(a), y = std::stoll(b);
    return x != y ? x < y : a < b;  // "07" and "7": both kept, in text order
  }
  if (a_number != b_number) return a_number;
  return a < b;
}

// Long: one pass over the two sets in order (counting, examining, reporting progress) reads
// better whole than split into helpers that share every local.
DataProfile ProfileData(const std::vector<LabeledImage>& train, const std::vector<EvalImage>& eval,
                        const std::vector<std::string>& class_names, bool mask_fields,
                        const std::optional<std::vector<int>>& eval_labels, int near_bits,
                        const std::function<void(size_t, size_t)>& progress) {
  DataProfile p;
  const size_t total = train.size() + eval.size();
  const auto step = [&] {
    if (progress && (p.images.size() % 200 == 0 || p.images.size() == total)) {
      progress(p.images.size(), total);
    }
  };
  for (const LabeledImage& image : train) {
    Count(p, "train", image.label, class_names, mask_fields);
    p.images.push_back(Examine("train", image.path, image.person));
    step();
  }
  for (size_t i = 0; i < eval.size(); ++i) {
    if (eval_labels && i < eval_labels->size()) {
      Count(p, "eval", (*eval_labels)[i], class_names, mask_fields);
    }
    p.images.push_back(Examine("eval", eval[i].path, ""));
    step();
  }
  p.duplicates = FindDuplicates(p.images, near_bits);
  return p;
}

}  // namespace ensweep
