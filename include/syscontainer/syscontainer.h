/*
 * libsyscontainer: install and run system containers.
 * The one header that consumers include.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef SYSCONTAINER_SYSCONTAINER_H
#define SYSCONTAINER_SYSCONTAINER_H

#include <syscontainer/sc-common.h>
#include <syscontainer/sc-context.h>
#include <syscontainer/sc-values.h>
#include <syscontainer/sc-template.h>
#include <syscontainer/sc-spec.h>
#include <syscontainer/sc-render.h>
#include <syscontainer/sc-lint.h>
#include <syscontainer/sc-image.h>
#include <syscontainer/sc-container.h>
#include <syscontainer/sc-trust.h>

#endif
