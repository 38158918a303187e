# The collector: configuration, inputs, the aggregation pipeline and the ops server behind
# the `flowmetrics` binary. Built on the core library; none of it is public API.
find_package(tomlplusplus REQUIRED)
find_package(simdjson REQUIRED)
find_package(spdlog REQUIRED)
find_package(prometheus-cpp REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET GLOBAL cpp-httplib)

add_library(flowmetrics_collector STATIC
  config/collector_config.cpp
  ingest/json_record_parser.cpp
  ingest/json_lines.cpp
  query/query_request.cpp
  query/query_render.cpp
)
target_include_directories(flowmetrics_collector PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(flowmetrics_collector
  PUBLIC flowmetrics::flowmetrics tomlplusplus::tomlplusplus simdjson::simdjson spdlog::spdlog
         prometheus-cpp::core PkgConfig::HTTPLIB
  PRIVATE flowmetrics_warnings)

# NetFlow v5 / v9 / IPFIX decoding (no sockets): datagrams in, metrics out.
add_library(flowmetrics_netflow STATIC
  netflow/template_cache.cpp
  netflow/record_decoder.cpp
  netflow/exporter_state.cpp
  netflow/netflow_v5.cpp
  netflow/netflow_v9.cpp
  netflow/ipfix.cpp
  netflow/flow_decoder.cpp
)
target_include_directories(flowmetrics_netflow PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(flowmetrics_netflow PUBLIC flowmetrics::flowmetrics spdlog::spdlog PRIVATE flowmetrics_warnings)

# sFlow v5 decoding (no sockets): datagrams in, FlowSamples out; metric_adapter.cpp turns
# them into the pipeline's records.
add_library(flowmetrics_sflow STATIC
  sflow/sampled_header.cpp
  sflow/agent_table.cpp
  sflow/sflow_decoder.cpp
  sflow/metric_adapter.cpp
)
target_include_directories(flowmetrics_sflow PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
# It borrows the NetFlow decoder's ByteReader (netflow/byte_reader.hpp, header only).
target_link_libraries(flowmetrics_sflow PUBLIC flowmetrics::flowmetrics spdlog::spdlog PRIVATE flowmetrics_warnings)

# The write-ahead spool: frames on disk, the records and markers in them, idempotency keys.
find_package(ZLIB REQUIRED)
add_library(flowmetrics_spool STATIC
  spool/crc32c.cpp
  spool/frame.cpp
  spool/spooled_records.cpp
  spool/spool.cpp
  spool/idempotency_index.cpp
  spool/spool_directory.cpp
)
target_include_directories(flowmetrics_spool PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(flowmetrics_spool PUBLIC flowmetrics::flowmetrics spdlog::spdlog PRIVATE ZLIB::ZLIB
                      flowmetrics_warnings)

# The serve/ingest machinery: pipeline, socket inputs, HTTP and metrics.
add_library(flowmetrics_service STATIC
  pipeline/pipeline.cpp
  pipeline/pipeline_stats.cpp
  pipeline/record_sink.cpp
  ingest/socket_address.cpp
  ingest/tcp_json_input.cpp
  server/collector_metrics.cpp
  server/metric_families.cpp
  server/http_server.cpp
  server/listen.cpp
  server/query_service.cpp
  server/query_routes.cpp
)
find_package(absl REQUIRED)
target_link_libraries(flowmetrics_service PUBLIC flowmetrics_collector flowmetrics_spool absl::flat_hash_map
                      PRIVATE flowmetrics_warnings)
# The UDP flow inputs on their shared datagram receive path: NetFlow/IPFIX and sFlow, each
# with its /metrics families.
target_sources(flowmetrics_service PRIVATE ingest/udp_datagram_input.cpp ingest/netflow_udp_input.cpp
               server/netflow_metrics.cpp ingest/sflow_udp_input.cpp server/sflow_metrics.cpp)
target_link_libraries(flowmetrics_service PUBLIC flowmetrics_netflow)
target_link_libraries(flowmetrics_service PUBLIC flowmetrics_sflow)

add_library(flowmetrics_commands STATIC
  commands/database_link.cpp
  commands/runtime.cpp
  commands/serve.cpp
  commands/ingest.cpp
  commands/query.cpp
)
target_link_libraries(flowmetrics_commands PUBLIC flowmetrics_service PRIVATE flowmetrics_warnings)
target_compile_definitions(flowmetrics_commands PRIVATE FLOWMETRICS_VERSION="${PROJECT_VERSION}")
include(${CMAKE_CURRENT_SOURCE_DIR}/server/console.cmake)
