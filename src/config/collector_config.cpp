// Implemented by the config work (see collector_config.hpp).
