"""The client benchmarks' external process: it appends a pre-written message file to the Pipes
messages file its bootstrap params name, and does nothing else.

    python -I -S bench/external_copy.py SOURCE

Standard library only, run isolated and without ``site``: it starts in about 15 ms here (a child
importing pipes_fast to decode its params took about 30), so a client benchmark measures the
orchestration side. The copy is ``sendfile`` in one go, as ``streams.append_file`` does.
"""

import base64
import json
import os
import sys
import zlib

params = json.loads(zlib.decompress(base64.b64decode(os.environ["DAGSTER_PIPES_MESSAGES"])))
source = os.open(sys.argv[1], os.O_RDONLY)
target = os.open(params["path"], os.O_WRONLY)  # not O_APPEND: sendfile refuses it
os.lseek(target, 0, os.SEEK_END)
size, copied = os.fstat(source).st_size, 0
while copied < size and (sent := os.sendfile(target, source, copied, size - copied)):
    copied += sent
