// A fresh temp dir per test and a user_service opened on it, restartable on the same store.
#pragma once

#include "support/temp_dir.hpp"

#include <ozzie/config.hpp>
#include <ozzie/user_service.hpp>

#include <memory>

namespace ozzie::testing {

struct service_fixture {
    temp_dir dir;
    store_options options;
    std::unique_ptr<user_service> service;

    service_fixture() {
        options.data_dir = dir.path() / "db";
        service = std::make_unique<user_service>(options);
    }
    ~service_fixture() { service.reset(); }

    void restart() {
        service.reset();
        service = std::make_unique<user_service>(options);
    }
};

}  // namespace ozzie::testing
