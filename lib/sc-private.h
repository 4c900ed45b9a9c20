/*
 * Every internal declaration, for the tests and fuzz targets that reach
 * into the library. The library's own files include their layer's header
 * (lib/LAYER/LAYER.h), which sees only the layers before it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "container/container.h"
