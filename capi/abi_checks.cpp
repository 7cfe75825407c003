// Compile-time proof that the core's own enums and constants -- the one
// source of truth for each value -- equal what include/pyctx.h promises.
// The core never includes the public header; this file is where the two
// meet.
#include "core/base/error.h"
#include "core/cbor/reader.h"
#include "core/cbor/tags.h"
#include "core/engine/context.h"
#include "core/engine/runtime.h"
#include "core/request/buffers.h"
#include "core/request/request.h"
#include "pyctx.h"

namespace {

using pyctx::core::Mode;
using pyctx::core::ProcessOutput;
using pyctx::core::State;
using pyctx::core::Status;
namespace cbor = pyctx::core::cbor;

constexpr bool same(Status s, pyctx_status c) { return static_cast<int>(s) == static_cast<int>(c); }

static_assert(same(Status::ok, PYCTX_OK));
static_assert(same(Status::invalid_argument, PYCTX_ERR_INVALID_ARGUMENT));
static_assert(same(Status::not_running, PYCTX_ERR_NOT_RUNNING));
static_assert(same(Status::already_initialized, PYCTX_ERR_ALREADY_INITIALIZED));
static_assert(same(Status::unsupported, PYCTX_ERR_UNSUPPORTED));
static_assert(same(Status::closed, PYCTX_ERR_CLOSED));
static_assert(same(Status::queue_full, PYCTX_ERR_QUEUE_FULL));
static_assert(same(Status::cancelled, PYCTX_ERR_CANCELLED));
static_assert(same(Status::timeout, PYCTX_ERR_TIMEOUT));
static_assert(same(Status::python, PYCTX_ERR_PYTHON));
static_assert(same(Status::decode, PYCTX_ERR_DECODE));
static_assert(same(Status::encode, PYCTX_ERR_ENCODE));
static_assert(same(Status::not_found, PYCTX_ERR_NOT_FOUND));
static_assert(same(Status::no_memory, PYCTX_ERR_NO_MEMORY));
static_assert(same(Status::stuck, PYCTX_ERR_STUCK));
static_assert(same(Status::internal, PYCTX_ERR_INTERNAL));
static_assert(same(Status::crashed, PYCTX_ERR_CRASHED));

static_assert(static_cast<int>(State::uninit) == PYCTX_STATE_UNINIT);
static_assert(static_cast<int>(State::initing) == PYCTX_STATE_INITING);
static_assert(static_cast<int>(State::running) == PYCTX_STATE_RUNNING);
static_assert(static_cast<int>(State::shutting_down) == PYCTX_STATE_SHUTTING_DOWN);
static_assert(static_cast<int>(State::stopped) == PYCTX_STATE_STOPPED);

static_assert(static_cast<int>(Mode::worker) == PYCTX_MODE_WORKER);
static_assert(static_cast<int>(Mode::owngil) == PYCTX_MODE_OWNGIL);
static_assert(static_cast<int>(Mode::process) == PYCTX_MODE_PROCESS);
static_assert(static_cast<int>(ProcessOutput::stderr_stream) == PYCTX_PROCESS_OUTPUT_STDERR);
static_assert(static_cast<int>(ProcessOutput::log) == PYCTX_PROCESS_OUTPUT_LOG);

static_assert(cbor::kTagSet == PYCTX_CBOR_TAG_SET);
static_assert(cbor::kTagSymbol == PYCTX_CBOR_TAG_SYMBOL);
static_assert(cbor::kTagTuple == PYCTX_CBOR_TAG_TUPLE);
static_assert(cbor::kTagHostTerm == PYCTX_CBOR_TAG_HOST_TERM);
static_assert(cbor::kTagObjectRef == PYCTX_CBOR_TAG_OBJECT);
static_assert(cbor::kTagBuffer == PYCTX_CBOR_TAG_BUFFER);

using pyctx::core::Buffer;
using pyctx::core::ResultForm;
static_assert(static_cast<int>(ResultForm::value) == PYCTX_RESULT_VALUE);
static_assert(static_cast<int>(ResultForm::object) == PYCTX_RESULT_OBJECT);
static_assert(static_cast<int>(ResultForm::buffer) == PYCTX_RESULT_BUFFER);
static_assert(static_cast<int>(ResultForm::stream) == PYCTX_RESULT_STREAM);
static_assert(static_cast<int>(Buffer::Memory::host) == PYCTX_BUFFER_HOST);
static_assert(static_cast<int>(Buffer::Memory::library) == PYCTX_BUFFER_LIBRARY);
static_assert(static_cast<int>(Buffer::Memory::python) == PYCTX_BUFFER_PYTHON);
static_assert(Buffer::kAlignment == PYCTX_BUFFER_ALIGNMENT);

static_assert(cbor::kMaxDepth == PYCTX_CBOR_MAX_DEPTH);
static_assert(static_cast<int>(cbor::Type::uint) == PYCTX_CBOR_UINT);
static_assert(static_cast<int>(cbor::Type::negint) == PYCTX_CBOR_NEGINT);
static_assert(static_cast<int>(cbor::Type::bytes) == PYCTX_CBOR_BYTES);
static_assert(static_cast<int>(cbor::Type::text) == PYCTX_CBOR_TEXT);
static_assert(static_cast<int>(cbor::Type::array) == PYCTX_CBOR_ARRAY);
static_assert(static_cast<int>(cbor::Type::map) == PYCTX_CBOR_MAP);
static_assert(static_cast<int>(cbor::Type::tag) == PYCTX_CBOR_TAG);
static_assert(static_cast<int>(cbor::Type::false_) == PYCTX_CBOR_FALSE);
static_assert(static_cast<int>(cbor::Type::true_) == PYCTX_CBOR_TRUE);
static_assert(static_cast<int>(cbor::Type::null) == PYCTX_CBOR_NULL);
static_assert(static_cast<int>(cbor::Type::undefined) == PYCTX_CBOR_UNDEFINED);
static_assert(static_cast<int>(cbor::Type::float_) == PYCTX_CBOR_FLOAT);
static_assert(static_cast<int>(cbor::Type::simple) == PYCTX_CBOR_SIMPLE);
static_assert(static_cast<int>(cbor::Type::break_) == PYCTX_CBOR_BREAK);

}  // namespace
