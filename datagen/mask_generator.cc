#include "datagen/mask_generator.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "core/csv.h"
#include "core/error.h"
#include "core/mask_layout.h"
#include "core/parallel_for.h"
#include "core/rng.h"
#include "datagen/face_renderer.h"
#include "datagen/image_encode.h"
#include "datagen/person.h"

namespace fs = std::filesystem;

namespace ensweep {
namespace {

constexpr int kPhotosPerPerson = 7;
constexpr const char* kStems[kPhotosPerPerson] = {"mask1", "mask2",          "mask3", "mask4",
                                                  "mask5", "incorrect_mask", "normal"};
constexpr int kJpegQuality = 90;

int MaskStateOfPhoto(int photo) { return photo < 5 ? 0 : (photo == 5 ? 1 : 2); }

// Everything decided about a person before any pixel is drawn.
struct PersonPlan {
  uint64_t seed = 0;
  datagen::Person person;
  int given_gender = 0;  // as written in train.csv; differs from the truth for noisy persons
  int given_age = 0;
  std::array<std::string, kPhotosPerPerson> files;  // paths relative to the output folder
};

const char* GenderName(int gender) { return gender == 1 ? "female" : "male"; }

// Mostly .jpg, some .jpeg and .png, usually the same for all of a person's photos (as in the
// competition, where a few people have one odd file).
std::array<std::string, kPhotosPerPerson> PickExtensions(Rng& rng) {
  static const char* const kExtensions[] = {".jpg", ".jpeg", ".png"};
  const double u = rng.Uniform();
  const int usual = u < 0.8 ? 0 : (u < 0.92 ? 1 : 2);
  std::array<std::string, kPhotosPerPerson> extensions;
  for (auto& extension : extensions) {
    const int odd = rng.Uniform() < 0.05 ? static_cast<int>(1 + rng.Below(2)) : 0;
    extension = kExtensions[(usual + odd) % 3];
  }
  return extensions;
}

std::string HexId(uint64_t seed, uint64_t salt) {
  std::string hex;
  for (uint64_t word = 0; hex.size() < 40; ++word) {
    char chunk[17];
    std::snprintf(chunk, sizeof(chunk), "%016llx",
                  static_cast<unsigned long long>(DeriveSeed(DeriveSeed(seed, salt), word)));
    hex += chunk;
  }
  return hex.substr(0, 40);
}

PersonPlan PlanPerson(uint64_t seed) {
  PersonPlan plan;
  plan.seed = seed;
  Rng rng(seed);
  int gender = 0, age = 0;
  datagen::SampleGenderAndAge(rng, &gender, &age);
  plan.person = datagen::SamplePerson(gender, age, rng);
  plan.given_gender = gender;
  plan.given_age = age;
  return plan;
}

// A wrong but plausible label: the other gender, or an age from a neighbouring band.
void CorruptLabel(PersonPlan& plan, Rng& rng) {
  if (rng.Uniform() < 0.5) {
    plan.given_gender = 1 - plan.person.gender;
    return;
  }
  switch (AgeBand(plan.person.age)) {
    case 0:
      plan.given_age = 30 + static_cast<int>(rng.Below(10));
      break;
    case 1:
      plan.given_age = rng.Uniform() < 0.5 ? 20 + static_cast<int>(rng.Below(10))
                                           : 60 + static_cast<int>(rng.Below(6));
      break;
    default:
      plan.given_age = 50 + static_cast<int>(rng.Below(10));
  }
}

void Validate(const std::string& out_dir, const DatagenOptions& o) {
  const auto fail = [](const std::string& what) { throw UserError("datagen: " + what); };
  if (out_dir.empty()) fail("the output folder must not be empty");
  if (o.people < 1 || o.people > 999999) {
    fail("people must be between 1 and 999999, got " + std::to_string(o.people));
  }
  if (o.eval_people < -1 || o.eval_people > 999999) {
    fail("eval_people must be -1 (people / 2) or between 0 and 999999, got " +
         std::to_string(o.eval_people));
  }
  if (o.width < 16 || o.width > 8192) {
    fail("width must be between 16 and 8192 pixels, got " + std::to_string(o.width));
  }
  if (o.height < 16 || o.height > 8192) {
    fail("height must be between 16 and 8192 pixels, got " + std::to_string(o.height));
  }
  if (!(o.label_noise >= 0.0 && o.label_noise < 1.0)) {
    fail("label_noise must be in [0, 1), got " + std::to_string(o.label_noise));
  }
}

void RenderPerson(const fs::path& out, const PersonPlan& plan, const DatagenOptions& options) {
  const fs::path folder = (out / plan.files[0]).parent_path();
  fs::create_directories(folder);
  for (int k = 0; k < kPhotosPerPerson; ++k) {
    Rng rng(DeriveSeed(plan.seed, 1 + k));
    const auto rgb =
        datagen::RenderPhoto(plan.person, MaskStateOfPhoto(k), options.width, options.height, rng);
    const std::string path = (out / plan.files[k]).string();
    if (fs::path(path).extension() == ".png") {
      WritePng(path, rgb.data(), options.width, options.height);
    } else {
      WriteJpeg(path, rgb.data(), options.width, options.height, kJpegQuality);
    }
  }
}

// A photo left over from an earlier run with another extension would be a second copy of a stem.
void RemoveStalePhotos(const fs::path& out, const PersonPlan& plan) {
  const fs::path folder = (out / plan.files[0]).parent_path();
  if (!fs::is_directory(folder)) return;
  std::unordered_set<std::string> keep;
  for (const auto& file : plan.files) keep.insert(fs::path(file).filename().string());
  for (const auto& entry : fs::directory_iterator(folder)) {
    const std::string name = entry.path().filename().string();
    if (MaskStateFromStem(entry.path().stem().string()) >= 0 && keep.count(name) == 0) {
      fs::remove(entry.path());
    }
  }
}

std::ofstream OpenText(const fs::path& path) {
  std::ofstream file(path, std::ios::binary);
  if (!file) throw std::runtime_error(path.string() + ": cannot open for writing");
  return file;
}

void CloseText(std::ofstream& file, const fs::path& path) {
  file.close();
  if (!file) throw std::runtime_error(path.string() + ": write failed");
}

// Exactly round(label_noise * people) persons, chosen by a seeded shuffle, get a wrong label.
void AddLabelNoise(std::vector<PersonPlan>& train, double label_noise, uint64_t seed) {
  const int people = static_cast<int>(train.size());
  const int noisy_people = static_cast<int>(std::lround(label_noise * people));
  std::vector<int> order(people);
  for (int i = 0; i < people; ++i) order[i] = i;
  Rng rng(seed);
  for (int i = 0; i < noisy_people; ++i) {
    std::swap(order[i], order[i + rng.Below(people - i)]);
    Rng person_rng(DeriveSeed(seed, order[i]));
    CorruptLabel(train[order[i]], person_rng);
  }
}

// train/images/<id>_<gender>_Asian_<age>/<stem><ext>, named after the given (maybe wrong) label.
void NameTrainPhotos(std::vector<PersonPlan>& train) {
  for (size_t i = 0; i < train.size(); ++i) {
    PersonPlan& plan = train[i];
    char id[32];
    std::snprintf(id, sizeof(id), "%06d", static_cast<int>(i + 1));
    const std::string folder = std::string(id) + "_" + GenderName(plan.given_gender) + "_Asian_" +
                               std::to_string(plan.given_age);
    Rng rng(DeriveSeed(plan.seed, StableHash("extensions")));
    const auto extensions = PickExtensions(rng);
    for (int k = 0; k < kPhotosPerPerson; ++k) {
      plan.files[k] = "train/images/" + folder + "/" + kStems[k] + extensions[k];
    }
  }
}

// eval/images/<40 hex digits><ext>; returns (ImageID, true class) rows in a seeded random order,
// so that neither the order nor the names give away which photos belong together.
std::vector<std::pair<std::string, int>> NameEvalPhotos(std::vector<PersonPlan>& eval,
                                                        uint64_t order_seed) {
  std::unordered_set<std::string> used_ids;
  std::vector<std::pair<std::string, int>> rows;
  for (auto& plan : eval) {
    Rng rng(DeriveSeed(plan.seed, StableHash("extensions")));
    const auto extensions = PickExtensions(rng);
    for (int k = 0; k < kPhotosPerPerson; ++k) {
      std::string id;
      for (uint64_t salt = k; id.empty() || used_ids.count(id) > 0; salt += kPhotosPerPerson) {
        id = HexId(plan.seed, salt) + extensions[k];
      }
      used_ids.insert(id);
      plan.files[k] = "eval/images/" + id;
      const int label =
          EncodeClass(MaskStateOfPhoto(k), plan.person.gender, AgeBand(plan.person.age));
      rows.emplace_back(id, label);
    }
  }
  Rng rng(order_seed);
  for (size_t i = rows.size(); i > 1; --i) std::swap(rows[i - 1], rows[rng.Below(i)]);
  return rows;
}

// train/train.csv and train_label_noise.csv; returns the number of photos with a wrong label.
int WriteTrainTables(const fs::path& out, const std::vector<PersonPlan>& train) {
  const fs::path train_csv = out / "train" / "train.csv";
  const fs::path noise_csv = out / "train_label_noise.csv";
  std::ofstream train_file = OpenText(train_csv), noise_file = OpenText(noise_csv);
  WriteCsvRow(train_file, {"id", "gender", "race", "age", "path"});
  WriteCsvRow(noise_file, {"path", "given_label", "true_label"});
  int noisy_labels = 0;
  for (const PersonPlan& plan : train) {
    const std::string folder = fs::path(plan.files[0]).parent_path().filename().string();
    WriteCsvRow(train_file, {folder.substr(0, 6), GenderName(plan.given_gender), "Asian",
                             std::to_string(plan.given_age), folder});
    if (plan.given_gender == plan.person.gender && plan.given_age == plan.person.age) continue;
    for (int k = 0; k < kPhotosPerPerson; ++k) {
      const int mask = MaskStateOfPhoto(k);
      WriteCsvRow(
          noise_file,
          {plan.files[k],
           std::to_string(EncodeClass(mask, plan.given_gender, AgeBand(plan.given_age))),
           std::to_string(EncodeClass(mask, plan.person.gender, AgeBand(plan.person.age)))});
      ++noisy_labels;
    }
  }
  CloseText(train_file, train_csv);
  CloseText(noise_file, noise_csv);
  return noisy_labels;
}

// eval/info.csv (ans 0, as handed out) and the hidden labels in eval_labels.csv, same order.
void WriteEvalTables(const fs::path& out, const std::vector<std::pair<std::string, int>>& rows) {
  const fs::path info_csv = out / "eval" / "info.csv", labels_csv = out / "eval_labels.csv";
  std::ofstream info_file = OpenText(info_csv), labels_file = OpenText(labels_csv);
  WriteCsvRow(info_file, {"ImageID", "ans"});
  WriteCsvRow(labels_file, {"ImageID", "ans"});
  for (const auto& [id, label] : rows) {
    WriteCsvRow(info_file, {id, "0"});
    WriteCsvRow(labels_file, {id, std::to_string(label)});
  }
  CloseText(info_file, info_csv);
  CloseText(labels_file, labels_csv);
}

void WriteRecord(const fs::path& out, const DatagenOptions& options, int eval_people) {
  const nlohmann::json record = {
      {"generator", "ensweep datagen"},     {"format_version", 1},    {"people", options.people},
      {"eval_people", eval_people},         {"width", options.width}, {"height", options.height},
      {"label_noise", options.label_noise}, {"seed", options.seed}};
  const fs::path path = out / "datagen.json";
  std::ofstream file = OpenText(path);
  file << record.dump(2) << '\n';
  CloseText(file, path);
}

}  // namespace

DatagenSummary GenerateMaskDataset(const std::string& out_dir, const DatagenOptions& options,
                                   const std::function<void(int, int)>& progress) {
  Validate(out_dir, options);
  const int eval_people =
      options.eval_people >= 0 ? options.eval_people : std::max(1, options.people / 2);
  const fs::path out(out_dir);

  // Every person is planned from a seed of their own, so person i looks the same whatever the
  // number of people; train and eval persons come from separate streams.
  std::vector<PersonPlan> train(options.people), eval(eval_people);
  const uint64_t train_seed = DeriveSeed(options.seed, StableHash("train"));
  const uint64_t eval_seed = DeriveSeed(options.seed, StableHash("eval"));
  for (int i = 0; i < options.people; ++i) train[i] = PlanPerson(DeriveSeed(train_seed, i));
  for (int i = 0; i < eval_people; ++i) eval[i] = PlanPerson(DeriveSeed(eval_seed, i));
  AddLabelNoise(train, options.label_noise, DeriveSeed(options.seed, StableHash("label_noise")));
  NameTrainPhotos(train);
  const auto eval_rows = NameEvalPhotos(eval, DeriveSeed(options.seed, StableHash("eval_order")));

  fs::create_directories(out / "train" / "images");
  fs::create_directories(out / "eval" / "images");
  ParallelOptions parallel;
  parallel.threads = std::min(ThreadCount(0), 32);
  if (progress) {
    parallel.progress = [&](int64_t done, int64_t count) {
      progress(static_cast<int>(done), static_cast<int>(count));
    };
  }
  ParallelFor(
      options.people + eval_people,
      [&](int64_t index) {
        if (index < options.people) {
          RemoveStalePhotos(out, train[index]);
          RenderPerson(out, train[index], options);
        } else {
          RenderPerson(out, eval[index - options.people], options);
        }
      },
      parallel);

  DatagenSummary summary;
  summary.train_people = options.people;
  summary.train_images = options.people * kPhotosPerPerson;
  summary.eval_images = eval_people * kPhotosPerPerson;
  summary.noisy_labels = WriteTrainTables(out, train);
  WriteEvalTables(out, eval_rows);
  WriteRecord(out, options, eval_people);
  return summary;
}

}  // namespace ensweep
