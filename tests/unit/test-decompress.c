/*
 * Unit tests of the layer decoder (lib/store/decompress.c) where its two
 * gzip engines, ISA-L and zlib, could differ: members back to back, a
 * member cut short, a wrong CRC-32 or length, bytes after the last member,
 * a header with every optional part, a bomb, an empty stream. Each case
 * asserts one exact result or message: the same program runs in the build
 * with ISA-L and in the one with -Disal=disabled (tests/meson.build), so
 * both give the same.
 *
 * Each blob is decoded many ways (input fed whole, in odd pieces, a byte
 * at a time; output in one buffer or a few bytes at a time) and through
 * sc_layer_import() (the pipe of layer.c, its digests and limits).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "unit-layer-helpers.h"

static char *scratch;
static OstreeRepo *repo;

static void
setup(void)
{
  g_autofree char *path = NULL;

  scratch = tc_mkdtemp();
  path = g_build_filename(scratch, "repo", NULL);
  repo = tl_repo_new(path);
}

static void
teardown(void)
{
  g_clear_object(&repo);
  sc_rm_rf(scratch);
  g_free(scratch);
}

#define FHCRC 0x02
#define FEXTRA 0x04
#define FNAME 0x08
#define FCOMMENT 0x10

static void
put32(GByteArray *b, guint32 v)
{
  guint8 le[4] = { v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >> 24 };
  g_byte_array_append(b, le, 4);
}

/* One gzip member of @data, written here byte by byte (header with @flags'
 * optional parts, raw deflate by zlib, trailer), appended to @b. */
static void
member_with(GByteArray *b, const char *data, gsize len, guint8 flags, int level, int strategy)
{
  guint8 fixed[10] = { 0x1f, 0x8b, 8, flags, 0, 0, 0, 0, 0, 3 };
  guint start = b->len;
  z_stream z = { 0 };
  gsize cap = 2 * len + 64;
  g_autofree guchar *out = g_malloc(cap);

  g_byte_array_append(b, fixed, 10);
  if (flags & FEXTRA) {
    guint8 extra[] = { 6, 0, 'S', 'C', 2, 0, 'h', 'i' };
    g_byte_array_append(b, extra, sizeof(extra));
  }
  if (flags & FNAME)
    g_byte_array_append(b, (const guint8 *)"layer.tar", 10);
  if (flags & FCOMMENT)
    g_byte_array_append(b, (const guint8 *)"a comment", 10);
  if (flags & FHCRC) {
    guint32 hcrc = crc32(0, b->data + start, b->len - start);
    guint8 h[2] = { hcrc & 0xff, (hcrc >> 8) & 0xff };
    g_byte_array_append(b, h, 2);
  }
  ck_assert_int_eq(deflateInit2(&z, level, Z_DEFLATED, -15, 8, strategy), Z_OK);
  z.next_in = (guchar *)data;
  z.avail_in = len;
  z.next_out = out;
  z.avail_out = cap;
  ck_assert_int_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
  g_byte_array_append(b, out, z.total_out);
  deflateEnd(&z);
  put32(b, crc32(0, (const guchar *)data, len));
  put32(b, (guint32)len);
}

static void
member(GByteArray *b, const char *data, gsize len, guint8 flags)
{
  member_with(b, data, len, flags, 6, Z_DEFAULT_STRATEGY);
}

/* Decodes @blob feeding @in_step bytes at a time into an output buffer of
 * @out_size, as layer.c's pipe does (a call with no input at the end);
 * returns the output, or NULL and the message in *@message. */
static GBytes *
decode(GBytes *blob, gsize in_step, gsize out_size, char **message)
{
  gsize len, off = 0;
  const guchar *data = g_bytes_get_data(blob, &len);
  g_autoptr(GByteArray) out = g_byte_array_new();
  g_autofree guchar *buf = g_malloc(out_size);
  g_autoptr(ScDecoder) d = NULL;
  g_autoptr(GError) error = NULL;
  gsize in_len = 0, in_pos = 0, produced = 0;
  guint spins = 0;

  /* the pipe detects the format in its first buffer, BUF_SIZE bytes */
  d = sc_decoder_new(data, len, "sha256:test", &error);
  ck_assert_msg(d != NULL, "%s", error ? error->message : "");
  for (;;) {
    if (in_pos == in_len && !sc_decoder_pending(d)) {
      in_len = MIN(in_step, len - off);
      in_pos = 0;
      data = (const guchar *)g_bytes_get_data(blob, NULL) + off;
      off += in_len;
    }
    if (!sc_decoder_run(d, data, in_len, &in_pos, buf, out_size, &produced, &error)) {
      *message = g_strdup(error->message);
      return NULL;
    }
    g_byte_array_append(out, buf, produced);
    if (produced == 0 && in_len == 0)
      break;
    if (++spins > 10000000) /* not ck_assert: check writes to a pipe on each */
      ck_abort_msg("the decoder makes no progress");
  }
  *message = NULL;
  return g_byte_array_free_to_bytes(g_steal_pointer(&out));
}

/* @blob decodes to @want (NULL: fails with "layer sha256:test: " @error)
 * whatever the input and output pieces. */
static void
assert_decodes(GBytes *blob, const char *want, gsize want_len, const char *error)
{
  static const gsize in_steps[] = { 1, 3, 7, 4096, 256 * 1024 };
  static const gsize out_sizes[] = { 1, 5, 64 * 1024, 256 * 1024 };
  g_autofree char *want_msg = error ? g_strconcat("layer sha256:test: ", error, NULL) : NULL;
  gboolean big = g_bytes_get_size(blob) > 16 * 1024;

  for (guint i = 0; i < G_N_ELEMENTS(in_steps); i++)
    for (guint j = 0; j < G_N_ELEMENTS(out_sizes); j++) {
      g_autofree char *message = NULL;
      g_autoptr(GBytes) got = NULL;
      /* a large blob a byte at a time, in or out, once each: the
       * sanitizer build would take minutes */
      if (big && (in_steps[i] < 7 || out_sizes[j] < 64 * 1024) &&
          !(in_steps[i] == 1 && out_sizes[j] == 256 * 1024) &&
          !(in_steps[i] == 256 * 1024 && out_sizes[j] == 1))
        continue;
      got = decode(blob, in_steps[i], out_sizes[j], &message);
      if (want_msg) {
        ck_assert_msg(
          got == NULL, "in %zu out %zu: decoded, not \"%s\"", in_steps[i], out_sizes[j], error);
        ck_assert_str_eq(message, want_msg);
      } else {
        ck_assert_msg(got != NULL, "in %zu out %zu: %s", in_steps[i], out_sizes[j], message);
        ck_assert_uint_eq(g_bytes_get_size(got), want_len);
        ck_assert(want_len == 0 || memcmp(g_bytes_get_data(got, NULL), want, want_len) == 0);
      }
    }
}

static GBytes *
to_bytes(GByteArray *b)
{
  return g_byte_array_free_to_bytes(b);
}

/* A text long enough for several deflate blocks and a few of our buffers. */
static char *
long_text(gsize *len)
{
  GString *s = g_string_new("");
  GRand *rand = g_rand_new_with_seed(7); /* the same text (and blobs) every run */
  for (guint i = 0; s->len < 300 * 1024; i++)
    g_string_append_printf(s, "line %u: %u\n", i, g_rand_int_range(rand, 0, 1000));
  g_rand_free(rand);
  *len = s->len;
  return g_string_free(s, FALSE);
}

START_TEST(test_engine)
{
#if SC_HAVE_ISAL
  ck_assert_str_eq(sc_decoder_gzip_engine(), "isa-l");
#else
  ck_assert_str_eq(sc_decoder_gzip_engine(), "zlib");
#endif
}
END_TEST

START_TEST(test_members)
{
  gsize n;
  g_autofree char *text = long_text(&n);
  g_autofree char *both = g_strconcat("first\n", text, NULL);
  GByteArray *b = g_byte_array_new();
  g_autoptr(GBytes) blob = NULL;

  /* three members, one of them empty, one with every optional header part */
  member(b, "first\n", 6, 0);
  member(b, "", 0, 0);
  member(b, text, n, FEXTRA | FNAME | FCOMMENT | FHCRC);
  blob = to_bytes(b);
  assert_decodes(blob, both, n + 6, NULL);
  /* stored blocks, fixed Huffman codes: other ends of the deflate data */
  {
    g_autoptr(GString) want = g_string_new(NULL);
    g_autoptr(GBytes) kinds = NULL;
    b = g_byte_array_new();
    for (int i = 0; i < 2; i++) {
      member_with(b, text, n, 0, 0, Z_DEFAULT_STRATEGY);
      member_with(b, text, n / 3, 0, 6, Z_FIXED);
      member_with(b, "abc", 3, FNAME, 0, Z_DEFAULT_STRATEGY);
      g_string_append_len(want, text, n);
      g_string_append_len(want, text, n / 3);
      g_string_append(want, "abc");
    }
    kinds = to_bytes(b);
    assert_decodes(kinds, want->str, want->len, NULL);
  }
}
END_TEST

/* zstd: frames back to back, and skippable frames (0x184D2A5?) anywhere,
 * the first place included (the blob's magic is then a skippable one). */
START_TEST(test_zstd_frames)
{
  static const char *const parts[] = { "first frame\n", "second frame\n" };
  static const guchar skip[] = { 0x5e, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 'a', 'b', 'c' };
  g_autoptr(GByteArray) b = g_byte_array_new();
  g_autoptr(GBytes) blob = NULL;
  guchar frame[256];

  g_byte_array_append(b, skip, sizeof skip);
  for (guint i = 0; i < G_N_ELEMENTS(parts); i++) {
    size_t n = ZSTD_compress(frame, sizeof frame, parts[i], strlen(parts[i]), 3);
    ck_assert(!ZSTD_isError(n));
    g_byte_array_append(b, frame, n);
    g_byte_array_append(b, skip, sizeof skip);
  }
  blob = g_bytes_new(b->data, b->len);
  assert_decodes(blob, "first frame\nsecond frame\n", 25, NULL);
}
END_TEST

START_TEST(test_empty)
{
  GByteArray *b = g_byte_array_new();
  g_autoptr(GBytes) blob = NULL;

  member(b, "", 0, 0);
  blob = to_bytes(b);
  assert_decodes(blob, "", 0, NULL);
}
END_TEST

/* A member cut anywhere (header, data, trailer) ends before its marker;
 * so does a blob that is only a magic. */
START_TEST(test_truncated)
{
  gsize n;
  g_autofree char *text = long_text(&n);
  g_autoptr(GByteArray) b = g_byte_array_new();
  const gsize cuts[] = { 2, 5, 11, 30, 4000, 0 /* middle */, 9, 4, 1 /* from the end */ };
  gsize first;

  member(b, "x\n", 2, 0);
  first = b->len;
  member(b, text, n, FNAME | FHCRC);
  for (guint i = 0; i < G_N_ELEMENTS(cuts); i++) {
    gsize keep = i < 5 ? first + cuts[i] : i == 5 ? b->len / 2 : b->len - cuts[i];
    g_autoptr(GBytes) blob = g_bytes_new(b->data, keep);
    assert_decodes(blob, NULL, 0, "the compressed stream ends before its end marker");
  }
}
END_TEST

static GBytes *
text_member_with(gsize n, const char *text, gssize at, guint8 xor, const char *tail, gsize tail_len)
{
  GByteArray *b = g_byte_array_new();
  member(b, text, n, 0);
  if (at < 0)
    at += b->len;
  b->data[at] ^= xor;
  g_byte_array_append(b, (const guint8 *)tail, tail_len);
  return to_bytes(b);
}

START_TEST(test_checks)
{
  gsize n;
  g_autofree char *text = long_text(&n);
  g_autoptr(GBytes) crc = text_member_with(n, text, -8, 0x01, "", 0);
  g_autoptr(GBytes) crc_hi = text_member_with(n, text, -5, 0x80, "", 0);
  g_autoptr(GBytes) size = text_member_with(n, text, -4, 0x01, "", 0);
  g_autoptr(GBytes) size_hi = text_member_with(n, text, -1, 0x40, "", 0);
  /* no gzip magic: not gzip, the bytes are the tar (refused as a tar) */
  g_autoptr(GBytes) magic = text_member_with(n, text, 1, 0x01, "", 0);
  g_autoptr(GBytes) method = text_member_with(n, text, 2, 0x01, "", 0);
  g_autoptr(GBytes) flags = text_member_with(n, text, 3, 0x20, "", 0);
  GByteArray *b = g_byte_array_new();
  g_autoptr(GBytes) hcrc = NULL, block = NULL;

  assert_decodes(crc, NULL, 0, "corrupt gzip data: incorrect data check");
  assert_decodes(crc_hi, NULL, 0, "corrupt gzip data: incorrect data check");
  assert_decodes(size, NULL, 0, "corrupt gzip data: incorrect length check");
  assert_decodes(size_hi, NULL, 0, "corrupt gzip data: incorrect length check");
  assert_decodes(magic, g_bytes_get_data(magic, NULL), g_bytes_get_size(magic), NULL);
  assert_decodes(method, NULL, 0, "corrupt gzip data: unknown compression method");
  assert_decodes(flags, NULL, 0, "corrupt gzip data: unknown header flags set");
  /* deflate block type 3 (reserved): the first data byte's bits 1-2 */
  member(b, text, n, 0);
  b->data[10] |= 0x06;
  block = to_bytes(b);
  assert_decodes(block, NULL, 0, "corrupt gzip data: invalid deflate data");
  b = g_byte_array_new();
  member(b, "data", 4, FNAME | FHCRC);
  b->data[10] ^= 0x01; /* the name's first byte, under the header CRC */
  hcrc = to_bytes(b);
  assert_decodes(hcrc, NULL, 0, "corrupt gzip data: header crc mismatch");
}
END_TEST

/* What follows the last member: ignored unless it starts as a member. */
START_TEST(test_trailing)
{
  static const char zeros[1024] = { 0 };
  gsize n;
  g_autofree char *text = long_text(&n);
  g_autoptr(GBytes) padded = text_member_with(n, text, 0, 0, zeros, sizeof(zeros));
  g_autoptr(GBytes) one_zero = text_member_with(n, text, 0, 0, zeros, 1);
  g_autoptr(GBytes) garbage = text_member_with(n, text, 0, 0, "garbage\x1f\x8b", 9);
  g_autoptr(GBytes) half_magic = text_member_with(n, text, 0, 0, "\x1f", 1);
  g_autoptr(GBytes) bad_magic = text_member_with(n, text, 0, 0, "\x1fgarbage", 8);
  g_autoptr(GBytes) next_cut = text_member_with(n, text, 0, 0, "\x1f\x8b\x08\x00", 4);

  assert_decodes(padded, text, n, NULL);
  assert_decodes(one_zero, text, n, NULL);
  assert_decodes(garbage, text, n, NULL);
  assert_decodes(half_magic, NULL, 0, "the compressed stream ends before its end marker");
  assert_decodes(bad_magic, NULL, 0, "corrupt gzip data: incorrect header check");
  assert_decodes(next_cut, NULL, 0, "the compressed stream ends before its end marker");
}
END_TEST

/* zlib's own gzip reader, as layer.c used it before the decoder: members
 * back to back, the stream ends at a byte other than 1f after a member.
 * Returns the output, or NULL and zlib's message (or "end" when the input
 * ends inside a member). */
static GBytes *
zlib_reference(GBytes *blob, const char **message)
{
  gsize len;
  const guchar *data = g_bytes_get_data(blob, &len);
  g_autoptr(GByteArray) out = g_byte_array_new();
  guchar buf[16384];
  z_stream z = { 0 };
  gsize pos = 0;
  int r = Z_OK;

  ck_assert_int_eq(inflateInit2(&z, 15 + 16), Z_OK);
  for (;;) {
    if (r == Z_STREAM_END) {
      if (pos == len || data[pos] != 0x1f)
        break;
      inflateReset(&z);
    }
    z.next_in = (guchar *)data + pos;
    z.avail_in = len - pos;
    z.next_out = buf;
    z.avail_out = sizeof(buf);
    r = inflate(&z, Z_NO_FLUSH);
    pos = len - z.avail_in;
    g_byte_array_append(out, buf, sizeof(buf) - z.avail_out);
    if (r != Z_OK && r != Z_STREAM_END && r != Z_BUF_ERROR) {
      *message = z.msg;
      inflateEnd(&z);
      return NULL;
    }
    if (r != Z_STREAM_END && pos == len && z.avail_out > 0) {
      *message = "end";
      inflateEnd(&z);
      return NULL;
    }
  }
  inflateEnd(&z);
  return g_byte_array_free_to_bytes(g_steal_pointer(&out));
}

/* Random damage (a byte changed, the blob cut) to members of every kind:
 * the decoder accepts what zlib's gzip reader accepts, with its output,
 * and refuses the rest with zlib's reason (one message for all corrupt
 * deflate data). In both builds: the ISA-L one is so checked against
 * zlib. */
START_TEST(test_against_zlib)
{
  gsize n;
  g_autofree char *text = long_text(&n);
  g_autoptr(GByteArray) base = g_byte_array_new();
  GRand *rand = g_rand_new_with_seed(16);
  const char *wrapper[] = { "incorrect header check",   "unknown compression method",
                            "unknown header flags set", "header crc mismatch",
                            "incorrect data check",     "incorrect length check" };

  member_with(base, text, 3000, FNAME | FHCRC, 6, Z_DEFAULT_STRATEGY);
  member_with(base, text + 3000, 2000, 0, 6, Z_FIXED);
  member_with(base, text + 5000, 1000, FEXTRA | FCOMMENT, 0, Z_DEFAULT_STRATEGY);
  member_with(base, text + 6000, 20000, 0, 9, Z_DEFAULT_STRATEGY);
  for (guint i = 0; i < 3000; i++) {
    g_autoptr(GByteArray) b = g_byte_array_new();
    g_autoptr(GBytes) blob = NULL, want = NULL, got = NULL;
    g_autofree char *message = NULL, *want_msg = NULL;
    const char *why = NULL;
    /* (not the magic: a blob without it is no gzip, it is read as a tar) */
    guint at = g_rand_int_range(rand, 2, base->len);

    g_byte_array_append(b, base->data, base->len);
    if (i % 10 == 9)
      g_byte_array_set_size(b, at);
    else
      b->data[at] ^= (guint8)g_rand_int_range(rand, 1, 256);
    blob = to_bytes(g_steal_pointer(&b));
    want = zlib_reference(blob, &why);
    got = decode(blob, 4096, 65536, &message);
    if (want) {
      ck_assert_msg(got != NULL, "damage %u at %u: zlib decodes it, not: %s", i, at, message);
      ck_assert(g_bytes_equal(got, want));
      continue;
    }
    if (strcmp(why, "end") == 0)
      why = "the compressed stream ends before its end marker";
    else {
      gboolean known = FALSE;
      for (guint k = 0; k < G_N_ELEMENTS(wrapper); k++)
        known |= strcmp(why, wrapper[k]) == 0;
      why = known ? why : "invalid deflate data";
      want_msg = g_strconcat("corrupt gzip data: ", why, NULL);
      why = want_msg;
    }
    ck_assert_msg(got == NULL, "damage %u at %u: decoded; zlib: %s", i, at, why);
    ck_assert_msg(
      g_str_has_suffix(message, why), "damage %u at %u: %s; zlib: %s", i, at, message, why);
  }
  g_rand_free(rand);
}
END_TEST

/* The same cases through sc_layer_import(): the pipe, its messages naming
 * the layer, its digests and its bomb limit; nothing left behind. */
static void
assert_import_fails(GBytes *blob,
                    GBytes *tar,
                    const ScLayerLimits *limits,
                    int code,
                    const char *message)
{
  g_autofree char *digest = tl_digest(blob);
  g_autofree char *want = g_strdup_printf("layer %s: %s", digest, message);
  g_autoptr(GError) error = NULL;
  g_autoptr(GHashTable) commits = NULL;
  ScLayerResult res = { 0 };

  ck_assert(!tl_import_blob(repo, blob, tar, NULL, NULL, limits, &res, &error));
  ck_assert_msg(g_error_matches(error, SC_ERROR, code), "%s", error->message);
  ck_assert_str_eq(error->message, want);
  ck_assert_ptr_null(res.commit);
  ck_assert(ostree_repo_list_commit_objects_starting_with(repo, "", &commits, NULL, NULL));
  ck_assert_int_eq(g_hash_table_size(commits), 0);
}

START_TEST(test_import)
{
  static const char zeros[512] = { 0 };
  const TEntry big[] = { { 'f', "big", NULL, 0644, NULL, 400 * 1024 } };
  g_autoptr(GBytes) tar = tl_tar(big, 1);
  gsize len = g_bytes_get_size(tar);
  const char *data = g_bytes_get_data(tar, NULL);
  GByteArray *b = g_byte_array_new();
  g_autoptr(GBytes) multi = NULL, cut = NULL, crc = NULL, padded = NULL, empty = NULL;
  g_autoptr(GError) error = NULL;
  ScLayerLimits limits = tl_limits();
  ScLayerResult res = { 0 };
  g_autofree char *m = NULL;

  /* the tar in three members, then 512 zero bytes of padding: one layer */
  member(b, data, 1000, 0);
  member(b, data + 1000, len - 2000, FNAME);
  member(b, data + len - 1000, 1000, 0);
  g_byte_array_append(b, (const guint8 *)zeros, sizeof(zeros));
  multi = to_bytes(b);
  ck_assert_msg(tl_import_blob(repo, multi, tar, NULL, NULL, &limits, &res, &error),
                "%s",
                error ? error->message : "");
  ck_assert_uint_eq(res.uncompressed_size, len);
  g_free(res.commit);

  /* the same tar in one member: its digest is checked (the diff_id) */
  b = g_byte_array_new();
  member(b, data, len, 0);
  padded = to_bytes(b);
  ck_assert(tl_import_blob(repo, padded, tar, NULL, NULL, &limits, &res, &error));
  ck_assert_uint_eq(res.uncompressed_size, len);
  g_free(res.commit);
  /* the refusals: a fresh repository each, nothing committed in it */
  teardown();
  setup();

  cut = g_bytes_new_from_bytes(multi, 0, g_bytes_get_size(multi) - 600);
  assert_import_fails(
    cut, tar, &limits, SC_EDIGEST, "the compressed stream ends before its end marker");
  b = g_byte_array_new();
  member(b, data, len, 0);
  b->data[b->len - 6] ^= 0x10;
  crc = to_bytes(b);
  assert_import_fails(crc, tar, &limits, SC_EDIGEST, "corrupt gzip data: incorrect data check");
  limits.max_bytes = 300 * 1024;
  m = g_strdup_printf("inflates to more than %u bytes, the limit (SC_MAX_LAYER_BYTES)", 300 * 1024);
  assert_import_fails(multi, tar, &limits, SC_EUNSUPPORTED, m);
  limits = tl_limits();
  /* an empty gzip stream is an empty tar, which libarchive refuses */
  b = g_byte_array_new();
  member(b, "", 0, 0);
  empty = to_bytes(b);
  assert_import_fails(
    empty, NULL, &limits, SC_EUNSUPPORTED, "not a valid tar archive: Unrecognized archive format");
}
END_TEST

static Suite *
decompress_suite(void)
{
  Suite *s = suite_create("decompress");
  TCase *tc = tcase_create("decoder");

  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_engine);
  tcase_add_test(tc, test_members);
  tcase_add_test(tc, test_empty);
  tcase_add_test(tc, test_zstd_frames);
  tcase_add_test(tc, test_truncated);
  tcase_add_test(tc, test_checks);
  tcase_add_test(tc, test_trailing);
  tcase_add_test(tc, test_against_zlib);
  suite_add_tcase(s, tc);

  tc = tcase_create("import");
  tcase_set_timeout(tc, 120);
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_import);
  suite_add_tcase(s, tc);
  return s;
}

int
main(void)
{
  return tc_run(decompress_suite());
}
