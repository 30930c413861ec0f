// `ensweep report`: one study as a self-contained HTML file, or a Markdown summary.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "apps/commands.h"
#include "apps/study_locator.h"
#include "core/error.h"
#include "dashboard/report.h"

namespace ensweep {
namespace {

struct ReportOptions {
  StudyLocator locator;
  std::string out;
  std::string format;
  bool quiet = false;
};

int Report(const ReportOptions& o) {
  std::string format = o.format;
  if (format.empty()) {
    const bool md = o.out.size() >= 3 && o.out.compare(o.out.size() - 3, 3, ".md") == 0;
    format = md ? "md" : "html";
  }
  const auto start = std::chrono::steady_clock::now();
  auto found = o.locator.Open();
  auto progress = [&](const std::string& line) {
    if (!o.quiet) std::cerr << "report: " << line << std::endl;
  };
  const nlohmann::json data = ReportData(*found.store, found.study, progress);
  const std::string text =
      format == "md" ? MarkdownReport(data, found.study.name) : EmbedReport(data);
  const std::string temporary = o.out + ".tmp";
  {
    std::ofstream file(temporary, std::ios::binary);
    file << text;
    if (!file.good()) throw UserError(o.out + ": cannot write the report there");
  }
  std::rename(temporary.c_str(), o.out.c_str());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "report of study '" << found.study.name << "' (" << found.study.trial_count
            << " trials) written to " << o.out << " in " << std::fixed;
  std::cout.precision(1);
  std::cout << seconds << " s" << std::endl;
  return 0;
}

}  // namespace

Command AddReportCommand(CLI::App& root) {
  auto o = std::make_shared<ReportOptions>();
  CLI::App* app = root.add_subcommand(
      "report", "Report: one study as a self-contained HTML page, or a Markdown summary");
  app->footer(
      "The HTML file is the dashboard with the study's data inside: it opens in a browser\n"
      "without a server or a network. --format md writes a summary for an issue.\n\n"
      "Examples:\n"
      "  ensweep report studies/quickstart.yaml -o report.html\n"
      "  ensweep report --db runs/store.sqlite --study quickstart -o summary.md");
  o->locator.AddOptions(app);
  app->add_option("-o,--out", o->out, "File to write (report.html, or .md for Markdown)")
      ->required();
  app->add_option("--format", o->format, "html or md (default: from the file name, else html)")
      ->check(CLI::IsMember({"html", "md"}));
  app->add_flag("-q,--quiet", o->quiet, "No progress lines on standard error");
  return {app, [o] { return Report(*o); }};
}

}  // namespace ensweep
