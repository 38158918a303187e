# The web console (web/): bundled with npm and esbuild by scripts/build-web.sh at build time,
# embedded into the binary as a generated source, served by serve and by `flowmetrics console`.
find_program(FLOWMETRICS_NPM npm)
if(NOT FLOWMETRICS_NPM)
  message(FATAL_ERROR "npm is missing (the web console is built with it): run scripts/install-deps.sh")
endif()
set(_console_web ${PROJECT_SOURCE_DIR}/web)
file(GLOB _console_web_sources CONFIGURE_DEPENDS ${_console_web}/src/*)
set(_console_assets_cpp ${CMAKE_CURRENT_BINARY_DIR}/console_assets.cpp)
add_custom_command(
  OUTPUT ${_console_assets_cpp}
  COMMAND ${PROJECT_SOURCE_DIR}/scripts/build-web.sh ${_console_assets_cpp}
  DEPENDS ${_console_web_sources} ${_console_web}/index.html ${_console_web}/favicon.svg ${_console_web}/embed.mjs
          ${_console_web}/package.json ${_console_web}/package-lock.json ${PROJECT_SOURCE_DIR}/scripts/build-web.sh
  COMMENT "Bundling the web console (npm ci, esbuild) and embedding it"
  VERBATIM)
add_library(flowmetrics_console_assets STATIC ${_console_assets_cpp})
target_include_directories(flowmetrics_console_assets PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})

target_sources(flowmetrics_service PRIVATE server/console_routes.cpp)
target_link_libraries(flowmetrics_service PUBLIC flowmetrics_console_assets)
target_sources(flowmetrics_commands PRIVATE commands/console.cpp)
