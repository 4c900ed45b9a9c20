"""A tar writer for crafted layers: raw pax records (bytes, in any order,
repeated), any mode bits, GNU longnames and GNU sparse files.

Python's tarfile cannot write these (it refuses NUL and most raw bytes in
pax values, masks modes and has no sparse writer), so the bytes are laid out
here by hand, per POSIX ustar/pax and the GNU tar format."""
BLOCK = 512


def _pad(data):
    return data + b"\0" * (-len(data) % BLOCK)


def _octal(value, width):
    return b"%0*o\0" % (width - 1, value)


def header(name, typeflag=b"0", size=0, mode=0o644, linkname=b"", uid=0, gid=0,
           magic=b"ustar\x0000", extra=b""):
    """One 512-byte header block; @extra fills the bytes after the ustar
    prefix (GNU sparse maps live there in old-GNU headers)."""
    name = name if isinstance(name, bytes) else name.encode()
    linkname = linkname if isinstance(linkname, bytes) else linkname.encode()
    h = bytearray(BLOCK)
    h[0:100] = name[:100].ljust(100, b"\0")
    h[100:108] = _octal(mode, 8)
    h[108:116] = _octal(uid, 8)
    h[116:124] = _octal(gid, 8)
    h[124:136] = _octal(size, 12)
    h[136:148] = _octal(0, 12)
    h[148:156] = b" " * 8
    h[156:157] = typeflag
    h[157:257] = linkname[:100].ljust(100, b"\0")
    h[257:265] = magic
    if extra:
        h[345:345 + len(extra)] = extra
    csum = sum(h)
    h[148:156] = b"%06o\0 " % csum
    return bytes(h)


def pax_records(records):
    """records: [(key bytes, value bytes)] -> the body of a pax header."""
    out = b""
    for key, value in records:
        key = key if isinstance(key, bytes) else key.encode()
        value = value if isinstance(value, bytes) else value.encode()
        body = b" " + key + b"=" + value + b"\n"
        n = len(body) + 1
        while len(b"%d" % n) + len(body) != n:
            n += 1
        out += b"%d" % n + body
    return out


def member(name, data=b"", typeflag=b"0", pax=(), longname=None, **kw):
    """One entry: an optional pax 'x' header with @pax records, an optional
    GNU 'L' longname, then the header and data."""
    out = b""
    if pax:
        body = pax_records(pax)
        out += header("PaxHeader", b"x", len(body)) + _pad(body)
    if longname is not None:
        ln = (longname if isinstance(longname, bytes) else longname.encode()) + b"\0"
        out += header("././@LongLink", b"L", len(ln), magic=b"ustar  \0") + _pad(ln)
    size = len(data) if typeflag in (b"0", b"\0") else 0
    out += header(name, typeflag, kw.pop("size", size), **kw) + _pad(data)
    return out


def end(parts):
    return b"".join(parts) + b"\0" * (BLOCK * 2)


def gnu_sparse(name, real_size, chunks, mode=0o644):
    """An old-GNU sparse member ('S'): @chunks is [(offset, bytes)], at most 4
    (they fit the header's own map); the rest of @real_size is holes."""
    sparse = b""
    for off, data in chunks:
        sparse += _octal(off, 12) + _octal(len(data), 12)
    sparse = sparse.ljust(4 * 24, b"\0")
    stored = b"".join(d for _, d in chunks)
    # old-GNU layout: atime, ctime (12 each), offset (12), longnames (4),
    # unused (1), then the map (4 x 24), isextended (1), realsize (12)
    extra = (_octal(0, 12) + _octal(0, 12) + _octal(0, 12) + b"\0" * 4 + b"\0"
             + sparse + b"\0" + _octal(real_size, 12))
    h = bytearray(header(name, b"S", len(stored), mode=mode, magic=b"ustar  \0"))
    h[345:345 + len(extra)] = extra
    h[148:156] = b" " * 8
    h[148:156] = b"%06o\0 " % sum(h)
    return bytes(h) + _pad(stored)
