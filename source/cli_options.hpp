// The command line and config file of ozzie-server.
#pragma once

#include <ozzie/config.hpp>

#include <boost/program_options/options_description.hpp>

#include <string>
#include <variant>

namespace ozzie {

struct run_options {
    store_options store;
    server_options server;
};

// What the command line asks for: run the server, or print text (help, version) and exit.
struct print_and_exit {
    std::string text;
};

// Every option parse_command_line knows, as --help lists them; a test requires a row for each.
boost::program_options::options_description command_line_options();

// Parses `ozzie-server` arguments; options missing from the command line are taken from
// `--config FILE` (INI-style `name = value` lines) when given. Throws std::runtime_error
// with a message fit for the user on any bad or missing option.
std::variant<run_options, print_and_exit> parse_command_line(int argc, const char* const argv[]);

}  // namespace ozzie
