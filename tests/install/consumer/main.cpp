// Creates a user in-process and looks it up by id and by external id; exits 0 if all agree.
#include <ozzie/user_service.hpp>

#include <iostream>

int main(int argc, char* argv[]) {
    if (argc != 2) return 2;
    ozzie::user_service users({.data_dir = argv[1]});
    const auto created = users.create("consumer", {.external_user_id = "usr_1", .email = "a@example.com"});
    if (!created) {
        std::cerr << created.error().message << '\n';
        return 1;
    }
    const auto by_id = users.find_by_id("consumer", created->id);
    const auto by_external = users.find_by_external("consumer", "usr_1");
    if (!by_id || !by_external || *by_id != *created || *by_external != *created) return 1;
    std::cout << "created and found " << created->id << '\n';
    return 0;
}
