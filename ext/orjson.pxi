# orjson, imported with the first line parsed rather than when the module loads: importing it takes
# about 20 ms (it loads dataclasses, inspect, uuid, ...), which a session around a process that sends
# nothing (`pipes-fast run -- true`) need not pay.
# Pure implementation: src/pipes_fast/_hotpath/pure/deferred.py

cdef object _orjson_loads_function = None


cdef inline object _orjson_loads():
    global _orjson_loads_function
    if _orjson_loads_function is None:
        import orjson

        _orjson_loads_function = orjson.loads
    return _orjson_loads_function
