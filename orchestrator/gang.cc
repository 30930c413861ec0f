#include "orchestrator/gang.h"

#include <algorithm>

namespace ensweep {

std::vector<int> ChooseGangMembers(const std::vector<GangCandidate>& idle, int size) {
  std::map<std::string, std::vector<int>> by_host;
  for (const GangCandidate& c : idle) by_host[c.host].push_back(c.peer);
  std::vector<std::vector<int>> hosts;
  for (auto& [host, peers] : by_host) {
    std::sort(peers.begin(), peers.end());
    hosts.push_back(peers);
  }
  // Hosts that can hold the whole gang first, then by idle workers (most first); ties by the
  // lowest peer, so the choice never depends on host names' order.
  const auto fits = [&](const std::vector<int>& h) { return static_cast<int>(h.size()) >= size; };
  std::sort(hosts.begin(), hosts.end(), [&](const std::vector<int>& a, const std::vector<int>& b) {
    if (fits(a) != fits(b)) return fits(a);
    if (!fits(a) && a.size() != b.size()) return a.size() > b.size();
    return a.front() < b.front();
  });
  std::vector<int> members;
  for (const auto& peers : hosts) {
    for (int peer : peers) {
      if (static_cast<int>(members.size()) == size) return members;
      members.push_back(peer);
    }
  }
  return members;
}

std::string GangKey(int64_t study_id, int64_t trial, int attempt, const std::string& nonce) {
  return "s" + std::to_string(study_id) + "-t" + std::to_string(trial) + "-a" +
         std::to_string(attempt) + "-" + nonce;
}

int GangAttempt::RankOf(int peer) const {
  const auto it = std::find(peers.begin(), peers.end(), peer);
  return it == peers.end() ? -1 : static_cast<int>(it - peers.begin());
}

std::optional<bool> GangAttempt::AnswerFor(int epoch) const {
  const auto it = decisions.lower_bound(epoch);
  if (it != decisions.end()) return it->second;
  if (over) return false;
  return std::nullopt;
}

}  // namespace ensweep
