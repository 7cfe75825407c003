// Turning the current Python exception into text: the one place that does
// it, in two forms. Both clear the exception. With the GIL held.
#pragma once

#include <string>

#include "core/base/error.h"

namespace pyctx::core {

// The full structured form for a request outcome: Status::python with the
// qualified type name ("mypkg.MyError"), str(exception) and the formatted
// traceback as Python prints it.
Error fetch_python_error();

// A one-line form for messages of other errors, e.g. "TypeError: message"
// ("unknown error" when none is set).
std::string take_python_error_text();

}  // namespace pyctx::core
