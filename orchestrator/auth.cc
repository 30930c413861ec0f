#include "orchestrator/auth.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "core/error.h"

namespace ensweep {
namespace {

constexpr size_t kMaxTokenFileBytes = 1024;  // 64 hex digits and a newline; anything far larger
                                             // is not a token file

// How to make a new token when the file at `path` is refused.
std::string Remedy(const std::string& path) {
  return " (a token file holds 64 hex digits and is readable by its owner only; delete " + path +
         " to have the next `ensweep run` make a new one, then give workers the new file)";
}

// Reads the token from an open descriptor of `path`, after checking what the file is.
std::string ReadOpenToken(int fd, const std::string& path) {
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    throw UserError("cannot read the token file " + path + ": " + std::strerror(errno));
  }
  if (!S_ISREG(info.st_mode)) {
    throw UserError("the token file " + path + " is not a regular file" + Remedy(path));
  }
  if (info.st_uid != ::geteuid()) {
    throw UserError("the token file " + path + " belongs to another user (uid " +
                    std::to_string(info.st_uid) + ")" + Remedy(path));
  }
  if ((info.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%03o", static_cast<unsigned>(info.st_mode & 0777));
    throw UserError("the token file " + path + " has mode " + mode +
                    ": its group and others must have no access (chmod 600 " + path + ")");
  }
  std::string text;
  char buffer[256];
  while (text.size() <= kMaxTokenFileBytes) {
    const ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw UserError("cannot read the token file " + path + ": " + std::strerror(errno));
    if (n == 0) break;
    text.append(buffer, static_cast<size_t>(n));
  }
  return DecodeToken(text, "the token file " + path);
}

// Opens `path` for reading without following a final symbolic link or blocking on a FIFO; -1 with
// errno set when it cannot.
int OpenNoFollow(const std::string& path) {
  return ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
}

[[noreturn]] void RefuseOpen(const std::string& path, int err) {
  if (err == ELOOP) {
    throw UserError("the token file " + path + " is a symbolic link" + Remedy(path));
  }
  throw UserError("cannot open the token file " + path + ": " + std::strerror(err));
}

// The token of `path` through `fd` from OpenNoFollow (refused when it is -1), closed after.
std::string ReadAndClose(int fd, const std::string& path) {
  if (fd < 0) RefuseOpen(path, errno);
  try {
    std::string secret = ReadOpenToken(fd, path);
    ::close(fd);
    return secret;
  } catch (...) {
    ::close(fd);
    throw;
  }
}

void WriteAll(int fd, const std::string& text, const std::string& path) {
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw UserError("cannot write the token file " + path + ": " + std::strerror(errno));
    done += static_cast<size_t>(n);
  }
}

}  // namespace

std::string StudyTokenPath(const std::string& storage, const std::string& study) {
  const std::filesystem::path store(storage);
  std::error_code error;
  const std::filesystem::path real = std::filesystem::weakly_canonical(store, error);
  const std::filesystem::path named = error ? store : real;
  return (named.parent_path() / ("." + named.filename().string() + "." + study + ".token"))
      .string();
}

std::string LoadOrCreateToken(const std::string& path) {
  int fd = OpenNoFollow(path);
  if (fd < 0 && errno == ENOENT) {
    // Written in full under a temporary name, then linked into place: a reader never sees a
    // half-written token, and of two runs racing to create it, the second reads the first's.
    const std::string temporary = path + ".new." + std::to_string(::getpid());
    ::unlink(temporary.c_str());
    const int out =
        ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (out < 0) {
      throw UserError("cannot create the token file " + temporary + ": " + std::strerror(errno));
    }
    try {
      WriteAll(out, ToHex(RandomBytes(kSecretBytes)) + "\n", temporary);
      if (::fsync(out) != 0) {
        throw UserError("cannot write the token file " + temporary + ": " + std::strerror(errno));
      }
    } catch (...) {
      ::close(out);
      ::unlink(temporary.c_str());
      throw;
    }
    ::close(out);
    const int linked = ::link(temporary.c_str(), path.c_str());
    const int err = errno;
    ::unlink(temporary.c_str());
    if (linked != 0 && err != EEXIST) {
      throw UserError("cannot create the token file " + path + ": " + std::strerror(err));
    }
    fd = OpenNoFollow(path);
  }
  return ReadAndClose(fd, path);
}

std::string ReadTokenFile(const std::string& path) {
  return ReadAndClose(OpenNoFollow(path), path);
}

std::string DecodeToken(const std::string& text, const std::string& where) {
  const char* space = " \t\r\n";
  const size_t first = text.find_first_not_of(space);
  const size_t last = text.find_last_not_of(space);
  const std::string hex = first == std::string::npos ? "" : text.substr(first, last - first + 1);
  const std::string secret = FromHex(hex);
  if (hex.size() != 2 * kSecretBytes || secret.size() != kSecretBytes) {
    // The text itself is not repeated: it may be most of a real token.
    throw UserError(where + ": expected a token of " + std::to_string(2 * kSecretBytes) +
                    " hex digits, found " + std::to_string(hex.size()) + " characters" +
                    (hex.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos
                         ? " that are not all hex digits"
                         : ""));
  }
  return secret;
}

std::string ToHex(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string hex;
  hex.reserve(bytes.size() * 2);
  for (const char c : bytes) {
    const auto byte = static_cast<unsigned char>(c);
    hex.push_back(digits[byte >> 4]);
    hex.push_back(digits[byte & 0xf]);
  }
  return hex;
}

std::string FromHex(const std::string& hex) {
  if (hex.size() % 2 != 0) return "";
  const auto value = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string bytes;
  bytes.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int high = value(hex[i]), low = value(hex[i + 1]);
    if (high < 0 || low < 0) return "";
    bytes.push_back(static_cast<char>(high * 16 + low));
  }
  return bytes;
}

std::string RandomBytes(size_t n) {
  std::string bytes(n, '\0');
  size_t done = 0;
  while (done < n) {
    const ssize_t got = ::getrandom(bytes.data() + done, n - done, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      throw std::runtime_error(std::string("cannot read random bytes: ") + std::strerror(errno));
    }
    done += static_cast<size_t>(got);
  }
  return bytes;
}

std::string HandshakeMac(const std::string& secret, const std::string& label,
                         const std::string& first, const std::string& second) {
  const std::string data = label + first + second;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac,
           &length) == nullptr) {
    throw std::runtime_error("HMAC-SHA256 failed");
  }
  return std::string(reinterpret_cast<const char*>(mac), length);
}

bool SameMac(const std::string& a, const std::string& b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace ensweep
