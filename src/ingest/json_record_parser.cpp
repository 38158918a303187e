// Implemented by the JSON parser work (see json_record_parser.hpp).
