/*
 * The file contexts of a policy, answered fast (docs/security.md,
 * "SELinux labels"): the same answer as libselinux's file backend
 * (selabel_lookup_raw on SELABEL_CTX_FILE), without testing every
 * regular expression of the policy against every path.
 *
 * libselinux 3.4 (Debian 12's) tries a path against the regular
 * expressions of every specification that shares its first component,
 * one after the other, with a lock taken per expression: about 150 µs a
 * path with refpolicy's 5600 lines, which was a third of a layer's import
 * on a host with a policy. Here each specification is indexed by the
 * literal text every path it can match must start with, so a path is
 * tried only against the few whose text it starts with, in libselinux's
 * order; the first that matches answers, as there. Of those, a regex is
 * run only when the path holds the literal text it requires further on
 * (required_text()): refpolicy's many "/usr/(.*" lines reach every path
 * under /usr, and the text check leaves about one regex run a path of
 * 27 (1.5 µs a lookup, 11 µs with the prefix index alone).
 *
 * What is reproduced from libselinux's file backend, and checked against
 * libselinux itself by tests/unit/test-fcontext.c on the installed policy
 * and on policies written to exercise each rule:
 *   - the files: file_contexts, then .homedirs, then .local, line by line;
 *     blank lines and '#' lines skipped; fields split at white space; two
 *     fields are "regex context", three "regex type context" (further
 *     fields ignored); type -- -d -c -b -s -p -l;
 *   - the order: specifications with a regex metacharacter first, then
 *     those without, each in file order; the LAST that matches wins;
 *   - the stem: the text up to a specification's second '/' when it has
 *     no metacharacter (a backslash is none there); such a specification
 *     is tried only on a path with the same first component;
 *   - the regex: "^" + regex + "$", PCRE2_DOTALL, pcre2_match with no
 *     options; "<<none>>" is no label;
 *   - substitutions: file_contexts.subs, then file_contexts.subs_dist
 *     applied to the result, each the first of its lines (from the last
 *     line up) whose source is the path or a leading directory of it.
 * Anything else (a line libselinux would refuse or read otherwise, a key
 * with "//" or a trailing '/', a regex PCRE2 will not compile anywhere in
 * the files) is not answered here, and the caller asks libselinux.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "base.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <ctype.h>
#include <pcre2.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
  char *regex;   /* as written */
  char *context; /* NULL for <<none>> */
  mode_t mode;   /* 0: any file type */
  guint stem_len; /* 0: no stem */
  gboolean meta;
  pcre2_code *code; /* "^" + regex + "$" */
  char *inner;      /* text a matching path holds (required_text()), or NULL */
  char *tail;       /* text a matching path ends with, or NULL */
  gsize tail_len;
} Spec;

typedef struct {
  char *src, *dst;
  size_t slen;
} Sub;

/* One literal prefix of the index and the specifications that have it. */
typedef struct {
  const char *prefix; /* the first @len bytes of a regex; NULL: a free slot */
  guint len;
  guint32 hash; /* prefix_hash() */
  GArray *list; /* of guint, the specifications' places (ascending) */
} Slot;

struct ScFcon {
  GPtrArray *specs;    /* of Spec*, in libselinux's order */
  Slot *index;         /* open addressing on the prefixes, by hash */
  guint index_mask;    /* its size, a power of two, less one */
  guint8 lengths[512]; /* lengths[L]: some prefix has length L */
  /* PCRE2's "$" matches at the end and before a final "\n" only (its
   * newline is LF, as Debian builds it): the specifications' tails hold */
  gboolean tails;
  guint max_len;
  GArray *subs;      /* of Sub: file_contexts.subs, last line first */
  GArray *dist_subs; /* of Sub: file_contexts.subs_dist, last line first */
};

static void
spec_free(gpointer p)
{
  Spec *s = p;

  g_free(s->regex);
  g_free(s->context);
  g_free(s->inner);
  g_free(s->tail);
  if (s->code)
    pcre2_code_free(s->code);
  g_free(s);
}

static void
sub_clear(gpointer p)
{
  Sub *s = p;

  g_free(s->src);
  g_free(s->dst);
}

void
sc_fcon_free(ScFcon *fc)
{
  if (fc == NULL)
    return;
  g_clear_pointer(&fc->specs, g_ptr_array_unref);
  for (guint i = 0; fc->index && i <= fc->index_mask; i++)
    if (fc->index[i].list)
      g_array_unref(fc->index[i].list);
  g_free(fc->index);
  g_clear_pointer(&fc->subs, g_array_unref);
  g_clear_pointer(&fc->dist_subs, g_array_unref);
  g_free(fc);
}

static gboolean
is_meta(char c)
{
  return c != '\0' && strchr(".^$?*+|[({", c) != NULL;
}

/* libselinux's stem: up to the second '/', when nothing before it is a
 * metacharacter (a backslash is not one there). */
static guint
spec_stem(const char *regex)
{
  const char *slash = regex[0] ? strchr(regex + 1, '/') : NULL;

  if (slash == NULL)
    return 0;
  for (const char *p = regex; p < slash; p++)
    if (is_meta(*p))
      return 0;
  return slash - regex;
}

/* libselinux's "has metacharacters": one outside a backslash escape. */
static gboolean
spec_meta(const char *regex)
{
  for (const char *p = regex; *p; p++) {
    if (*p == '\\') {
      if (*++p == '\0')
        break;
      continue;
    }
    if (is_meta(*p))
      return TRUE;
  }
  return FALSE;
}

/* Whether @regex has an alternation outside any group or class: then
 * "^" + regex + "$" anchors only its first and last branch, and no text
 * is common to what it matches. */
static gboolean
top_level_alternation(const char *regex)
{
  int depth = 0;
  gboolean in_class = FALSE;

  for (const char *p = regex; *p; p++) {
    if (*p == '\\') {
      if (*++p == '\0')
        break;
    } else if (in_class) {
      if (*p == ']')
        in_class = FALSE;
    } else if (*p == '[') {
      in_class = TRUE;
      if (p[1] == '^')
        p++;
      if (p[1] == ']')
        p++; /* a ']' first in a class is itself */
    } else if (*p == '(') {
      depth++;
    } else if (*p == ')') {
      depth--;
    } else if (*p == '|' && depth <= 0) {
      return TRUE;
    }
  }
  return FALSE;
}

/* Constructs whose insides the scan of top_level_alternation() would
 * misread: quoted text, comments, verbs, callouts, POSIX classes, and
 * \c, which takes the next character whatever it is ("\c(" is no
 * group). */
static gboolean
opaque_constructs(const char *regex)
{
  static const char *const marks[] = { "\\Q", "\\E", "\\c", "(?#", "(*",
                                       "(?C",  "[:",   "[.",   "[=" };

  for (guint i = 0; i < G_N_ELEMENTS(marks); i++)
    if (strstr(regex, marks[i]))
      return TRUE;
  return FALSE;
}

/* The text every path the specification matches starts with: its leading
 * characters up to the first metacharacter or backslash, less the last
 * one (what follows may be a quantifier, or an empty item and then one,
 * that lets it repeat zero times). Shorter than the truth is only slower,
 * never wrong; with anything unusual in the regex, only the stem (which
 * a path must have anyway). */
static guint
literal_prefix(const Spec *s)
{
  guint n = 0;

  if (opaque_constructs(s->regex) || top_level_alternation(s->regex))
    return s->stem_len;
  while (s->regex[n] && !is_meta(s->regex[n]) && s->regex[n] != '\\')
    n++;
  if (n > 0 && s->regex[n] != '\0')
    n--;
  return MAX(n, s->stem_len);
}

/* Past the class that opens at @p ('['), or NULL when it is not closed. */
static const char *
skip_class(const char *p)
{
  p++;
  if (*p == '^')
    p++;
  if (*p == ']')
    p++; /* a ']' first in a class is itself */
  for (; *p && *p != ']'; p++)
    if (*p == '\\' && *++p == '\0')
      return NULL;
  return *p ? p + 1 : NULL;
}

/* Past the group that opens at @p ('('), or NULL when it is not closed. */
static const char *
skip_group(const char *p)
{
  int depth = 0;

  while (*p) {
    if (*p == '\\') {
      if (*++p == '\0')
        return NULL;
      p++;
    } else if (*p == '[') {
      if ((p = skip_class(p)) == NULL)
        return NULL;
    } else {
      depth += *p == '(' ? 1 : *p == ')' ? -1 : 0;
      if (*p++ == ')' && depth == 0)
        return p;
    }
  }
  return NULL;
}

/* Text every path the specification matches must hold, besides its
 * literal prefix: a lookup skips the regex of a specification whose text
 * the path lacks (most of those a path reaches: refpolicy's many that
 * start with "/usr/(.*" reach every path under /usr). The regex is read item by item; a run of
 * literal characters, each required once (one followed by '?' or '*' may
 * be absent), ends at any other item, and groups and classes are skipped
 * whole. @out_tail: the run that ends the regex, which a matching path
 * ends with (or with it and a newline, before which "$" also matches);
 * @out_inner: the longest other run after the first (the prefix's), of at
 * least two characters. Anything unusual (an inline option, a brace,
 * quoted text, an alternation outside a group) gives neither: the regex
 * alone decides, as before. */
static void
required_text(const char *regex, char **out_inner, char **out_tail)
{
  g_autoptr(GString) run = g_string_new(NULL);
  gboolean leading = TRUE;
  const char *p = regex;

  *out_inner = *out_tail = NULL;
  if (opaque_constructs(regex) || top_level_alternation(regex) || strchr(regex, '{') ||
      strstr(regex, "(?"))
    return;
#define END_RUN()                                                                                  \
  do {                                                                                             \
    if (!leading && run->len >= 2 && (*out_inner == NULL || run->len > strlen(*out_inner))) {      \
      g_free(*out_inner);                                                                          \
      *out_inner = g_strdup(run->str);                                                             \
    }                                                                                              \
    leading = FALSE;                                                                               \
    g_string_truncate(run, 0);                                                                     \
  } while (0)
  while (*p) {
    char c;
    if (*p == '\\' && p[1] != '\0' && !g_ascii_isalnum(p[1])) {
      c = p[1]; /* an escaped punctuation character is itself */
      p += 2;
    } else if (*p == '\\') {
      p += p[1] ? 2 : 1; /* \d, \w, \1...: not a literal */
      END_RUN();
      continue;
    } else if (*p == '[' || *p == '(') {
      p = *p == '[' ? skip_class(p) : skip_group(p);
      if (p == NULL) {
        g_clear_pointer(out_inner, g_free);
        return;
      }
      END_RUN();
      continue;
    } else if (is_meta(*p) || *p == ')' || *p == ']' || *p == '}') {
      p++;
      END_RUN();
      continue;
    } else {
      c = *p++;
    }
    if (*p == '?' || *p == '*') {
      END_RUN(); /* @c may be absent; the quantifier ends the run again */
      continue;
    }
    g_string_append_c(run, c); /* a '+' after it ends the run, as a metacharacter */
  }
#undef END_RUN
  if (run->len > 0)
    *out_tail = g_string_free(g_steal_pointer(&run), FALSE);
}

static mode_t
type_mode(const char *t, gboolean *ok)
{
  static const struct {
    const char *name;
    mode_t mode;
  } types[] = { { "--", S_IFREG }, { "-d", S_IFDIR }, { "-c", S_IFCHR }, { "-b", S_IFBLK },
                { "-s", S_IFSOCK }, { "-p", S_IFIFO }, { "-l", S_IFLNK } };

  for (guint i = 0; i < G_N_ELEMENTS(types); i++)
    if (strcmp(t, types[i].name) == 0)
      return types[i].mode;
  *ok = FALSE;
  return 0;
}

/* A file's lines; NULL when it holds a NUL (libselinux would read the
 * line only up to it). */
static char **
split_lines(const char *text, gsize len)
{
  g_autofree char *copy = NULL;

  if (memchr(text, '\0', len) != NULL)
    return NULL;
  copy = g_strndup(text, len);
  return g_strsplit(copy, "\n", -1);
}

/* One file's lines appended to @specs in file order; FALSE for anything
 * libselinux would refuse or read differently. */
static gboolean
parse_specs(const char *text, gsize len, GPtrArray *specs)
{
  g_auto(GStrv) lines = split_lines(text, len);

  if (lines == NULL)
    return FALSE;
  for (guint i = 0; lines[i]; i++) {
    char *fields[3] = { NULL, NULL, NULL };
    guint n = 0;
    char *p = lines[i];
    gboolean ok = TRUE;
    Spec *s;

    while (isspace((unsigned char)*p))
      p++;
    if (*p == '#' || *p == '\0')
      continue;
    while (*p && n < 3) {
      char *start = p;
      while (*p && !isspace((unsigned char)*p))
        if (!isascii((unsigned char)*p++))
          return FALSE; /* libselinux refuses the file */
      if (*p)
        *p++ = '\0';
      fields[n++] = start;
      while (isspace((unsigned char)*p))
        p++;
    }
    if (n < 2)
      return FALSE;
    s = g_new0(Spec, 1);
    s->regex = g_strdup(fields[0]);
    if (n == 3)
      s->mode = type_mode(fields[1], &ok);
    s->context = g_strdup(fields[n - 1]);
    if (strcmp(s->context, "<<none>>") == 0)
      g_clear_pointer(&s->context, g_free);
    s->stem_len = spec_stem(s->regex);
    s->meta = spec_meta(s->regex);
    required_text(s->regex, &s->inner, &s->tail);
    s->tail_len = s->tail ? strlen(s->tail) : 0;
    g_ptr_array_add(specs, s);
    if (!ok)
      return FALSE;
  }
  return TRUE;
}

/* A substitutions file: "source destination" lines, the last one first
 * (libselinux pushes each on the front of its list). */
static gboolean
parse_subs(const char *text, gsize len, GArray *subs)
{
  g_auto(GStrv) lines = split_lines(text, len);

  if (lines == NULL)
    return FALSE;
  for (guint i = 0; lines[i]; i++) {
    char *src = lines[i], *dst, *end;
    Sub sub;

    if (strlen(src) > 1000)
      return FALSE; /* libselinux reads it in 1 KiB pieces */
    while (*src && isspace((unsigned char)*src))
      src++;
    if (*src == '#')
      continue;
    end = src;
    while (*end && !isspace((unsigned char)*end))
      end++;
    if (*src && *end == '\0' && lines[i + 1] == NULL)
      return FALSE; /* a last line of one word and no newline: libselinux
                     * reads its destination from past the line's end */
    if (*end)
      *end++ = '\0';
    if (*src == '\0')
      continue;
    dst = end;
    while (*dst && isspace((unsigned char)*dst))
      dst++;
    end = dst;
    while (*end && !isspace((unsigned char)*end))
      end++;
    *end = '\0';
    if (*dst == '\0')
      continue;
    sub.src = g_strdup(src);
    sub.dst = g_strdup(dst);
    sub.slen = strlen(src);
    g_array_prepend_val(subs, sub);
  }
  return TRUE;
}

/* Reads @dir/@name into @out (NULL when missing); FALSE on an error. */
static gboolean
read_optional(const char *dir, const char *name, char **out, gsize *len)
{
  g_autofree char *path = g_build_filename(dir, name, NULL);
  g_autoptr(GError) local = NULL;

  *out = NULL;
  if (g_file_get_contents(path, out, len, &local))
    return TRUE;
  return g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT);
}

static gboolean
load_files(ScFcon *fc, const char *dir)
{
  static const char *const spec_files[] = { "file_contexts", "file_contexts.homedirs",
                                            "file_contexts.local" };
  g_autoptr(GPtrArray) all = g_ptr_array_new_with_free_func(spec_free);

  for (guint i = 0; i < G_N_ELEMENTS(spec_files); i++) {
    g_autofree char *text = NULL;
    gsize len = 0;
    if (!read_optional(dir, spec_files[i], &text, &len) || (text == NULL && i == 0))
      return FALSE;
    if (text && !parse_specs(text, len, all))
      return FALSE;
  }
  for (int pass = 0; pass < 2; pass++)
    for (guint i = 0; i < all->len; i++) {
      Spec *s = all->pdata[i];
      if (s->meta == (pass == 0))
        g_ptr_array_add(fc->specs, s);
    }
  g_ptr_array_set_free_func(all, NULL); /* fc->specs owns them now */
  for (guint i = 0; i < 2; i++) {
    g_autofree char *text = NULL;
    gsize len = 0;
    if (!read_optional(dir, i == 0 ? "file_contexts.subs" : "file_contexts.subs_dist", &text, &len))
      return FALSE;
    if (text && !parse_subs(text, len, i == 0 ? fc->subs : fc->dist_subs))
      return FALSE;
  }
  return TRUE;
}

/* The hash of a prefix, one byte at a time, so that a lookup hashes the
 * prefixes of a path of every length in one pass over it. */
#define PREFIX_HASH_START 5381u
static inline guint32
prefix_hash_step(guint32 h, char c)
{
  return h * 33u + (guchar)c;
}

/* The slot of the prefix @text[0..@len) of hash @h: its own, or the free
 * one where it would go. */
static Slot *
index_slot(ScFcon *fc, const char *text, guint len, guint32 h)
{
  for (guint i = h & fc->index_mask;; i = (i + 1) & fc->index_mask) {
    Slot *slot = &fc->index[i];
    if (slot->prefix == NULL ||
        (slot->hash == h && slot->len == len && memcmp(slot->prefix, text, len) == 0))
      return slot;
  }
}

static void
index_specs(ScFcon *fc)
{
  guint size = 16;

  while (size < 2 * fc->specs->len) /* at most half full: short probes */
    size *= 2;
  fc->index = g_new0(Slot, size);
  fc->index_mask = size - 1;
  for (guint i = 0; i < fc->specs->len; i++) {
    Spec *s = fc->specs->pdata[i];
    guint n = MIN(literal_prefix(s), G_N_ELEMENTS(fc->lengths) - 1);
    guint32 h = PREFIX_HASH_START;
    Slot *slot;

    for (guint k = 0; k < n; k++)
      h = prefix_hash_step(h, s->regex[k]);
    slot = index_slot(fc, s->regex, n, h);
    if (slot->prefix == NULL) {
      *slot = (Slot){ .prefix = s->regex, .len = n, .hash = h };
      slot->list = g_array_new(FALSE, FALSE, sizeof(guint));
    }
    g_array_append_val(slot->list, i);
    fc->lengths[n] = 1;
    fc->max_len = MAX(fc->max_len, n);
  }
}

/* Every regex compiled now: libselinux compiles each when a lookup first
 * reaches it and fails that lookup when it will not compile, and which
 * lookups reach it is what the index skips; so one that will not compile
 * leaves every answer to libselinux. (Compiling refpolicy's 5,600 takes
 * a few milliseconds.) */
static gboolean
compile_specs(ScFcon *fc)
{
  for (guint i = 0; i < fc->specs->len; i++) {
    Spec *s = fc->specs->pdata[i];
    g_autofree char *anchored = g_strdup_printf("^%s$", s->regex);
    int err;
    PCRE2_SIZE off;

    s->code =
      pcre2_compile((PCRE2_SPTR)anchored, PCRE2_ZERO_TERMINATED, PCRE2_DOTALL, &err, &off, NULL);
    if (s->code == NULL)
      return FALSE;
  }
  return TRUE;
}

ScFcon *
sc_fcon_load(const char *dir)
{
  ScFcon *fc = g_new0(ScFcon, 1);

  fc->specs = g_ptr_array_new_with_free_func(spec_free);
  fc->subs = g_array_new(FALSE, FALSE, sizeof(Sub));
  fc->dist_subs = g_array_new(FALSE, FALSE, sizeof(Sub));
  g_array_set_clear_func(fc->subs, sub_clear);
  g_array_set_clear_func(fc->dist_subs, sub_clear);
  if (!load_files(fc, dir) || !compile_specs(fc)) {
    sc_fcon_free(fc);
    return NULL;
  }
  {
    uint32_t newline = 0;
    fc->tails = pcre2_config(PCRE2_CONFIG_NEWLINE, &newline) >= 0 && newline == PCRE2_NEWLINE_LF;
  }
  index_specs(fc);
  return fc;
}

/* libselinux's substitution: the first source that is @key or a leading
 * directory of it is replaced by its destination. */
static char *
substitute(GArray *subs, const char *key)
{
  for (guint i = 0; i < subs->len; i++) {
    const Sub *s = &g_array_index(subs, Sub, i);
    if (strncmp(key, s->src, s->slen) == 0 && (key[s->slen] == '/' || key[s->slen] == '\0')) {
      gsize skip = s->slen;
      if (key[s->slen] == '/' && strcmp(s->dst, "/") == 0)
        skip++;
      return g_strconcat(s->dst, key + skip, NULL);
    }
  }
  return NULL;
}

static int
compare_desc(gconstpointer a, gconstpointer b)
{
  guint x = *(const guint *)a, y = *(const guint *)b;

  return x < y ? 1 : x > y ? -1 : 0;
}

/* Whether @key (of @klen bytes) holds the text @s requires. */
static gboolean
holds_required(const ScFcon *fc, const Spec *s, const char *key, size_t klen)
{
  if (s->tail && fc->tails) {
    size_t t = s->tail_len;
    gboolean ends = klen >= t && memcmp(key + klen - t, s->tail, t) == 0;
    if (!ends && !(klen > t && key[klen - 1] == '\n' && memcmp(key + klen - 1 - t, s->tail, t) == 0))
      return FALSE;
  }
  return s->inner == NULL || strstr(key, s->inner) != NULL;
}

/* The specifications whose literal prefix @key starts with, the last in
 * libselinux's order first. */
static GArray *
candidates(ScFcon *fc, const char *key, size_t klen)
{
  GArray *out = g_array_sized_new(FALSE, FALSE, sizeof(guint), 32);
  guint32 h = PREFIX_HASH_START;

  for (guint n = 0; n <= fc->max_len && n <= klen; n++) {
    if (fc->lengths[n]) {
      const Slot *slot = index_slot(fc, key, n, h);
      if (slot->list)
        g_array_append_vals(out, slot->list->data, slot->list->len);
    }
    if (n < klen)
      h = prefix_hash_step(h, key[n]);
  }
  g_array_sort(out, compare_desc);
  return out;
}

gboolean
sc_fcon_lookup(ScFcon *fc, const char *path, mode_t mode, const char **out_context)
{
  g_autofree char *sub1 = NULL, *sub2 = NULL;
  g_autoptr(GArray) cands = NULL;
  pcre2_match_data *md;
  const char *key = path, *slash;
  size_t key_stem = 0, klen;
  gboolean answered = TRUE;

  *out_context = NULL;
  if (path[0] != '/' || strstr(path, "//") || (path[1] && g_str_has_suffix(path, "/")))
    return FALSE; /* libselinux cleans such keys first */
  sub1 = substitute(fc->subs, key);
  sub2 = substitute(fc->dist_subs, sub1 ? sub1 : key);
  key = sub2 ? sub2 : sub1 ? sub1 : key;
  slash = strchr(key + 1, '/');
  if (slash)
    key_stem = slash - key;
  mode &= S_IFMT;
  klen = strlen(key);
  cands = candidates(fc, key, klen);
  md = pcre2_match_data_create(1, NULL);
  for (guint i = 0; i < cands->len; i++) {
    Spec *s = fc->specs->pdata[g_array_index(cands, guint, i)];
    int r;
    if (s->stem_len && (s->stem_len != key_stem || strncmp(key, s->regex, key_stem) != 0))
      continue;
    if (mode && s->mode && mode != s->mode)
      continue;
    if (!holds_required(fc, s, key, klen))
      continue;
    r = pcre2_match(s->code, (PCRE2_SPTR)key, PCRE2_ZERO_TERMINATED, 0, 0, md, NULL);
    if (r >= 0) {
      *out_context = s->context;
      break;
    }
    if (r != PCRE2_ERROR_NOMATCH) {
      answered = FALSE;
      break;
    }
  }
  pcre2_match_data_free(md);
  return answered;
}
