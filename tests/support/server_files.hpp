// The files of one server under test, in a fresh temp dir: its clients file, its data dir and
// (for a server process) its log. Fixtures derive from it so that every suite lays them out alike.
#pragma once

#include "support/temp_dir.hpp"

#include <filesystem>

namespace ozzie::testing {

struct server_files {
    temp_dir dir;  // declared first: removed last, after whatever a derived fixture runs on it

    std::filesystem::path clients_file() const { return dir.path() / "clients"; }
    std::filesystem::path data_dir() const { return dir.path() / "data"; }
    std::filesystem::path log_file() const { return dir.path() / "server.log"; }
};

}  // namespace ozzie::testing
