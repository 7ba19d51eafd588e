// placeholder: replaced by the codec tests
#include <catch2/catch.hpp>
TEST_CASE("placeholder wire_group_admin", "[wire_group_admin]") { CHECK(true); }
