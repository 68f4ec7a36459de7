#include "service/idempotency.hpp"

#include "service/messages.hpp"

#include <algorithm>

namespace ozzie {

result<void> validate_idempotency_key(std::string_view key) {
    const bool printable = std::ranges::all_of(key, [](char c) { return c >= 0x20 && c <= 0x7E; });
    if (key.empty() || key.size() > max_idempotency_key_chars || !printable)
        return messages::invalid_idempotency_key(key);
    return {};
}

std::optional<idempotency_claim> idempotency_claims::try_claim(std::string_view client_id, std::string_view key,
                                                               std::string_view fingerprint) {
    std::string held(client_id);
    held += '\0';
    held.append(key);
    {
        std::lock_guard lock(mutex_);
        if (!held_.insert(held).second) return std::nullopt;
    }
    auto claim = std::make_unique<idempotency_claim::state>();
    claim->claims = shared_from_this();
    claim->held = std::move(held);
    claim->client_id = client_id;
    claim->key = key;
    claim->fingerprint = fingerprint;
    return idempotency_claim(std::move(claim));
}

void idempotency_claims::release(const std::string& held) {
    std::lock_guard lock(mutex_);
    held_.erase(held);
}

idempotency_claim::idempotency_claim(std::unique_ptr<state> s) noexcept : state_(std::move(s)) {}
idempotency_claim::idempotency_claim(idempotency_claim&&) noexcept = default;
idempotency_claim& idempotency_claim::operator=(idempotency_claim&&) noexcept = default;
idempotency_claim::~idempotency_claim() = default;

const std::string& idempotency_claim::client_id() const noexcept { return state_->client_id; }
const std::string& idempotency_claim::key() const noexcept { return state_->key; }
const std::string& idempotency_claim::fingerprint() const noexcept { return state_->fingerprint; }

}  // namespace ozzie
