#include "control_protocol.h"

#include <gtest/gtest.h>

namespace hale::control {
namespace {

TEST(ControlProtocol, RequestRoundTrip) {
  Request r;
  r.id = 42;
  r.cmd = "nodes";
  r.args = {{"region", "eu"}};
  const std::string line = encodeRequest(r);
  ASSERT_EQ(line.back(), '\n');
  uint64_t id = 0;
  auto parsed = parseRequest(std::string_view(line).substr(0, line.size() - 1), id);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed.value().id, 42u);
  EXPECT_EQ(parsed.value().cmd, "nodes");
  EXPECT_EQ(parsed.value().args["region"], "eu");
}

TEST(ControlProtocol, ArgsAreOptional) {
  uint64_t id = 0;
  auto parsed = parseRequest(R"({"v":1,"id":1,"cmd":"status"})", id);
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(parsed.value().args.is_object());
  EXPECT_TRUE(parsed.value().args.empty());
}

TEST(ControlProtocol, RefusesMalformedRequestsWithTheirCode) {
  struct Case {
    const char* line;
    std::string_view code;
    uint64_t id;
  };
  const Case cases[] = {
      {"not json", errc::bad_json, 0},
      {"[1,2]", errc::bad_json, 0},
      {R"({"id":3,"cmd":"x"})", errc::bad_request, 3},
      {R"({"v":"1","id":3,"cmd":"x"})", errc::bad_request, 3},
      {R"({"v":2,"id":4,"cmd":"x"})", errc::unsupported_version, 4},
      {R"({"v":1,"cmd":"x"})", errc::bad_request, 0},
      {R"({"v":1,"id":-1,"cmd":"x"})", errc::bad_request, 0},
      {R"({"v":1,"id":5})", errc::bad_request, 5},
      {R"({"v":1,"id":5,"cmd":""})", errc::bad_request, 5},
      {R"({"v":1,"id":5,"cmd":7})", errc::bad_request, 5},
      {R"({"v":1,"id":6,"cmd":"x","args":[1]})", errc::bad_request, 6},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.line);
    uint64_t id = 99;
    auto parsed = parseRequest(c.line, id);
    ASSERT_FALSE(parsed.ok());
    EXPECT_EQ(parsed.error().code, c.code);
    EXPECT_EQ(id, c.id);
  }
}

TEST(ControlProtocol, ResponsesCarryResultOrError) {
  auto ok = parseResponse(encodeSuccess(9, {{"a", 1}}), 9);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok.value()["a"], 1);

  auto failed = parseResponse(encodeFailure(9, "paused", "aggregator is paused"), 9);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code, "paused");
  EXPECT_EQ(failed.error().message, "aggregator is paused");

  EXPECT_EQ(parseResponse(encodeSuccess(8, 1), 9).error().code, errc::bad_response);  // wrong id
  EXPECT_EQ(parseResponse("garbage", 9).error().code, errc::bad_response);
  EXPECT_EQ(parseResponse(R"({"v":1,"id":9})", 9).error().code, errc::bad_response);
  EXPECT_EQ(parseResponse(R"({"v":2,"id":9,"ok":true})", 9).error().code, errc::bad_response);
  EXPECT_EQ(parseResponse(R"({"v":1,"id":9,"ok":false,"error":{"code":5}})", 9).error().code, errc::bad_response);
  // Found by the fuzzer: a failure whose code is empty names nothing, so it is a bad response; so is one
  // whose code is no name.
  EXPECT_EQ(parseResponse(R"({"v":1,"id":1,"ok":false,"error":{"code":""}})", 1).error().code, errc::bad_response);
  for (const char* code : {" ", "Paused", "bad-json", "\u0007", "9lives"}) {
    const std::string line = encodeFailure(1, code, "m");
    EXPECT_EQ(parseResponse(line, 1).error().code, errc::bad_response) << line;
  }
  EXPECT_EQ(parseResponse(encodeFailure(1, std::string(65, 'a'), "m"), 1).error().code, errc::bad_response);
  EXPECT_EQ(parseResponse(encodeFailure(1, std::string(64, 'a'), "m"), 1).error().code, std::string(64, 'a'));
  // Another request's failure is not ours; id 0 is (the server could not read our id).
  EXPECT_EQ(parseResponse(encodeFailure(8, "paused", "m"), 9).error().code, errc::bad_response);
  EXPECT_EQ(parseResponse(encodeFailure(0, "line_too_long", "m"), 9).error().code, errc::line_too_long);
  // A failure without a message says so rather than nothing.
  EXPECT_EQ(parseResponse(R"({"v":1,"id":9,"ok":false,"error":{"code":"internal"}})", 9).error().message,
            "(no message)");
  EXPECT_EQ(parseResponse(encodeFailure(9, "internal", ""), 9).error().message, "(no message)");
}

// A result nested deeper than any answer needs is refused before it is parsed: copying and printing it
// would recurse once per level (halectl reads answers of up to 4 MB).
TEST(ControlProtocol, DeeplyNestedResponsesAreRefused) {
  const auto nested = [](int depth) {
    return R"({"v":1,"id":9,"ok":true,"result":)" + std::string(depth, '[') + std::string(depth, ']') + "}";
  };
  EXPECT_TRUE(parseResponse(nested(63), 9).ok());  // 64 levels with the answer's own object
  EXPECT_EQ(parseResponse(nested(64), 9).error().code, errc::bad_response);
  EXPECT_EQ(parseResponse(nested(100000), 9).error().code, errc::bad_response);
}

// One odd byte in a result (a journal entry, say) must not turn the answer into an exception.
TEST(ControlProtocol, SuccessWithInvalidUtf8StillEncodes) {
  const std::string line = encodeSuccess(3, nlohmann::json{{"detail", std::string("odd \xff\xfe byte")}});
  auto parsed = parseResponse(line, 3);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed.value()["detail"], "odd \xef\xbf\xbd\xef\xbf\xbd byte");
}

TEST(ControlProtocol, FailureWithInvalidUtf8StillEncodes) {
  const std::string line = encodeFailure(1, "internal", std::string("bad \xff byte"));
  auto parsed = parseResponse(line, 1);
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().code, "internal");
}

}  // namespace
}  // namespace hale::control
