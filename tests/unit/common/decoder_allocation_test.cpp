// Backs heartbeat_codec.h's promise: once warm, decoding a valid frame allocates nothing, neither through
// operator new nor through malloc (msgpack's zone takes its chunks from malloc). Its own binary, because it
// replaces the process's allocation functions to count them; not run under the sanitizers, whose runtimes
// own malloc.

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>

#include "heartbeat_codec.h"

namespace {

std::atomic<uint64_t> g_news{0};
std::atomic<uint64_t> g_mallocs{0};

}  // namespace

void* operator new(size_t size) {
  g_news.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__) && !defined(__has_feature)
#define HALE_COUNT_MALLOC 1
#elif defined(__has_feature)
#if !__has_feature(address_sanitizer) && !__has_feature(thread_sanitizer) && !__has_feature(memory_sanitizer)
#define HALE_COUNT_MALLOC 1
#endif
#endif

#ifdef HALE_COUNT_MALLOC
// glibc's own entry points, so these wrappers can count and forward (their names are glibc's).
extern "C" {
void* __libc_malloc(size_t);            // NOLINT(bugprone-reserved-identifier,readability-identifier-naming)
void* __libc_calloc(size_t, size_t);    // NOLINT(bugprone-reserved-identifier,readability-identifier-naming)
void* __libc_realloc(void*, size_t);    // NOLINT(bugprone-reserved-identifier,readability-identifier-naming)
void* __libc_memalign(size_t, size_t);  // NOLINT(bugprone-reserved-identifier,readability-identifier-naming)

void* malloc(size_t size) {
  g_mallocs.fetch_add(1, std::memory_order_relaxed);
  return __libc_malloc(size);
}
void* calloc(size_t n, size_t size) {
  g_mallocs.fetch_add(1, std::memory_order_relaxed);
  return __libc_calloc(n, size);
}
void* realloc(void* p, size_t size) {
  g_mallocs.fetch_add(1, std::memory_order_relaxed);
  return __libc_realloc(p, size);
}
void* memalign(size_t alignment, size_t size) {
  g_mallocs.fetch_add(1, std::memory_order_relaxed);
  return __libc_memalign(alignment, size);
}
}
#endif

namespace hale::heartbeat {
namespace {

struct Allocations {
  uint64_t news;
  uint64_t mallocs;
};

template <typename Fn>
Allocations countAllocations(Fn&& fn) {
  const uint64_t news = g_news.load();
  const uint64_t mallocs = g_mallocs.load();
  fn();
  return {g_news.load() - news, g_mallocs.load() - mallocs};
}

Heartbeat typicalHeartbeat() {
  Heartbeat hb;
  hb.node_id = "app-eu-west-1-07";  // longer than the small-string buffer
  hb.region = "eu-west";
  hb.boot_id = "3c1f8e0a-77d2-4b1e-9f0e-5a2d6c4b8e19";
  hb.seq = 42;
  hb.sent_unix_ms = 1'763'856'000'000;
  hb.status = NodeStatus::healthy;
  hb.checks = {{"postgres", CheckStatus::pass, true, 850, ""},
               {"dynamodb", CheckStatus::pass, true, 12'000, ""},
               {"disk", CheckStatus::warn, false, 90, "82% used on /var/lib/postgresql"}};
  return hb;
}

// Near the largest heartbeat the frame limit allows: every check, names at their limit, messages as long as
// the frame leaves room for.
Heartbeat largestHeartbeat() {
  Heartbeat hb = typicalHeartbeat();
  hb.checks.clear();
  for (size_t i = 0; i < kMaxChecks; ++i) {
    std::string name = "check-" + std::to_string(i);
    name.resize(kMaxIdBytes, 'n');
    hb.checks.push_back({name, CheckStatus::fail, i % 2 == 0, static_cast<uint32_t>(i), std::string(150, 'm')});
  }
  return hb;
}

// A frame that needs the most decoded objects per byte: valid, but its unknown keys carry nested arrays
// of one-byte nils up to the frame limit. msgpack's zone must not grow a chunk for it.
std::string densestFrame() {
  std::string base;
  encode(typicalHeartbeat(), base);
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(buf);
  const auto top_entries = static_cast<unsigned char>(base[0]) & 0x0f;  // a fixmap: the encoder's 8 keys
  const uint32_t extra = kMaxMapEntries - top_entries;
  pk.pack_map(top_entries + extra);
  buf.write(base.data() + 1, base.size() - 1);
  for (uint32_t k = 0; k < extra; ++k) {
    const std::string key = "x" + std::to_string(k);
    pk.pack_str(static_cast<uint32_t>(key.size()));
    pk.pack_str_body(key.data(), static_cast<uint32_t>(key.size()));
    // Each unknown value: an array of arrays of nils, trimmed so the frame stays within its limit.
    const size_t reserve = size_t{8} * (extra - k);  // the later keys and array headers
    const size_t room = kMaxFrameBytes > buf.size() + reserve ? kMaxFrameBytes - buf.size() - reserve : 0;
    const size_t inner = std::min<size_t>(kMaxChecks, room / (kMaxChecks + 3));
    pk.pack_array(static_cast<uint32_t>(inner));
    for (size_t i = 0; i < inner; ++i) {
      pk.pack_array(static_cast<uint32_t>(kMaxChecks));
      for (size_t j = 0; j < kMaxChecks; ++j) pk.pack_nil();
    }
  }
  return {buf.data(), buf.size()};
}

TEST(DecoderAllocations, WarmDecoderAllocatesNothingForValidFrames) {
  std::string typical_frame;
  std::string largest_frame;
  encode(typicalHeartbeat(), typical_frame);
  encode(largestHeartbeat(), largest_frame);
  const std::string& typical = typical_frame;
  const std::string& largest = largest_frame;
  const std::string densest = densestFrame();
  ASSERT_LE(densest.size(), kMaxFrameBytes);
  ASSERT_LE(largest.size(), kMaxFrameBytes);
  ASSERT_GT(largest.size(), kMaxFrameBytes * 9 / 10) << "the largest frame should come close to the limit";
  ASSERT_GT(densest.size(), kMaxFrameBytes * 9 / 10) << "the dense frame should come close to the limit";

  Decoder decoder;
  Heartbeat out;
  // Warm up: the output's strings and vector reach their largest sizes once.
  for (const std::string* frame : {&largest, &densest, &typical}) {
    const DecodeResult r = decoder.decode(*frame, out);
    ASSERT_TRUE(r.ok()) << decodeErrorName(r.error) << " " << r.key;
  }

  for (const std::string* frame : {&typical, &largest, &densest, &typical}) {
    bool all_ok = true;
    const Allocations a = countAllocations([&] {
      for (int i = 0; i < 200; ++i) all_ok = decoder.decode(*frame, out).ok() && all_ok;
    });
    EXPECT_TRUE(all_ok);
    EXPECT_EQ(a.news, 0U) << "operator new calls in 200 decodes of a " << frame->size() << "-byte frame";
#ifdef HALE_COUNT_MALLOC
    EXPECT_EQ(a.mallocs, 0U) << "malloc calls in 200 decodes of a " << frame->size() << "-byte frame";
#endif
  }
  EXPECT_EQ(out.node_id, "app-eu-west-1-07");
  EXPECT_EQ(out.checks.size(), 3U);
}

// The counters themselves must see an allocation, or the test above would pass by accident.
TEST(DecoderAllocations, CountersSeeAllocations) {
  const Allocations a = countAllocations([] {
    auto* s = new std::string(100, 'x');
    delete s;
  });
  EXPECT_GE(a.news, 1U);
#ifdef HALE_COUNT_MALLOC
  const Allocations m = countAllocations([] {
    void* volatile p = std::malloc(64);
    std::free(p);
  });
  EXPECT_GE(m.mallocs, 1U);
#endif
}

}  // namespace
}  // namespace hale::heartbeat
