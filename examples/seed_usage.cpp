// The system description's usage example, in C++. Reads MONGODB_URI when set.
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <vector>

#include "flowmetrics/metrics_agent.hpp"

int main() {
  const char* env_uri = std::getenv("MONGODB_URI");
  const char* uri = env_uri != nullptr ? env_uri : "mongodb://localhost:27017";
  try {
    flowmetrics::MetricsAgent agent{uri, "metrics_db", "metrics"};

    // Create indexes
    agent.create_metrics_indexes();

    // Batch upsert metrics
    const auto now = std::chrono::system_clock::now();
    std::vector<flowmetrics::Metric> metrics{{"192.168.1.1", "192.168.1.2", 8080, 80, "TCP", now, 123.45}};
    const flowmetrics::UpsertResult result = agent.batch_upsert_metrics(metrics);

    agent.close();
    std::cout << "seed_usage: upserted " << result.written << " metric(s) into metrics_db.metrics (" << result.upserted
              << " new document(s), " << result.matched << " updated)\n";
    return EXIT_SUCCESS;
  } catch (const flowmetrics::Error& e) {
    std::cerr << "seed_usage: " << e.what() << '\n';
    return EXIT_FAILURE;
  }
}
