/*
 * The layer decoder: gzip, zstd or nothing, chosen by the blob's magic.
 *
 * gzip's wrapper (the header, the CRC-32 and length trailer, members back
 * to back, what may follow the last member) is read here, byte by byte, the
 * same for both deflate engines: ISA-L's inflate when the build found it
 * (-Disal, about twice zlib's speed), zlib's otherwise. Only the raw deflate
 * data goes to the engine, so that both builds accept and refuse the same
 * blobs with the same messages; the engines' own messages differ, hence one
 * message for any corrupt deflate data.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "store.h"

#include <string.h>
#include <zstd.h>

#if SC_HAVE_ISAL
#include <isa-l/crc.h>
#include <isa-l/igzip_lib.h>
#else
#include <zlib.h>
#endif

typedef enum { COMP_NONE, COMP_GZIP, COMP_ZSTD } Compression;

/* Where the gzip reader is: in a member's header, its deflate data, its
 * trailer, just after a member (another may follow), or past the stream. */
typedef enum { GZ_HEADER, GZ_BODY, GZ_TRAILER, GZ_MEMBER_END, GZ_DONE } GzState;

/* The parts of a gzip header (RFC 1952 2.3), in their order. */
typedef enum { H_FIXED, H_XLEN, H_EXTRA, H_NAME, H_COMMENT, H_HCRC, H_DONE } HeaderPart;

#define GZ_FTEXT_HCRC 0x02
#define GZ_FEXTRA 0x04
#define GZ_FNAME 0x08
#define GZ_FCOMMENT 0x10
#define GZ_FRESERVED 0xe0

struct _ScDecoder {
  Compression comp;
  char *digest;     /* for messages */
  gboolean pending; /* the last call filled the output: the engine may hold more */
  /* gzip */
  GzState gz;
  HeaderPart part;
  guint n;         /* bytes read of the current header part or trailer */
  guchar flags;    /* the header's FLG */
  guint32 count;   /* FEXTRA's length left; the trailer's bytes */
  guint32 hcrc;    /* CRC-32 of the header so far */
  guint32 crc;     /* CRC-32 of this member's data */
  guint32 isize;   /* its length, modulo 2^32 */
  guint32 stored;  /* the trailer's CRC-32 */
  guchar carry[8]; /* bytes after the deflate data the engine read ahead */
  guint carry_pos, carry_len;
#if SC_HAVE_ISAL
  struct inflate_state isal;
#else
  z_stream z;
  gboolean z_ready;
#endif
  /* zstd */
  ZSTD_DStream *zs;
  size_t zs_last; /* 0: a frame is complete */
};

const char *
sc_decoder_gzip_engine(void)
{
#if SC_HAVE_ISAL
  return "isa-l";
#else
  return "zlib";
#endif
}

static guint32
gz_crc(guint32 crc, const guchar *buf, gsize len)
{
#if SC_HAVE_ISAL
  return crc32_gzip_refl(crc, buf, len);
#else
  /* zlib's crc32() takes a uInt length: feed it in pieces */
  while (len > 0) {
    uInt n = len > G_MAXUINT32 ? G_MAXUINT32 : (uInt)len;
    crc = crc32(crc, buf, n);
    buf += n;
    len -= n;
  }
  return crc;
#endif
}

/* The engine, ready for a new member's deflate data. */
static gboolean
engine_reset(ScDecoder *d, GError **error)
{
#if SC_HAVE_ISAL
  isal_inflate_reset(&d->isal);
  d->isal.crc_flag = ISAL_DEFLATE; /* the wrapper is read here */
#else
  if (!d->z_ready) {
    memset(&d->z, 0, sizeof(d->z));
    if (inflateInit2(&d->z, -15) != Z_OK) {
      g_set_error(error, SC_ERROR, SC_EIO, "layer %s: cannot start gzip", d->digest);
      return FALSE;
    }
    d->z_ready = TRUE;
  } else
    inflateReset(&d->z);
#endif
  return TRUE;
}

/* Inflates raw deflate data from @in into @out, advancing both. Returns 1
 * at the end of the deflate stream, 0 when it wants more, -1 when the data
 * is corrupt. */
static int
engine_inflate(ScDecoder *d, const guchar **in, gsize *in_len, guchar **out, gsize *out_len)
{
#if SC_HAVE_ISAL
  int r;
  d->isal.next_in = (guint8 *)*in;
  d->isal.avail_in = (guint32)*in_len;
  d->isal.next_out = *out;
  d->isal.avail_out = (guint32)*out_len;
  r = isal_inflate(&d->isal);
  *in = d->isal.next_in;
  *in_len = d->isal.avail_in;
  *out = d->isal.next_out;
  *out_len = d->isal.avail_out;
  if (r < 0)
    return -1;
  if (d->isal.block_state != ISAL_BLOCK_FINISH)
    return 0;
  /* ISA-L reads ahead into a 64-bit buffer and keeps what follows the
   * deflate data there: its whole bytes (past the last byte's padding bits)
   * are the trailer's first ones, read by the wrapper before the input.
   * At most 7 bytes: always within the 8 of the trailer. */
  {
    guint bits = d->isal.read_in_length;
    guint64 ahead = d->isal.read_in >> (bits % 8);
    d->carry_pos = 0;
    d->carry_len = bits / 8;
    for (guint i = 0; i < d->carry_len; i++)
      d->carry[i] = (ahead >> (8 * i)) & 0xff;
    d->isal.read_in = 0;
    d->isal.read_in_length = 0;
  }
  return 1;
#else
  int r;
  d->z.next_in = (Bytef *)*in;
  d->z.avail_in = (uInt)*in_len;
  d->z.next_out = *out;
  d->z.avail_out = (uInt)*out_len;
  r = inflate(&d->z, Z_NO_FLUSH);
  *in = d->z.next_in;
  *in_len = d->z.avail_in;
  *out = d->z.next_out;
  *out_len = d->z.avail_out;
  if (r == Z_STREAM_END)
    return 1;
  return (r == Z_OK || r == Z_BUF_ERROR) ? 0 : -1;
#endif
}

static gboolean
gz_corrupt(ScDecoder *d, const char *why, GError **error)
{
  g_set_error(error, SC_ERROR, SC_EDIGEST, "layer %s: corrupt gzip data: %s", d->digest, why);
  return FALSE;
}

/* The part of the header after @d->part that this header has. */
static void
gz_next_part(ScDecoder *d)
{
  d->n = 0;
  for (;;) {
    d->part++;
    if (d->part == H_XLEN && (d->flags & GZ_FEXTRA))
      return;
    if (d->part == H_EXTRA && (d->flags & GZ_FEXTRA) && d->count > 0)
      return;
    if ((d->part == H_NAME && (d->flags & GZ_FNAME)) ||
        (d->part == H_COMMENT && (d->flags & GZ_FCOMMENT)) ||
        (d->part == H_HCRC && (d->flags & GZ_FTEXT_HCRC)) || d->part == H_DONE)
      return;
  }
}

/* One byte of a gzip header; the messages are zlib's. */
static gboolean
gz_header_byte(ScDecoder *d, guchar c, GError **error)
{
  if (d->part != H_HCRC)
    d->hcrc = gz_crc(d->hcrc, &c, 1);
  switch (d->part) {
  case H_FIXED:
    if ((d->n == 0 && c != 0x1f) || (d->n == 1 && c != 0x8b))
      return gz_corrupt(d, "incorrect header check", error);
    if (d->n == 2 && c != 8)
      return gz_corrupt(d, "unknown compression method", error);
    if (d->n == 3) {
      if (c & GZ_FRESERVED)
        return gz_corrupt(d, "unknown header flags set", error);
      d->flags = c;
    }
    if (++d->n == 10)
      gz_next_part(d);
    break;
  case H_XLEN:
    d->count |= (guint32)c << (8 * d->n);
    if (++d->n == 2)
      gz_next_part(d);
    break;
  case H_EXTRA:
    if (--d->count == 0)
      gz_next_part(d);
    break;
  case H_NAME:
  case H_COMMENT:
    if (c == 0)
      gz_next_part(d);
    break;
  case H_HCRC:
    d->stored |= (guint32)c << (8 * d->n);
    if (++d->n == 2) {
      if (d->stored != (d->hcrc & 0xffff))
        return gz_corrupt(d, "header crc mismatch", error);
      gz_next_part(d);
    }
    break;
  case H_DONE:
    g_assert_not_reached();
  }
  if (d->part == H_DONE) {
    d->gz = GZ_BODY;
    d->crc = d->isize = 0;
    return engine_reset(d, error);
  }
  return TRUE;
}

/* One byte of a member's trailer: its CRC-32, then its length. */
static gboolean
gz_trailer_byte(ScDecoder *d, guchar c, GError **error)
{
  if (d->n < 4)
    d->stored |= (guint32)c << (8 * d->n);
  else
    d->count |= (guint32)c << (8 * (d->n - 4));
  if (++d->n < 8)
    return TRUE;
  if (d->stored != d->crc)
    return gz_corrupt(d, "incorrect data check", error);
  if (d->count != d->isize)
    return gz_corrupt(d, "incorrect length check", error);
  d->gz = GZ_MEMBER_END;
  return TRUE;
}

static void
gz_start_member(ScDecoder *d)
{
  d->gz = GZ_HEADER;
  d->part = H_FIXED;
  d->n = 0;
  d->count = d->stored = 0;
  d->hcrc = 0;
}

/* A byte outside the deflate data: the header, the trailer, or what
 * follows a member: another member (it starts with 0x1f) or bytes that
 * are not gzip, ignored as zlib's gzip reader ignores them (they are part
 * of the blob, hashed by the caller). */
static gboolean
gz_wrapper_byte(ScDecoder *d, guchar c, GError **error)
{
  switch (d->gz) {
  case GZ_MEMBER_END:
    if (c != 0x1f) {
      d->gz = GZ_DONE;
      return TRUE;
    }
    gz_start_member(d);
    return gz_header_byte(d, c, error);
  case GZ_HEADER:
    return gz_header_byte(d, c, error);
  case GZ_TRAILER:
    return gz_trailer_byte(d, c, error);
  default:
    return TRUE;
  }
}

/* Inflates what the engine can from @in into the rest of @out. */
static gboolean
gz_body(ScDecoder *d,
        const guchar *in,
        gsize in_len,
        gsize *in_pos,
        guchar *out,
        gsize out_size,
        gsize *o,
        gboolean *stalled,
        GError **error)
{
  const guchar *ip = in + *in_pos;
  gsize il = in_len - *in_pos, ol = out_size - *o, n;
  guchar *op = out + *o;
  int r = engine_inflate(d, &ip, &il, &op, &ol);

  n = (out_size - *o) - ol;
  d->crc = gz_crc(d->crc, out + *o, n);
  d->isize += (guint32)n;
  *o += n;
  *in_pos = ip - in;
  if (r < 0)
    return gz_corrupt(d, "invalid deflate data", error);
  if (r == 1) {
    d->gz = GZ_TRAILER;
    d->n = 0;
    d->count = d->stored = 0;
  }
  *stalled = (r == 0 && n == 0);
  return TRUE;
}

static gboolean
gz_run(ScDecoder *d,
       const guchar *in,
       gsize in_len,
       gsize *in_pos,
       guchar *out,
       gsize out_size,
       gsize *produced,
       GError **error)
{
  gsize o = 0;

  while (o < out_size) {
    if (d->gz == GZ_BODY) {
      gboolean stalled = FALSE;
      if (!gz_body(d, in, in_len, in_pos, out, out_size, &o, &stalled, error))
        return FALSE;
      if (stalled && *in_pos < in_len) /* no engine stops with input left */
        return gz_corrupt(d, "invalid deflate data", error);
      if (stalled)
        break;
    } else if (d->gz == GZ_DONE) {
      *in_pos = in_len;
      d->carry_pos = d->carry_len;
      break;
    } else if (d->carry_pos < d->carry_len) {
      if (!gz_wrapper_byte(d, d->carry[d->carry_pos++], error))
        return FALSE;
    } else if (*in_pos == in_len)
      break;
    else if (!gz_wrapper_byte(d, in[(*in_pos)++], error))
      return FALSE;
  }
  *produced = o;
  d->pending = (o == out_size);
  if (in_len == 0 && o == 0 && d->gz != GZ_MEMBER_END && d->gz != GZ_DONE) {
    g_set_error(error,
                SC_ERROR,
                SC_EDIGEST,
                "layer %s: the compressed stream ends before its end marker",
                d->digest);
    return FALSE;
  }
  return TRUE;
}

static gboolean
zstd_run(ScDecoder *d,
         const guchar *in,
         gsize in_len,
         gsize *in_pos,
         guchar *out,
         gsize out_size,
         gsize *produced,
         GError **error)
{
  ZSTD_inBuffer zin = { in, in_len, *in_pos };
  ZSTD_outBuffer zout = { out, out_size, 0 };
  size_t r = ZSTD_decompressStream(d->zs, &zout, &zin);
  gboolean moved = zin.pos > *in_pos || zout.pos > 0;

  if (ZSTD_isError(r)) {
    g_set_error(error,
                SC_ERROR,
                SC_EDIGEST,
                "layer %s: corrupt zstd data: %s",
                d->digest,
                ZSTD_getErrorName(r));
    return FALSE;
  }
  *in_pos = zin.pos;
  *produced = zout.pos;
  d->pending = (zout.pos == out_size);
  /* 0: a frame is complete; more frames may follow until the input ends.
   * A call that moved nothing (at the end) would announce the next frame's
   * header: it says nothing of the last one. */
  if (moved)
    d->zs_last = r;
  if (in_len == 0 && zout.pos == 0 && d->zs_last != 0) {
    g_set_error(error,
                SC_ERROR,
                SC_EDIGEST,
                "layer %s: the compressed stream ends before its end marker",
                d->digest);
    return FALSE;
  }
  return TRUE;
}

ScDecoder *
sc_decoder_new(const guchar *head, gsize len, const char *digest, GError **error)
{
  g_autoptr(ScDecoder) d = g_new0(ScDecoder, 1);

  d->digest = g_strdup(digest);
  d->zs_last = 1;
  if (len >= 2 && head[0] == 0x1f && head[1] == 0x8b) {
    d->comp = COMP_GZIP;
#if SC_HAVE_ISAL
    isal_inflate_init(&d->isal);
#endif
    gz_start_member(d);
  } else if (len >= 4 && (memcmp(head, "\x28\xb5\x2f\xfd", 4) == 0 ||
                          /* a skippable frame (0x184D2A5?) may come first */
                          ((head[0] & 0xf0) == 0x50 && memcmp(head + 1, "\x2a\x4d\x18", 3) == 0))) {
    d->comp = COMP_ZSTD;
    d->zs = ZSTD_createDStream();
    if (d->zs == NULL || ZSTD_isError(ZSTD_initDStream(d->zs))) {
      g_set_error(error, SC_ERROR, SC_EIO, "layer %s: cannot start zstd", digest);
      return NULL;
    }
  } else
    d->comp = COMP_NONE;
  return g_steal_pointer(&d);
}

gboolean
sc_decoder_run(ScDecoder *d,
               const guchar *in,
               gsize in_len,
               gsize *in_pos,
               guchar *out,
               gsize out_size,
               gsize *produced,
               GError **error)
{
  gsize n;

  *produced = 0;
  switch (d->comp) {
  case COMP_GZIP:
    return gz_run(d, in, in_len, in_pos, out, out_size, produced, error);
  case COMP_ZSTD:
    return zstd_run(d, in, in_len, in_pos, out, out_size, produced, error);
  case COMP_NONE:
    n = MIN(in_len - *in_pos, out_size);
    memcpy(out, in + *in_pos, n);
    *in_pos += n;
    *produced = n;
    d->pending = FALSE;
    return TRUE;
  }
  g_assert_not_reached();
}

gboolean
sc_decoder_pending(const ScDecoder *d)
{
  return d->pending;
}

void
sc_decoder_free(ScDecoder *d)
{
  if (d == NULL)
    return;
#if !SC_HAVE_ISAL
  if (d->z_ready)
    inflateEnd(&d->z);
#endif
  if (d->zs)
    ZSTD_freeDStream(d->zs);
  g_free(d->digest);
  g_free(d);
}
