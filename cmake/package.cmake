# The Debian package (scripts/package.sh; README, "Install as a service"): the collector, its
# configuration under /etc, the systemd unit, flowmetrics(1), the bash completion and the docs.
# Every rule here belongs to the install component "deb" and is EXCLUDE_FROM_ALL, so a plain
# `cmake --install` (the library, its headers and CMake package) never writes to /etc or /lib.

set(_pkg ${CMAKE_CURRENT_BINARY_DIR}/packaging)
set(_src ${PROJECT_SOURCE_DIR}/packaging)

# /etc/flowmetrics/flowmetrics.toml: the example configuration with every default as shipped,
# except the spool, which goes under the service's state directory.
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
  ${PROJECT_SOURCE_DIR}/config/flowmetrics.example.toml ${_src}/changelog)
file(READ ${PROJECT_SOURCE_DIR}/config/flowmetrics.example.toml _config)
set(_spool_line "directory = \"flowmetrics-spool\"")
string(FIND "${_config}" "${_spool_line}" _at)
if(_at EQUAL -1)
  message(FATAL_ERROR "package.cmake: config/flowmetrics.example.toml has no line '${_spool_line}' to point at /var/lib/flowmetrics")
endif()
string(REPLACE "${_spool_line}"
  "# The package keeps the spool in the service's state directory.\ndirectory = \"/var/lib/flowmetrics/spool\""
  _config "${_config}")
file(WRITE ${_pkg}/flowmetrics.toml "${_config}")

# lintian wants the changelog's newest entry to be the packaged version.
file(STRINGS ${_src}/changelog _first LIMIT_COUNT 1)
if(NOT _first MATCHES "^flowmetrics \\(${PROJECT_VERSION}\\) ")
  message(FATAL_ERROR "package.cmake: packaging/changelog must start with an entry for ${PROJECT_VERSION}")
endif()

# The manual page and the completion come from the binary's own command line definition.
add_custom_command(OUTPUT ${_pkg}/flowmetrics.1.gz ${_pkg}/flowmetrics.bash-completion
  COMMAND $<TARGET_FILE:flowmetrics_cli> help-man | gzip -9n > ${_pkg}/flowmetrics.1.gz
  COMMAND $<TARGET_FILE:flowmetrics_cli> help-completion > ${_pkg}/flowmetrics.bash-completion
  DEPENDS flowmetrics_cli
  COMMENT "flowmetrics(1) and bash completion from the command line definition"
  VERBATIM)
add_custom_command(OUTPUT ${_pkg}/changelog.gz ${_pkg}/README.md.gz
  COMMAND gzip -9n < ${_src}/changelog > ${_pkg}/changelog.gz
  COMMAND gzip -9n < ${PROJECT_SOURCE_DIR}/README.md > ${_pkg}/README.md.gz
  DEPENDS ${_src}/changelog ${PROJECT_SOURCE_DIR}/README.md
  VERBATIM)
add_custom_target(flowmetrics_package_files ALL DEPENDS
  ${_pkg}/flowmetrics.1.gz ${_pkg}/flowmetrics.bash-completion ${_pkg}/changelog.gz ${_pkg}/README.md.gz)

set(_deb COMPONENT deb EXCLUDE_FROM_ALL)
install(TARGETS flowmetrics_cli RUNTIME DESTINATION bin ${_deb})
install(FILES ${_pkg}/flowmetrics.toml DESTINATION /etc/flowmetrics ${_deb})
install(FILES ${_src}/default DESTINATION /etc/default RENAME flowmetrics ${_deb})
install(FILES ${_src}/flowmetrics.service DESTINATION /lib/systemd/system ${_deb})
install(FILES ${_pkg}/flowmetrics.1.gz DESTINATION share/man/man1 ${_deb})
install(FILES ${_pkg}/flowmetrics.bash-completion DESTINATION share/bash-completion/completions
  RENAME flowmetrics ${_deb})
install(FILES ${_pkg}/README.md.gz ${_pkg}/changelog.gz ${_src}/copyright ${PROJECT_SOURCE_DIR}/LICENSE
  DESTINATION share/doc/flowmetrics ${_deb})

# CPack: one package from the "deb" component alone.
set(CPACK_GENERATOR DEB)
set(CPACK_INSTALL_CMAKE_PROJECTS "${CMAKE_BINARY_DIR};flowmetrics;deb;/")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_NAME flowmetrics)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "flowmetrics maintainers <maintainers@users.noreply.b-seed-0310236f.example>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "network five-tuple metrics collector writing to MongoDB")
set(CPACK_PACKAGE_DESCRIPTION
  "flowmetrics receives network flow records as JSON lines over TCP, JSON over\n\
HTTP, and NetFlow v5, NetFlow v9 or IPFIX over UDP, appends each to a\n\
write-ahead spool, aggregates them by five-tuple into time buckets and writes\n\
them to MongoDB or FerretDB.\n\
.\n\
This package runs the collector as a hardened systemd service with its\n\
configuration in /etc/flowmetrics and its spool in /var/lib/flowmetrics.")
# CPackDeb strips /usr/bin/flowmetrics itself and moves the symbols to
# flowmetrics-dbgsym_<version>_<arch>.ddeb (/usr/lib/debug/.build-id/); CPACK_STRIP_FILES would
# strip them before it could.
set(CPACK_STRIP_FILES OFF)
set(CPACK_DEBIAN_DEBUGINFO_PACKAGE ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# adduser: postinst makes the system user (postrm purge removes it when adduser is still there).
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${_src}/debian/postinst ${_src}/debian/prerm ${_src}/debian/postrm ${_src}/debian/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
