// `ensweep report`: one study as a single self-contained HTML file (the web UI with its assets
// inlined and the API's answers embedded as window.ENSWEEP_DATA, docs/dashboard.md "The report"),
// or as a Markdown summary for an issue or a pull request.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "core/store.h"

namespace ensweep {

// Called with a short line ("trials: 100000", "importance", ...) as each part is gathered.
using ReportProgress = std::function<void(const std::string&)>;

// The report's paths and their answers: /api/studies (only this study), /api/studies/{s},
// .../trials?limit=all, .../history, .../curves, .../importance, .../ensembles, and
// .../trials/{n} for the 20 best trials and up to 50 FAILED ones. Throws StoreError.
nlohmann::json ReportData(const Store& store, const StudyRecord& study,
                          const ReportProgress& progress = nullptr);

// index.html with every `<script src="X"></script>` and `<link rel="stylesheet" href="X">` of a
// web asset replaced by an inline copy, and `data` as `<script>window.ENSWEEP_DATA = ...;</script>`
// just before app.js. "</" in the JSON and the scripts is written "<\/". Throws
// std::runtime_error when index.html refers to a file that is not a web asset.
std::string EmbedReport(const nlohmann::json& data);

// The Markdown summary: the study and its progress, the best trials with their parameters and
// metrics, the parameters' importance, the ensembles against the best single trial.
std::string MarkdownReport(const nlohmann::json& data, const std::string& study);

}  // namespace ensweep
