// Idempotency keys: which are held by a write under way (in memory only), and the rule for a key.
#pragma once

#include <ozzie/errors.hpp>
#include <ozzie/user_service.hpp>

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>

namespace ozzie {

inline constexpr std::size_t max_idempotency_key_chars = 255;

// VALIDATION_ERROR unless `key` is 1 to 255 printable ASCII characters.
result<void> validate_idempotency_key(std::string_view key);

// The keys held by writes under way, as client_id + '\0' + key. Thread-safe.
class idempotency_claims : public std::enable_shared_from_this<idempotency_claims> {
public:
    // A claim on the key for a request with `fingerprint`; nullopt if a write holds it already.
    std::optional<idempotency_claim> try_claim(std::string_view client_id, std::string_view key,
                                               std::string_view fingerprint);

private:
    friend struct idempotency_claim::state;
    void release(const std::string& held);

    std::mutex mutex_;
    std::unordered_set<std::string> held_;
};

struct idempotency_claim::state {
    std::shared_ptr<idempotency_claims> claims;  // the registry outlives its claims
    std::string held;  // the registry's entry
    std::string client_id;
    std::string key;
    std::string fingerprint;

    ~state() {
        if (claims) claims->release(held);
    }
};

}  // namespace ozzie
