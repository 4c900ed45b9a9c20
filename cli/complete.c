/*
 * syscontainerctl __complete WORD... CURRENT: the candidates for the word
 * being completed, one a line, for the shell completion scripts in data/
 * (docs/syscontainerctl.1.md, SHELL COMPLETION). Verbs, sub-verbs, options
 * and operands all come from the tables of main.c, so that completion
 * cannot drift from the parser; installed containers and images are asked
 * of the library with the --sysroot, --checkout-root and --repo given on
 * the line being completed. A line ":files" asks the shell for file names,
 * ":dirs" for directory names.
 * Hidden: not in the verb table, never in the usage text.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* What the words before the current one say. */
typedef struct {
  CliCmd cmd;           /* the global options seen (for the context) */
  const CliVerb *verb;  /* NULL: none yet */
  char sub[32];         /* the sub-verb ("images list"), "" if none */
  int n_operands;       /* operands after the verb (and sub-verb) */
  const char *value_of; /* the previous word is this option, wanting a value */
  const char *operand0; /* the first operand after the verb (help VERB) */
  uint64_t seen_opts;   /* the options on the line */
  int unknown;          /* an unknown verb: nothing to offer */
} Line;

/* Each candidate once (two forms of a verb name the same sub-verb or
 * operand kind: images inspect, images inspect --remote). */
static void
emit(const char *candidate)
{
  static char *seen[512];
  static size_t n_seen;

  for (size_t i = 0; i < n_seen; i++)
    if (strcmp(seen[i], candidate) == 0)
      return;
  if (n_seen < sizeof(seen) / sizeof(seen[0]))
    seen[n_seen++] = strdup(candidate);
  printf("%s\n", candidate);
}

/* Options a verb refuses once another is on the line (check_update in
 * cmd-container.c): not offered then. */
static const struct {
  const char *verb;
  int when;
  uint64_t refused;
} conflicts[] = {
  { "update", OPT_ALL, OPT(OPT_REBASE) | OPT(OPT_AUTO_UPDATE) },
  { "update", OPT_REBASE, OPT(OPT_ALL) | OPT(OPT_AUTO) },
  { "update", OPT_AUTO_UPDATE, OPT(OPT_ALL) | OPT(OPT_AUTO) },
};

static int
is_subverb_word(const char *w, size_t len)
{
  if (len == 0 || len >= 32)
    return 0;
  for (size_t i = 0; i < len; i++)
    if (!islower((unsigned char)w[i]))
      return 0;
  return 1;
}

/* The second word of @usage when it is a sub-verb ("images list"): copied
 * into @out. */
static int
form_subverb(const char *usage, char out[32])
{
  const char *w = strchr(usage, ' ');
  size_t len;

  if (w == NULL)
    return 0;
  w++;
  len = strcspn(w, " \n");
  if (!is_subverb_word(w, len))
    return 0;
  memcpy(out, w, len);
  out[len] = '\0';
  return 1;
}

static int
verb_has_subverbs(const CliVerb *verb)
{
  char sub[32];

  for (const CliForm *f = verb->forms; f->usage; f++)
    if (form_subverb(f->usage, sub))
      return 1;
  return 0;
}

/* The option named @w (up to a '='), any verb's; a one-letter one ("-f")
 * only when @verb takes it (-f is --filter for list, --pubkeysfile for
 * trust set). A cluster ("-aq", "-fKEY=V") wants no value: not found. */
static int
find_opt(const char *w, const CliVerb *verb)
{
  size_t len = strcspn(w, "=");

  if (w[0] == '-' && w[1] != '-' && w[1] != '\0' && w[2] == '\0') {
    for (int o = 0; o < OPT_COUNT; o++)
      if (cli_option_short(o) == w[1] && (o < OPT_NAME || (verb && (verb->opts & OPT(o)))))
        return o;
    return -1;
  }
  for (int o = 0; o < OPT_COUNT; o++) {
    const char *name = cli_option_name(o, NULL);
    if (strlen(name) == len && strncmp(w, name, len) == 0)
      return o;
  }
  return -1;
}

static void
read_line(Line *l, int n, char **words)
{
  int only_operands = 0;

  for (int i = 0; i < n; i++) {
    const char *w = words[i];
    const char *metavar = NULL;
    int o;
    if (!only_operands && strcmp(w, "--") == 0) {
      only_operands = 1;
      continue;
    }
    if (!only_operands && w[0] == '-') {
      if ((o = find_opt(w, l->verb)) < 0)
        continue;
      l->seen_opts |= OPT(o);
      cli_option_name(o, &metavar);
      if (metavar && strchr(w, '=') != NULL && w[strlen(w) - 1] == '=' && i + 1 == n) {
        /* "--opt=" then the value being completed (bash splits at '=') */
        l->value_of = cli_option_name(o, NULL);
        return;
      }
      if (metavar && strchr(w, '=') == NULL && metavar[0] != '=') {
        if (i + 1 == n) {
          l->value_of = cli_option_name(o, NULL);
          return;
        }
        l->cmd.opt[o] = words[++i];
      } else if (metavar && strchr(w, '='))
        l->cmd.opt[o] = strchr(w, '=') + 1;
      /* (an "=VALUE" option alone, as --tls-verify, is a boolean: the next
       * word is not its value) */
      continue;
    }
    if (l->verb == NULL) {
      l->verb = cli_find_verb(w);
      if (l->verb == NULL) {
        l->unknown = 1;
        return;
      }
    } else if (l->sub[0] == '\0' && l->n_operands == 0 && verb_has_subverbs(l->verb) &&
               is_subverb_word(w, strlen(w)))
      snprintf(l->sub, sizeof(l->sub), "%s", w);
    else if (l->n_operands++ == 0)
      l->operand0 = w;
  }
}

static void
print_containers(const Line *l)
{
  sc_context *ctx = NULL;
  char *json = NULL;
  json_t *doc, *c;
  size_t i;

  if (cli_make_context(&l->cmd, &ctx) != EXIT_OK)
    return;
  if (sc_containers_list_json(ctx, &json, NULL) == SC_OK && (doc = json_loads(json, 0, NULL))) {
    json_array_foreach (json_object_get(doc, "containers"), i, c)
      emit(cli_jstr(c, "name"));
    json_decref(doc);
  }
  free(json);
  sc_context_free(ctx);
}

/* NAME:TAG of each image (the name alone when it carries its tag). */
static void
print_images(const Line *l)
{
  sc_context *ctx = NULL;
  char *json = NULL;
  json_t *doc, *img;
  size_t i;

  if (cli_make_context(&l->cmd, &ctx) != EXIT_OK)
    return;
  if (sc_images_list_json(ctx, &json, NULL) == SC_OK && (doc = json_loads(json, 0, NULL))) {
    json_array_foreach (json_object_get(doc, "images"), i, img) {
      const char *name = cli_jstr(img, "name"), *tag = cli_jstr(img, "tag");
      const char *slash = strrchr(name, '/');
      if (strcmp(name, "<none>") == 0)
        continue;
      char both[512];
      if (strchr(slash ? slash : name, ':') || !tag || !*tag || strcmp(tag, "<none>") == 0)
        emit(name);
      else if (snprintf(both, sizeof(both), "%s:%s", name, tag) < (int)sizeof(both))
        emit(both);
    }
    json_decref(doc);
  }
  free(json);
  sc_context_free(ctx);
}

static void
print_subverbs(const CliVerb *verb)
{
  char sub[32];

  for (const CliForm *f = verb ? verb->forms : NULL; f && f->usage; f++)
    if (form_subverb(f->usage, sub))
      emit(sub);
}

/* The candidates a usage token names ("IMAGE|NAME", "accept|reject",
 * "DIR]..."). */
static void
print_kind(const Line *l, const char *token)
{
  char buf[128];
  char *save = NULL;
  size_t len;

  token += strspn(token, "[");
  len = strcspn(token, "[].");

  if (len == 0 || len >= sizeof(buf))
    return;
  memcpy(buf, token, len);
  buf[len] = '\0';
  for (char *alt = strtok_r(buf, "|", &save); alt; alt = strtok_r(NULL, "|", &save)) {
    if (strcmp(alt, "NAME") == 0)
      print_containers(l);
    else if (strcmp(alt, "IMAGE") == 0)
      print_images(l);
    else if (strcmp(alt, "COMMAND") == 0)
      for (size_t v = 0; cli_verb_at(v); v++)
        emit(cli_verb_at(v)->name);
    else if (strcmp(alt, "SUBCOMMAND") == 0)
      print_subverbs(cli_find_verb(l->operand0));
    else if (strcmp(alt, "DIR") == 0 || strcmp(alt, "OUT") == 0)
      emit(":dirs");
    else if (strcmp(alt, "FILE") == 0 || strcmp(alt, "PATH") == 0 || strcmp(alt, "SOURCE") == 0)
      emit(":files");
    else if (is_subverb_word(alt, strlen(alt)) || strcmp(alt, "true") == 0)
      emit(alt);
  }
}

/* The operand @k of @usage: its tokens after the verb (and sub-verb) that
 * are not the value of an option ("[--rebase IMAGE]"); a last one ending in
 * "..." repeats. */
static void
print_operand(const Line *l, const char *usage, int skip, int k)
{
  char *copy = strdup(usage), *save = NULL, *last = NULL;
  const char *prev = "";
  int pos = -skip;

  if (copy == NULL)
    return;
  for (char *t = strtok_r(copy, " \n", &save); t; prev = t, t = strtok_r(NULL, " \n", &save)) {
    int is_value = (strncmp(prev, "--", 2) == 0 || strncmp(prev, "[--", 3) == 0) &&
                   strchr(prev, ']') == NULL && strchr(prev, '=') == NULL;
    if (pos++ < 0 || is_value || t[0] == '-' || strncmp(t, "[-", 2) == 0 || t[0] == '|')
      continue;
    last = t;
    if (k-- == 0) {
      print_kind(l, t);
      free(copy);
      return;
    }
  }
  if (last && k >= 0 && strstr(last, "..."))
    print_kind(l, last);
  free(copy);
}

static void
print_options(const Line *l)
{
  uint64_t refused = 0;

  for (size_t i = 0; l->verb && i < sizeof(conflicts) / sizeof(conflicts[0]); i++)
    if (strcmp(l->verb->name, conflicts[i].verb) == 0 && (l->seen_opts & OPT(conflicts[i].when)))
      refused |= conflicts[i].refused;
  for (int o = 0; o < OPT_COUNT; o++)
    if ((o < OPT_NAME || (l->verb && (l->verb->opts & OPT(o)))) && !(refused & OPT(o)))
      emit(cli_option_name(o, NULL));
  emit("--help");
  if (l->verb == NULL)
    emit("--version");
}

static void
print_value(const Line *l, const char *cur)
{
  const char *metavar = NULL;

  /* the values the parser takes whose metavars do not spell them */
  static const char *const choices[][2] = {
    { "--type", "signedBy\nsigstoreSigned\naccept\nreject\n" },
    { "--log-level", "error\nwarning\ninfo\ndebug\n" },
    { "--tls-verify", "true\nfalse\n" },
  };

  cli_option_name(find_opt(l->value_of, l->verb), &metavar);
  for (size_t i = 0; i < sizeof(choices) / sizeof(choices[0]); i++)
    if (strcmp(l->value_of, choices[i][0]) == 0) {
      fputs(choices[i][1], stdout);
      return;
    }
  if (strcmp(l->value_of, "--filter") == 0 && l->sub[0] && strncmp(cur, "dangling=", 9) == 0)
    fputs("dangling=true\ndangling=false\n", stdout);
  else if (strcmp(l->value_of, "--filter") == 0)
    fputs(l->sub[0] ? "repo=\ndangling=\n" : "container=\nimage=\nbackend=\nruntime=\n", stdout);
  else if (strcmp(l->value_of, "--rebase") == 0)
    print_images(l);
  else
    print_kind(l, metavar);
}

int
cli_complete(int n, char **words)
{
  Line l = { 0 };
  const char *cur = n > 0 ? words[n - 1] : "";
  char sub[32];

  read_line(&l, n > 0 ? n - 1 : 0, words);
  if (l.unknown)
    return EXIT_OK;
  if (l.value_of)
    print_value(&l, cur);
  else if (cur[0] == '-')
    print_options(&l);
  else if (l.verb == NULL)
    for (size_t v = 0; cli_verb_at(v); v++)
      emit(cli_verb_at(v)->name);
  else if (verb_has_subverbs(l.verb) && l.sub[0] == '\0' && l.n_operands == 0)
    print_subverbs(l.verb);
  else
    for (const CliForm *f = l.verb->forms; f->usage; f++)
      if (l.sub[0] == '\0' || (form_subverb(f->usage, sub) && strcmp(sub, l.sub) == 0))
        print_operand(&l, f->usage, l.sub[0] ? 2 : 1, l.n_operands);
  return EXIT_OK;
}
