// ozzie-server: parse the options, open the store, serve until SIGINT or SIGTERM.
#include "cli_options.hpp"

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

        // Block the stop signals before any thread starts, so that all inherit the mask and
        // only sigwait below receives them.
        sigset_t stop_signals;
        sigemptyset(&stop_signals);
        sigaddset(&stop_signals, SIGINT);
        sigaddset(&stop_signals, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

        ozzie::user_service service(options.store);
        ozzie::server server(service, options.server);
        const auto port = server.start();
        std::cerr << "ozzie-server: listening on " << options.server.host << ':' << port
                  << ", data in " << options.store.data_dir.string() << std::endl;

        int signal = 0;
        sigwait(&stop_signals, &signal);
        std::cerr << "ozzie-server: " << (signal == SIGINT ? "SIGINT" : "SIGTERM")
                  << ", finishing requests in flight" << std::endl;
        server.stop();
        // The service closes the store when it goes out of scope, after the last create.
        std::cerr << "ozzie-server: stopped" << std::endl;
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "ozzie-server: " << e.what() << std::endl;
        return 1;
    }
}
