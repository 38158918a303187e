# The collector: configuration, inputs, the aggregation pipeline and the ops server behind
# the `flowmetrics` binary. Built on the core library; none of it is public API.
find_package(tomlplusplus REQUIRED)
find_package(simdjson REQUIRED)
find_package(spdlog REQUIRED)
find_package(prometheus-cpp REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)

add_library(flowmetrics_collector STATIC
  config/collector_config.cpp
  ingest/json_record_parser.cpp
)
target_include_directories(flowmetrics_collector PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(flowmetrics_collector
  PUBLIC flowmetrics::flowmetrics tomlplusplus::tomlplusplus simdjson::simdjson spdlog::spdlog
         prometheus-cpp::core PkgConfig::HTTPLIB
  PRIVATE flowmetrics_warnings)
