// The study's secret, which TCP workers must prove they hold (tcp_transport.h has the handshake).
//
// Every study has a secret of 32 random bytes from the operating system, kept hex-encoded (64
// characters and a newline) in a file beside its store, `.<store file name>.<study>.token` (next to
// the run lock, run_lock.h), readable and writable by its owner only. The first `ensweep run`
// creates it; later runs reuse it, so a worker given the file once can join every run of the
// study. A worker proves it holds the secret without sending it: both ends answer the other's
// random nonce with an HMAC-SHA256 of it under the secret. The traffic itself is not encrypted.
#pragma once

#include <cstddef>
#include <string>

namespace ensweep {

inline constexpr size_t kSecretBytes = 32;
inline constexpr size_t kNonceBytes = 32;
inline constexpr size_t kMacBytes = 32;  // HMAC-SHA256

// The token file of `study` in the store at `storage`: named after the store's real path (a
// symbolic link to the store finds the same file), as the run lock is.
std::string StudyTokenPath(const std::string& storage, const std::string& study);

// The secret in the token file at `path`, created (mode 0600, with fresh random bytes) when there
// is none. Throws UserError, naming the file and what is wrong, when it is not a regular file
// (e.g. a symbolic link), is not owned by this user, grants any permission to its group or to
// others, or does not hold exactly 64 hex digits.
std::string LoadOrCreateToken(const std::string& path);

// The secret in an existing token file (e.g. a copy given to `ensweep worker --token-file`), with
// the same checks as LoadOrCreateToken. Throws UserError.
std::string ReadTokenFile(const std::string& path);

// The secret from its 64 hex digits (surrounding whitespace ignored); `where` names the source in
// the UserError thrown for anything else.
std::string DecodeToken(const std::string& text, const std::string& where);

// Lower-case hex of `bytes`, and back (FromHex: an empty string for text of odd length or with a
// character that is not a hex digit).
std::string ToHex(const std::string& bytes);
std::string FromHex(const std::string& hex);

// `n` bytes from the operating system's random source (getrandom). Throws std::runtime_error.
std::string RandomBytes(size_t n);

// HMAC-SHA256(secret, label || first || second), 32 bytes.
std::string HandshakeMac(const std::string& secret, const std::string& label,
                         const std::string& first, const std::string& second);

// Constant-time comparison (CRYPTO_memcmp); false when the sizes differ.
bool SameMac(const std::string& a, const std::string& b);

}  // namespace ensweep
