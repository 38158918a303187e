include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS flowmetrics flowmetrics_warnings EXPORT flowmetricsTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY include/flowmetrics DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT flowmetricsTargets NAMESPACE flowmetrics::
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/flowmetrics)
configure_package_config_file(cmake/flowmetricsConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/flowmetricsConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/flowmetrics)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/flowmetricsConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/flowmetricsConfig.cmake
  ${CMAKE_CURRENT_BINARY_DIR}/flowmetricsConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/flowmetrics)
