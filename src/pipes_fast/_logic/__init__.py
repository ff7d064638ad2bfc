"""The protocol's logic with no I/O: the bootstrap codec, the wire's names, argument checks, flow
control, huge-line decoding and the S3 key layout. Both hot-path implementations and the external
side import from here; nothing here reads or writes a file, a pipe or a socket."""
