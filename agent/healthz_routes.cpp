#include "healthz_routes.h"

#include "status_render.h"

namespace hale::agent {

HttpHandler healthzRoutes(SnapshotSource source, AgentCounters& counters, const Clock& clock, bool details) {
  return healthzRoutes(std::move(source), counters, clock, std::make_shared<const std::atomic<bool>>(details));
}

HttpHandler healthzRoutes(SnapshotSource source, AgentCounters& counters, const Clock& clock,
                          std::shared_ptr<const std::atomic<bool>> details) {
  return [source = std::move(source), &counters, &clock, details = std::move(details)](
             std::string_view method, std::string_view url, std::string& body, const char*& content_type) -> unsigned {
    counters.http_requests.fetch_add(1, std::memory_order_relaxed);
    if (method != "GET" && method != "HEAD") return HttpServer::methodNotAllowed(body, content_type);
    const std::shared_ptr<const Snapshot> snap = source();
    const SteadyTime now = clock.steadyNow();
    if (url == "/healthz") {
      renderHealthz(*snap, now, body, details->load(std::memory_order_relaxed));
      content_type = kContentJson;
      return effectiveNodeStatus(*snap, now) == heartbeat::NodeStatus::unhealthy ? 503 : 200;
    }
    if (url == "/metrics") {
      renderMetrics(*snap, now, counters, body);
      content_type = kContentPrometheus;
      return 200;
    }
    body = "not found\n";
    content_type = kContentText;
    return 404;
  };
}

}  // namespace hale::agent
