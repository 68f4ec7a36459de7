// ozzie-server: parse the options, open the store, serve until SIGINT or SIGTERM.
#include "cli_options.hpp"
#include "ops/logging.hpp"

#include <ozzie/server.hpp>
#include <ozzie/user_service.hpp>

#include <csignal>
#include <iostream>

int main(int argc, char* argv[]) {
    try {
        auto parsed = ozzie::parse_command_line(argc, argv);
        if (const auto* print = std::get_if<ozzie::print_and_exit>(&parsed)) {
            std::cout << print->text;
            return 0;
        }
        const auto& options = std::get<ozzie::run_options>(parsed);

        // Block the signals before any thread starts, so that all inherit the mask and only
        // sigwait below receives them.
        sigset_t signals;
        sigemptyset(&signals);
        sigaddset(&signals, SIGINT);
        sigaddset(&signals, SIGTERM);
        sigaddset(&signals, SIGHUP);
        pthread_sigmask(SIG_BLOCK, &signals, nullptr);

        // Logging starts before the store opens, so that an upgrade's migration is logged; the
        // server checks the level (and refuses a wrong one) when it starts.
        if (const auto level = ozzie::parse_log_level(options.server.log_level)) ozzie::start_logging(*level);
        ozzie::user_service service(options.store);
        ozzie::server server(service, options.server);
        server.start();  // logs the "listening" event with the bound ports

        int signal = 0;
        // SIGHUP reloads the clients file; SIGINT and SIGTERM stop gracefully.
        while (sigwait(&signals, &signal) == 0 && signal == SIGHUP) server.reload_clients();
        ozzie::log(ozzie::log_level::info, "stopping", {{"signal", signal == SIGINT ? "SIGINT" : "SIGTERM"}});
        server.stop();
    } catch (const std::exception& e) {
        std::cerr << "ozzie-server: " << e.what() << std::endl;
        return 1;
    }
    // The service has closed the store, after the last create was answered.
    ozzie::log(ozzie::log_level::info, "stopped");
    ozzie::stop_logging();
    return 0;
}
