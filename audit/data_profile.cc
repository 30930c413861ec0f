#include "audit/data_profile.h"

#include <png.h>
#include <turbojpeg.h>

#include <algorithm>
#include <bitset>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <stdexcept>

#include "audit/audit_report.h"
#include "core/csv.h"
#include "core/data_edits.h"

namespace fs = std::filesystem;

namespace ensweep {
namespace {

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open");
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

std::string FormatOf(const std::string& bytes) {
  if (bytes.size() >= 3 && static_cast<unsigned char>(bytes[0]) == 0xFF &&
      static_cast<unsigned char>(bytes[1]) == 0xD8)
    return "jpeg";
  if (bytes.size() >= 8 && bytes.compare(0, 4, "\x89PNG") == 0) return "png";
  return "unknown";
}

uint64_t Fnv1a(const std::string& bytes) {
  uint64_t h = 1469598103934665603ULL;
  for (const char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  return h;
}

// Grey pixels of the whole image, row-major.
std::vector<uint8_t> DecodeGrey(const std::string& bytes, const std::string& format, int& width,
                                int& height) {
  if (format == "jpeg") {
    std::unique_ptr<void, int (*)(tjhandle)> tj(tjInitDecompress(), tjDestroy);
    int subsamp = 0, colorspace = 0;
    auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
    if (tjDecompressHeader3(tj.get(), data, bytes.size(), &width, &height, &subsamp, &colorspace) !=
            0 ||
        width <= 0 || height <= 0 || static_cast<int64_t>(width) * height > (int64_t{1} << 26)) {
      throw std::runtime_error(std::string("bad JPEG header: ") + tjGetErrorStr2(tj.get()));
    }
    std::vector<uint8_t> grey(static_cast<size_t>(width) * height);
    if (tjDecompress2(tj.get(), data, bytes.size(), grey.data(), width, 0, height, TJPF_GRAY, 0) !=
        0) {
      throw std::runtime_error(std::string("JPEG decode failed: ") + tjGetErrorStr2(tj.get()));
    }
    return grey;
  }
  if (format == "png") {
    png_image image{};
    image.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&image, bytes.data(), bytes.size())) {
      throw std::runtime_error(std::string("bad PNG: ") + image.message);
    }
    image.format = PNG_FORMAT_GRAY;
    width = static_cast<int>(image.width);
    height = static_cast<int>(image.height);
    if (static_cast<int64_t>(width) * height > (int64_t{1} << 26)) {
      png_image_free(&image);
      throw std::runtime_error("PNG too large");
    }
    std::vector<uint8_t> grey(PNG_IMAGE_SIZE(image));
    if (!png_image_finish_read(&image, nullptr, grey.data(), 0, nullptr)) {
      throw std::runtime_error(std::string("PNG decode failed: ") + image.message);
    }
    return grey;
  }
  throw std::runtime_error("not a JPEG or PNG file");
}

uint64_t HashOfGrey(const std::vector<uint8_t>& grey, int width, int height) {
  constexpr int kW = 9, kH = 8;
  double cell[kH][kW] = {};
  for (int y = 0; y < kH; ++y) {
    const int y0 = y * height / kH, y1 = std::max(y0 + 1, (y + 1) * height / kH);
    for (int x = 0; x < kW; ++x) {
      const int x0 = x * width / kW, x1 = std::max(x0 + 1, (x + 1) * width / kW);
      double sum = 0;
      for (int yy = y0; yy < y1; ++yy) {
        for (int xx = x0; xx < x1; ++xx) sum += grey[static_cast<size_t>(yy) * width + xx];
      }
      cell[y][x] = sum / ((y1 - y0) * (x1 - x0));
    }
  }
  uint64_t hash = 0;
  for (int y = 0; y < kH; ++y) {
    for (int x = 0; x + 1 < kW; ++x) hash = (hash << 1) | (cell[y][x] > cell[y][x + 1] ? 1 : 0);
  }
  return hash;
}

ImageFacts Examine(const std::string& set, const std::string& path, const std::string& person) {
  ImageFacts f;
  f.set = set;
  f.path = path;
  f.person = person;
  try {
    const std::string bytes = ReadBytes(path);
    f.bytes = bytes.size();
    f.content_hash = Fnv1a(bytes);
    f.format = FormatOf(bytes);
    const std::vector<uint8_t> grey = DecodeGrey(bytes, f.format, f.width, f.height);
    f.dhash = HashOfGrey(grey, f.width, f.height);
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

uint64_t DifferenceHash(const std::string& path, int* width, int* height, std::string* format) {
  const std::string bytes = ReadBytes(path);
  const std::string f = FormatOf(bytes);
  int w = 0, h = 0;
  const uint64_t hash = HashOfGrey(DecodeGrey(bytes, f, w, h), w, h);
  if (width != nullptr) *width = w;
  if (height != nullptr) *height = h;
  if (format != nullptr) *format = f;
  return hash;
}

// Long: one pass over the two sets in order (counting, examining, reporting progress) reads
// better whole than split into helpers that share every local.
DataProfile ProfileData(const std::vector<LabeledImage>& train, const std::vector<EvalImage>& eval,
                        const std::vector<std::string>& class_names, bool mask_fields,
                        const std::optional<std::vector<int>>& eval_labels,
                        const std::vector<std::string>& eval_persons, int near_bits,
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
    const std::string person = i < eval_persons.size() ? eval_persons[i] : "";
    if (eval_labels && i < eval_labels->size()) {
      Count(p, "eval", (*eval_labels)[i], class_names, mask_fields);
    }
    p.images.push_back(Examine("eval", eval[i].path, person));
    step();
  }
  p.duplicates = FindDuplicates(p.images, near_bits);
  std::set<std::string> train_persons, both;
  for (const LabeledImage& image : train) train_persons.insert(image.person);
  for (const std::string& person : eval_persons) {
    if (!person.empty() && train_persons.count(person) > 0) both.insert(person);
  }
  p.persons_in_both.assign(both.begin(), both.end());
  return p;
}

}  // namespace ensweep
