#include "orchestrator/auth.h"

#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "tests/scratch_dir.h"

using namespace ensweep;
namespace fs = std::filesystem;

namespace {

fs::path FreshDir(const std::string& name) { return test::FreshDir("ensweep_auth", name); }

unsigned Mode(const fs::path& path) {
  struct stat info {};
  REQUIRE(::lstat(path.c_str(), &info) == 0);
  return info.st_mode & 0777;
}

void WriteToken(const fs::path& path, const std::string& text, unsigned mode) {
  std::ofstream(path) << text;
  REQUIRE(::chmod(path.c_str(), mode) == 0);
}

}  // namespace

TEST_CASE("the token file lies beside the store, named like the run lock", "[orchestrator][auth]") {
  const fs::path dir = FreshDir("path");
  const fs::path real = fs::weakly_canonical(dir);
  CHECK(StudyTokenPath((dir / "store.sqlite").string(), "mnist") ==
        (real / ".store.sqlite.mnist.token").string());
  // Through a symbolic link to the store's folder: the same file.
  fs::create_directory_symlink(dir, dir.string() + "_link");
  test::ScratchRegistry::Get().Add(dir.string() + "_link");
  CHECK(StudyTokenPath(dir.string() + "_link/store.sqlite", "mnist") ==
        (real / ".store.sqlite.mnist.token").string());
}

TEST_CASE("the first run creates a token file readable by its owner only, later runs reuse it",
          "[orchestrator][auth]") {
  const fs::path dir = FreshDir("create");
  const fs::path path = dir / ".store.sqlite.s.token";
  const std::string secret = LoadOrCreateToken(path.string());
  CHECK(secret.size() == kSecretBytes);
  CHECK(Mode(path) == 0600);
  std::ifstream in(path);
  std::string text;
  std::getline(in, text);
  CHECK(text == ToHex(secret));
  CHECK(text.size() == 64);
  CHECK(LoadOrCreateToken(path.string()) == secret);
  CHECK(ReadTokenFile(path.string()) == secret);
  // Another study gets its own secret.
  CHECK(LoadOrCreateToken((dir / ".store.sqlite.t.token").string()) != secret);
  // Nothing but the two token files is left behind.
  CHECK(std::distance(fs::directory_iterator(dir), fs::directory_iterator()) == 2);
}

TEST_CASE("a token file that others can read, a link, a folder or bad text is refused",
          "[orchestrator][auth]") {
  const fs::path dir = FreshDir("refuse");
  const std::string hex(64, 'a');
  const fs::path path = dir / "token";
  SECTION("readable by the world") {
    WriteToken(path, hex + "\n", 0644);
    CHECK_THROWS_WITH(LoadOrCreateToken(path.string()),
                      Catch::Contains("has mode 644") && Catch::Contains("chmod 600"));
    CHECK_THROWS_AS(ReadTokenFile(path.string()), UserError);
  }
  SECTION("readable by the group") {
    WriteToken(path, hex + "\n", 0640);
    CHECK_THROWS_WITH(LoadOrCreateToken(path.string()), Catch::Contains("has mode 640"));
  }
  SECTION("a symbolic link to a good token file") {
    WriteToken(dir / "real", hex + "\n", 0600);
    fs::create_symlink(dir / "real", path);
    CHECK_THROWS_WITH(LoadOrCreateToken(path.string()), Catch::Contains("is a symbolic link"));
    CHECK_THROWS_WITH(ReadTokenFile(path.string()), Catch::Contains("is a symbolic link"));
  }
  SECTION("a dangling symbolic link is not followed to create a file") {
    fs::create_symlink(dir / "elsewhere", path);
    CHECK_THROWS_WITH(LoadOrCreateToken(path.string()), Catch::Contains("is a symbolic link"));
    CHECK_FALSE(fs::exists(dir / "elsewhere"));
  }
  SECTION("a folder") {
    fs::create_directory(path);
    REQUIRE(::chmod(path.c_str(), 0700) == 0);
    CHECK_THROWS_WITH(LoadOrCreateToken(path.string()), Catch::Contains("not a regular file"));
  }
  SECTION("too short, or not hex") {
    WriteToken(path, "abc\n", 0600);
    CHECK_THROWS_WITH(LoadOrCreateToken(path.string()), Catch::Contains(path.string()) &&
                                                            Catch::Contains("64 hex digits") &&
                                                            Catch::Contains("found 3 characters"));
    WriteToken(path, std::string(63, 'a') + "g", 0600);
    CHECK_THROWS_WITH(ReadTokenFile(path.string()), Catch::Contains("not all hex digits"));
  }
  SECTION("missing, for a worker") {
    CHECK_THROWS_WITH(ReadTokenFile(path.string()), Catch::Contains("cannot open the token file"));
  }
}

TEST_CASE("tokens decode from 64 hex digits with surrounding space", "[orchestrator][auth]") {
  const std::string secret(kSecretBytes, '\x5a');
  CHECK(DecodeToken("  " + ToHex(secret) + "\n", "ENSWEEP_TOKEN") == secret);
  CHECK(DecodeToken(std::string(64, 'A'), "x") == std::string(kSecretBytes, '\xaa'));
  CHECK_THROWS_WITH(DecodeToken("", "ENSWEEP_TOKEN"),
                    Catch::StartsWith("ENSWEEP_TOKEN: expected a token of 64 hex digits"));
  CHECK(FromHex("0g") == "");
  CHECK(FromHex("abc") == "");
  CHECK(ToHex(std::string("\x00\xff", 2)) == "00ff");
}

TEST_CASE("handshake MACs are HMAC-SHA256 and compare by content", "[orchestrator][auth]") {
  // RFC 4231, test case 2: key "Jefe", data "what do ya want for nothing?".
  const std::string mac = HandshakeMac("Jefe", "what do ya want ", "for nothing", "?");
  CHECK(ToHex(mac) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  CHECK(SameMac(mac, HandshakeMac("Jefe", "what do ya want for nothing?", "", "")));
  CHECK_FALSE(SameMac(mac, HandshakeMac("Jeff", "what do ya want for nothing?", "", "")));
  CHECK_FALSE(SameMac(mac, mac.substr(1)));
  CHECK(RandomBytes(kNonceBytes).size() == kNonceBytes);
  CHECK(RandomBytes(kNonceBytes) != RandomBytes(kNonceBytes));
}
