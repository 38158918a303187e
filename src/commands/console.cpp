#include <httplib.h>
#include <pthread.h>
#include <signal.h>

#include <spdlog/spdlog.h>

#include <memory>
#include <thread>

#include "commands/commands.hpp"
#include "commands/runtime.hpp"
#include "flowmetrics/metrics_agent.hpp"
#include "ingest/socket_address.hpp"
#include "server/console_routes.hpp"
#include "server/listen.hpp"
#include "server/query_routes.hpp"
#include "server/query_service.hpp"

namespace flowmetrics::commands {
namespace {}  // namespace

int console(const ConfigSources& sources, const std::string& listen) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // inherited by the server's threads

  config::CollectorConfig config;
  // The same tokens as serve's query API: the read token, and the write token too.
  server::QueryRouteOptions query_routes;
  try {
    config = load_config(sources);
    if (!config.query.read_token_file.empty()) {
      query_routes.tokens.push_back(read_secret_file(config.query.read_token_file, "query.read_token_file"));
    }
    if (!config.http.bearer_token_file.empty()) {
      query_routes.tokens.push_back(read_secret_file(config.http.bearer_token_file, "inputs.http.bearer_token_file"));
    }
  } catch (const config::ConfigError& e) {
    spdlog::error("configuration: {}", e.what());
    return 2;
  }
  configure_logging(config);
  const std::string address = listen.empty() ? config.http.listen : listen;

  // Declared before the server, so that they outlive the threads that call them.
  std::unique_ptr<MetricsAgent> agent;
  try {
    agent = std::make_unique<MetricsAgent>(config.database.uri, config.database.database, config.database.collection,
                                           config.agent_options());
  } catch (const std::exception& e) {
    spdlog::error("cannot start: {}", e.what());
    return 1;
  }
  server::QueryService queries(*agent, {config.query.slow, config.query.timeout});

  auto server = std::make_unique<httplib::Server>();
  const std::size_t threads = std::max<std::size_t>(1, config.http.threads);
  server->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server::register_console_routes(*server);
  server::register_query_routes(*server, queries, std::move(query_routes));
  server->Get("/healthz",
              [](const httplib::Request&, httplib::Response& response) { response.set_content("ok\n", "text/plain"); });
  std::string bound;
  try {
    bound = server::bind_listener(*server, address);
  } catch (const std::exception& e) {
    spdlog::error("cannot start: {}", e.what());
    return 1;
  }
  std::thread thread([&] { server->listen_after_bind(); });
  spdlog::info("console listening on {}: open http://{}/ (database {}.{})", bound, bound, config.database.database,
               config.database.collection);

  int signal = 0;
  sigwait(&signals, &signal);
  spdlog::info("received {}: stopping", strsignal(signal));
  server->stop();
  thread.join();
  return 0;
}

}  // namespace flowmetrics::commands
