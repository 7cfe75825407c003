%% @doc Run Python inside the Erlang VM.
%%
%% A context is a Python execution lane with its own OS thread, in `worker'
%% mode (the main interpreter, shared GIL), `owngil' mode (a subinterpreter
%% with its own GIL: contexts run in parallel) or `process' mode (the main
%% interpreter of a child process: parallel, any extension, and a crash there
%% answers that context's requests `{error, {crashed, Reason}}' instead of
%% taking the VM down). No function here blocks a
%% scheduler: every request is submitted asynchronously by the NIF and the
%% library's completion thread answers the calling process with a message
%%
%%     {pyctx, Ref, Reply}     Reply = {ok, Value} | ok | {error, Reason}
%%
%% (`ok' for exec requests). The synchronous functions submit and then
%% `receive' that message with a timeout; on timeout they cancel the request
%% and guarantee that no late reply ever reaches the mailbox.
%%
%% Values are mapped as described in the README ("Term mapping").
-module(pyctx).

-export([start_context/0, start_context/1, stop_context/1, stop_context/2,
         context_info/1, new_env/1,
         call/3, call/4, call/5,
         eval/2, eval/3, eval/4,
         exec/2, exec/3,
         call_async/4, call_async/5,
         eval_async/2, eval_async/3, eval_async/4,
         exec_async/2, exec_async/3,
         await/1, await/2, cancel/1,
         object_call/2, object_call/3, method_call/3, method_call/4,
         getattr/2, getattr/3, release/1, release/2,
         object_call_async/2, object_call_async/3, method_call_async/3, method_call_async/4,
         getattr_async/2, getattr_async/3, release_async/1, object_info/1,
         call_stream/4, call_stream/5, eval_stream/2, eval_stream/3, eval_stream/4,
         object_stream/2, object_stream/3, method_stream/3, method_stream/4,
         stream_demand/2, stream_cancel/1, stream_next/1, stream_next/2,
         lend/1, lend/2, buffer_stats/1,
         register_function/2, unregister_function/1,
         store_put/2, store_get/1, store_cas/3, store_delete/1, store_delete/2,
         store_keys/0, store_keys/1,
         forward_logging/1, forward_logging/2, stop_forwarding_logging/0,
         default_context/0, ensure_runtime/0, runtime_state/0, versions/0]).
%% Pools: N contexts behind one submit path (the C library's pyctx_pool_t),
%% optionally spread over connected nodes (pyctx_dist).
-export([start_pool/2, stop_pool/1, stop_pool/2, resize_pool/2, resize_pool/3,
         pool_info/1, pool_members/1, pool_contexts/1, pool_new_env/1, pools/0]).
%% @private for pyctx_pool and pyctx_dist
-export([sandbox_args/1, keep_child_exit_status/1, pool_submit/6]).

%% Channels: bounded two-way queues with Python code in a context.
-export([channel_new/1, channel_new/2, channel_id/1,
         channel_send/2, channel_send/3, channel_try_send/2,
         channel_recv/1, channel_recv/2, channel_try_recv/1,
         channel_close/1, channel_stats/1, channel_active/2]).
-export_type([channel/0, channel_opts/0, channel_stats/0, channel_event/0]).

-export_type([context/0, env/0, target/0, request/0, value/0, reason/0, object/0,
              object_opts/0, result_form/0, stream/0, stream_opts/0, stream_event/0,
              buffer/0, lend_opts/0,
              context_opts/0, call_opts/0, eval_opts/0, name/0, pool/0, pool_opts/0, route/0]).

%% A context handle (a NIF resource): freed, and its context closed, when no
%% reference to it remains.
-opaque context() :: reference().
%% A Python namespace living in one context; usable wherever a context is
%% accepted by eval and exec.
-opaque env() :: reference().
-type target() :: context() | env().
%% A pending asynchronous request; the reply message carries it.
-opaque request() :: reference().
%% A handle to a live Python object in one context (a NIF resource): its
%% Python reference is dropped when the handle is garbage collected, or by
%% release/1. Pass it in arguments (nested anywhere) to hand Python the
%% object itself.
-opaque object() :: reference().
-type value() :: term().
%% What a call, eval or object request returns: the value (default), a
%% handle to the result (`object'), or the bytes of a buffer-protocol
%% result without a copy (`buffer': a binary over Python's memory).
-type result_form() :: value | object | buffer.
-type name() :: atom() | binary() | string().
-type reason() :: timeout | cancelled | closed | not_running | queue_full
                | {python, Type :: binary(), Message :: binary(), Traceback :: binary()}
                | {encode | decode | invalid_argument | unsupported | not_found
                   | no_memory | stuck | internal | already_initialized, binary()}
                %% a process context's child died; the binary names its pid
                %% and the signal or exit code
                | {crashed, binary()}
                | no_reply
                %% stream_next/1,2 called by a process that does not own the stream
                | not_owner.
-type timeout_ms() :: non_neg_integer() | infinity.
%% A pool is named by an atom (`default' is the application's pool behind
%% call/3); pass the name wherever a context is accepted by call, eval and
%% exec (and their async forms).
-type pool() :: atom().
-type pool_opts() :: #{size => 1..256,
                       routing => least_queued | round_robin | by_key,
                       queue_bound => non_neg_integer(),
                       replace => replace | leave,
                       key_memory => non_neg_integer(),
                       distributed => boolean(),
                       member_capacity => pos_integer(),
                       pool_name => name(),
                       %% and every context option but owner: mode, name,
                       %% preload, queue_capacity, sandbox, memory_limit,
                       %% max_restarts, restart_window, process_helper,
                       %% process_output
                       atom() => term()}.
-type context_opts() :: #{mode => worker | owngil | process,
                          name => name(),
                          preload => iodata(),
                          queue_capacity => non_neg_integer(),
                          owner => pid(),
                          sandbox => sandbox_opts(),
                          memory_limit => non_neg_integer(),
                          max_restarts => non_neg_integer(),
                          restart_window => non_neg_integer(),
                          process_helper => iodata(),
                          process_output => stderr | log}.
-type sandbox_opts() :: #{block_process_creation => boolean(),
                          block_sockets => boolean(),
                          restrict_files => boolean(),
                          allow_paths => [{iodata(), read_only | read_write}]}.
-type call_opts() :: #{kwargs => #{atom() | binary() => value()} | [{atom() | binary(), value()}],
                       timeout => timeout_ms(),
                       result => result_form(),
                       %% pools only: route by key; a reply that also says
                       %% where it ran, {ok, Value, route()}
                       key => term(),
                       route_info => boolean()}.
%% Where a pool request with `route_info' ran: the member's id, and whether
%% its key (if any) had last been routed to another member.
-type route() :: #{member := non_neg_integer(), key_moved := boolean()}.
-type eval_opts() :: #{timeout => timeout_ms(), result => result_form(),
                       key => term(), route_info => boolean()}.
-type object_opts() :: #{kwargs => #{atom() | binary() => value()} | [{atom() | binary(), value()}],
                         timeout => timeout_ms(),
                         result => result_form()}.
%% A stream of the items of a generator, async generator or iterator,
%% owned by the process that opened it (a NIF resource, is_reference/1).
-opaque stream() :: reference().
-type stream_opts() :: #{kwargs => #{atom() | binary() => value()} | [{atom() | binary(), value()}],
                         demand => non_neg_integer()}.
%% An Erlang binary lent to Python read-only without a copy (a NIF
%% resource): put it in arguments and Python receives a `memoryview' of the
%% binary's own bytes.
-opaque buffer() :: reference().
-type lend_opts() :: #{format => iodata(), shape => [non_neg_integer()]}.
%% The payload of a `{pyctx_stream, Stream, Event}' message.
-type stream_event() :: {item, value()} | done | {error, reason()}.

%% The host's end of a channel (a NIF resource, is_reference/1): a bounded
%% two-way queue with Python code, which opens it with
%% `pyctx.Channel(channel_id(Ch))'. Garbage collecting it closes the channel.
-opaque channel() :: reference().
-type channel_opts() :: #{bytes => boolean()}.
%% The payload of a `{pyctx_channel, Channel, Event}' message (channel_active/2).
-type channel_event() :: {data, value()} | {error, reason()} | passive | closed.
-type channel_stats() :: #{to_python := non_neg_integer(),
                           from_python := non_neg_integer(),
                           queued_to_python := non_neg_integer(),
                           queued_to_host := non_neg_integer()}.

%% The timeout of the synchronous calls, as gen_server:call/2 has.
-define(DEFAULT_TIMEOUT, 5000).
-define(STOP_TIMEOUT, 5000).
-define(MAX_LIBRARY_TIMEOUT, 16#FFFFFFFF).
%% Synchronous requests carry no library deadline: the caller's receive
%% timeout, followed by abandon (which cancels), enforces it, and the
%% library's deadline bookkeeping would only add cost per request.
-define(NO_DEADLINE, 0).

%%% ---------------------------------------------------------------------
%%% Contexts
%%% ---------------------------------------------------------------------

%% @equiv start_context(#{})
-spec start_context() -> {ok, context()} | {error, reason()}.
start_context() ->
    start_context(#{}).

%% @doc Starts a context. Options: `mode' (`worker' default, `owngil' or
%% `process'),
%% `name' (thread and log name), `preload' (Python code run first in the
%% context's default namespace), `queue_capacity' (0: unbounded), `owner'
%% (a pid: the context is closed when that process dies), `sandbox' (a
%% policy: `block_process_creation', `block_sockets', `restrict_files'
%% booleans and `allow_paths', a list of `{AbsolutePath, read_only |
%% read_write}'; a blocked operation raises PermissionError in Python, an
%% audit hook that is no boundary against C code, see the README),
%% `memory_limit' (bytes, owngil and process contexts: over it Python gets
%% MemoryError, a process context's cap is its child's address space; a
%% worker context with a limit is `{error, {unsupported, _}}'). Process
%% contexts also take `max_restarts' (default 0: a crash of the child closes
%% the context; otherwise a new child is started, the preload run again, up
%% to that many times within any `restart_window' milliseconds, 0: over the
%% context's life), `process_helper' (the helper executable; a path that
%% is not one is `{error, {not_found, _}}') and `process_output' (`stderr',
%% the default: the child's stdout and stderr go to this node's stderr;
%% `log': each line is a log record, logger `pyctx.process.stdout' at 20 or
%% `pyctx.process.stderr' at 30, for the log forwarding of this node).
%% Starts the Python runtime first if needed.
-spec start_context(context_opts()) -> {ok, context()} | {error, reason()}.
start_context(Opts) when is_map(Opts) ->
    check_options(Opts, [mode, name, preload, queue_capacity, owner, sandbox, memory_limit,
                         max_restarts, restart_window, process_helper, process_output]),
    ProcessOpts = {uint32_option(max_restarts, Opts), uint32_option(restart_window, Opts),
                   maps:get(process_helper, Opts, undefined),
                   maps:get(process_output, Opts, stderr)},
    {SandboxFlags, AllowPaths} = sandbox_args(maps:get(sandbox, Opts, undefined)),
    Mode = maps:get(mode, Opts, worker),
    case ensure_runtime() of
        ok ->
            keep_child_exit_status(Mode),
            pyctx_nif:context_start(Mode,
                                    maps:get(name, Opts, undefined),
                                    maps:get(preload, Opts, undefined),
                                    maps:get(queue_capacity, Opts, 0),
                                    maps:get(owner, Opts, undefined),
                                    SandboxFlags, AllowPaths,
                                    maps:get(memory_limit, Opts, 0),
                                    ProcessOpts);
        Error ->
            Error
    end.

uint32_option(Key, Opts) ->
    case maps:get(Key, Opts, 0) of
        N when is_integer(N), N >= 0, N =< ?MAX_LIBRARY_TIMEOUT -> N;
        Other -> error({bad_option, {Key, Other}})
    end.

%% The BEAM ignores SIGCHLD, so the kernel would discard the exit status of
%% a process context's child: restore the default first (see
%% c_src/nif_process.c), unless the application says not to.
keep_child_exit_status(Mode) when Mode =:= process; Mode =:= <<"process">>; Mode =:= "process" ->
    case application:get_env(pyctx, process_exit_status, true) of
        true -> pyctx_nif:keep_child_exit_status();
        false -> unchanged
    end;
keep_child_exit_status(_Mode) ->
    unchanged.

%% @equiv stop_context(Ctx, 5000)
-spec stop_context(context()) -> ok | {error, reason()}.
stop_context(Ctx) ->
    stop_context(Ctx, ?STOP_TIMEOUT).

%% @doc Closes a context: pending requests are answered `{error, closed}',
%% a running one is interrupted. Waits up to `TimeoutMs' for Python to
%% return (`{error, {stuck, _}}' if it does not). Idempotent.
-spec stop_context(context(), non_neg_integer()) -> ok | {error, reason()}.
stop_context(Ctx, TimeoutMs) ->
    pyctx_nif:context_stop(Ctx, TimeoutMs).

%% @doc Name, mode, whether it is closed, and request counters.
-spec context_info(context()) -> map() | {error, reason()}.
context_info(Ctx) ->
    pyctx_nif:context_info(Ctx).

%% @doc A fresh Python namespace in `Ctx', persisting across requests. Pass
%% it instead of the context to eval and exec.
-spec new_env(context()) -> {ok, env()} | {error, reason()}.
new_env(Ctx) ->
    pyctx_nif:env_new(Ctx).

%% @doc A context handle of a member of the application's default pool,
%% the members in turn. Dropping it does not close the member.
-spec default_context() -> {ok, context()} | {error, not_running}.
default_context() ->
    case pyctx_pool:lookup(default) of
        #{pool := Pool, counter := Counter} ->
            {Size, _Queued} = pyctx_nif:pool_load(Pool),
            N = atomics:add_get(Counter, 1, 1),
            case Size of
                0 -> {error, not_running};
                _ -> pyctx_nif:pool_member(Pool, N rem Size)
            end;
        undefined ->
            {error, not_running}
    end.

%%% ---------------------------------------------------------------------
%%% Synchronous requests
%%% ---------------------------------------------------------------------

%% @doc `Module.Function(*Args)' on a member of the default pool (the
%% pool's routing: least queued, an awake member first).
-spec call(name(), name(), [value()]) -> {ok, value()} | {error, reason()}.
call(Module, Function, Args) ->
    call(default, Module, Function, Args).

%% @doc `Module.Function(*Args)' with the default timeout (5000 ms), on a
%% context or a pool (by name). `Function' may be a dotted path such as
%% `<<"Path.home">>'.
-spec call(context() | pool(), name(), name(), [value()]) -> {ok, value()} | {error, reason()}.
call(Pool, Module, Function, Args) when is_atom(Pool) ->
    pool_sync(Pool, {call, Module, Function, Args, []}, #{}, []);
call(Ctx, Module, Function, Args) ->
    wait(pyctx_nif:call(Ctx, Module, Function, Args, [], ?NO_DEADLINE, owner()), ?DEFAULT_TIMEOUT).

%% @doc `Module.Function(*Args, **Kwargs)'. Options: `kwargs', `timeout',
%% `result'; on a pool also `key' (routes by key) and `route_info' (an ok
%% reply is `{ok, Value, #{member => Id, key_moved => Bool}}').
-spec call(context() | pool(), name(), name(), [value()], call_opts()) ->
          {ok, value()} | {ok, value(), route()} | {error, reason()}.
call(Pool, Module, Function, Args, Opts) when is_atom(Pool), is_map(Opts) ->
    pool_sync(Pool, {call, Module, Function, Args, maps:get(kwargs, Opts, [])}, Opts,
              [kwargs, timeout, result, key, route_info]);
call(Ctx, Module, Function, Args, Opts) when is_map(Opts) ->
    check_options(Opts, [kwargs, timeout, result]),
    Timeout = check_timeout(maps:get(timeout, Opts, ?DEFAULT_TIMEOUT)),
    wait(submit_call(Ctx, Module, Function, Args, Opts, ?NO_DEADLINE), Timeout).

%% @doc Evaluates a Python expression.
-spec eval(target(), iodata()) -> {ok, value()} | {error, reason()}.
eval(Target, Expression) ->
    eval(Target, Expression, #{}, #{}).

%% @doc Evaluates an expression with `Bindings' (names to values) visible
%% as local variables.
-spec eval(target(), iodata(), #{atom() | binary() => value()}) ->
          {ok, value()} | {error, reason()}.
eval(Target, Expression, Bindings) ->
    eval(Target, Expression, Bindings, #{}).

%% @doc eval/3 with options: `timeout', `result'; on a pool also `key' and
%% `route_info' (as for call/5).
-spec eval(target(), iodata(), #{atom() | binary() => value()}, eval_opts()) ->
          {ok, value()} | {ok, value(), route()} | {error, reason()}.
eval(Pool, Expression, Bindings, Opts) when is_atom(Pool), is_map(Opts) ->
    pool_sync(Pool, {eval, Expression, Bindings}, Opts, [timeout, result, key, route_info]);
eval(Target, Expression, Bindings, Opts) when is_map(Opts) ->
    check_options(Opts, [timeout, result]),
    Timeout = check_timeout(maps:get(timeout, Opts, ?DEFAULT_TIMEOUT)),
    wait(submit_eval(Target, Expression, Bindings, Opts, ?NO_DEADLINE), Timeout).

%% @doc Executes Python statements (in the context's default namespace, or
%% in an env).
-spec exec(target(), iodata()) -> ok | {error, reason()}.
exec(Target, Code) ->
    exec(Target, Code, #{}).

%% @doc exec/2 with options: `timeout'; on a pool also `key' and
%% `route_info' (the reply is then `{ok, route()}').
-spec exec(target(), iodata(), eval_opts()) -> ok | {ok, route()} | {error, reason()}.
exec(Pool, Code, Opts) when is_atom(Pool), is_map(Opts) ->
    pool_sync(Pool, {exec, Code}, Opts, [timeout, key, route_info]);
exec(Target, Code, Opts) when is_map(Opts) ->
    check_options(Opts, [timeout]),
    Timeout = check_timeout(maps:get(timeout, Opts, ?DEFAULT_TIMEOUT)),
    wait(pyctx_nif:exec(Target, Code, ?NO_DEADLINE, owner()), Timeout).

%%% ---------------------------------------------------------------------
%%% Asynchronous requests
%%% ---------------------------------------------------------------------

%% @doc Submits a call and returns at once. The reply arrives as
%% `{pyctx, Ref, {ok, Value} | {error, Reason}}'; see await/1,2.
-spec call_async(context(), name(), name(), [value()]) -> {ok, request()} | {error, reason()}.
call_async(Pool, Module, Function, Args) when is_atom(Pool) ->
    pool_async(Pool, {call, Module, Function, Args, []}, #{}, []);
call_async(Ctx, Module, Function, Args) ->
    submitted(pyctx_nif:call(Ctx, Module, Function, Args, [], 0, owner())).

%% @doc call_async/4 with options: `kwargs', `timeout' (a deadline for the
%% request itself; none by default).
-spec call_async(context(), name(), name(), [value()], call_opts()) ->
          {ok, request()} | {error, reason()}.
call_async(Pool, Module, Function, Args, Opts) when is_atom(Pool), is_map(Opts) ->
    pool_async(Pool, {call, Module, Function, Args, maps:get(kwargs, Opts, [])}, Opts,
               [kwargs, timeout, result, key, route_info]);
call_async(Ctx, Module, Function, Args, Opts) when is_map(Opts) ->
    check_options(Opts, [kwargs, timeout, result]),
    submitted(submit_call(Ctx, Module, Function, Args, Opts,
                          library_timeout(maps:get(timeout, Opts, infinity)))).

-spec eval_async(target(), iodata()) -> {ok, request()} | {error, reason()}.
eval_async(Target, Expression) ->
    eval_async(Target, Expression, #{}, #{}).

-spec eval_async(target(), iodata(), map()) -> {ok, request()} | {error, reason()}.
eval_async(Target, Expression, Bindings) ->
    eval_async(Target, Expression, Bindings, #{}).

-spec eval_async(target(), iodata(), map(), eval_opts()) -> {ok, request()} | {error, reason()}.
eval_async(Pool, Expression, Bindings, Opts) when is_atom(Pool), is_map(Opts) ->
    pool_async(Pool, {eval, Expression, Bindings}, Opts, [timeout, result, key, route_info]);
eval_async(Target, Expression, Bindings, Opts) when is_map(Opts) ->
    check_options(Opts, [timeout, result]),
    submitted(submit_eval(Target, Expression, Bindings, Opts,
                          library_timeout(maps:get(timeout, Opts, infinity)))).

%% @doc Submits statements; the reply is `{pyctx, Ref, ok | {error, Reason}}'.
-spec exec_async(target(), iodata()) -> {ok, request()} | {error, reason()}.
exec_async(Target, Code) ->
    exec_async(Target, Code, #{}).

-spec exec_async(target(), iodata(), eval_opts()) -> {ok, request()} | {error, reason()}.
exec_async(Pool, Code, Opts) when is_atom(Pool), is_map(Opts) ->
    pool_async(Pool, {exec, Code}, Opts, [timeout, key, route_info]);
exec_async(Target, Code, Opts) when is_map(Opts) ->
    check_options(Opts, [timeout]),
    submitted(pyctx_nif:exec(Target, Code, library_timeout(maps:get(timeout, Opts, infinity)),
                             owner())).

%% @equiv await(Ref, infinity)
-spec await(request()) -> {ok, value()} | ok | {error, reason()}.
await(Ref) ->
    await(Ref, infinity).

%% @doc Waits for the reply of an asynchronous request made by this
%% process. A timeout returns `{error, timeout}' and leaves the request
%% running (await again, or cancel/1 it). `{error, cancelled}' after
%% cancel/1; `{error, no_reply}' when the reply was already received.
-spec await(request(), timeout_ms()) -> {ok, value()} | ok | {error, reason()}.
await(Ref, Timeout) ->
    receive
        {pyctx, Ref, Reply} -> Reply
    after 0 ->
        case request_state(Ref) of
            remote ->
                pyctx_dist:await(Ref, Timeout);
            abandoned ->
                {error, cancelled};
            sent ->
                %% sent before the state was read: in the mailbox by now,
                %% unless it was already received
                receive {pyctx, Ref, Reply} -> Reply after 0 -> {error, no_reply} end;
            _PendingOrSending ->
                receive {pyctx, Ref, Reply} -> Reply after Timeout -> {error, timeout} end
        end
    end.

%% @doc Cancels a request. Called by the process that made it, it also
%% guarantees that no reply for `Ref' is (or will be) in its mailbox; any
%% other process only triggers the cancel, and the owner receives
%% `{error, cancelled}' (or the result, if the request already finished).
-spec cancel(request()) -> ok.
cancel(Ref) ->
    case abandon(Ref) of
        remote -> pyctx_dist:cancel(Ref);
        sending -> wait_sent(Ref), flush_reply(Ref);
        sent -> flush_reply(Ref);
        _AbandonedOrNotOwner -> ok
    end.

%% The completion thread marks a reply `sent' just after enif_send, so the
%% owner may already have received it (an await that returned) while the
%% state still reads `sending'. Wait out that short window instead of
%% waiting for a message that may be gone.
wait_sent(Ref) ->
    case request_state(Ref) of
        sending -> erlang:yield(), wait_sent(Ref);
        _ -> ok
    end.

flush_reply(Ref) ->
    receive {pyctx, Ref, _} -> ok after 0 -> ok end.

%% A request made on another node (pyctx_dist) is a plain reference, not a
%% NIF request resource.
request_state(Ref) ->
    try pyctx_nif:request_state(Ref)
    catch error:badarg when is_reference(Ref) -> remote
    end.

abandon(Ref) ->
    try pyctx_nif:abandon(Ref)
    catch error:badarg when is_reference(Ref) -> remote
    end.

%%% ---------------------------------------------------------------------
%%% Pools
%%% ---------------------------------------------------------------------
%%
%% A pool is N contexts of one mode made from the same options, behind one
%% submit path: the C library's pool (pyctx_pool_t), so routing (least
%% queued preferring an awake member, round robin, or by key), resizing,
%% replacing members that close or crash and the stats are the library's.
%% A pool is named by an atom and used wherever a context is accepted by
%% call, eval and exec; replies are the same messages. With `distributed'
%% the pool also takes part in the pool of that name over connected nodes
%% (pyctx_dist): a call runs on a member here while one has capacity,
%% otherwise on the least loaded node that has the pool.

%% @doc Starts the pool `Name' under the application's supervisor. Options:
%% `size' (members, 1..256, default 1), `routing' (`least_queued', default,
%% `round_robin' or `by_key'), `queue_bound' (requests queued over all
%% members at most, 0 default: unbounded; beyond it `{error, queue_full}'
%% at once), `replace' (`replace', default: a member that closes or crashes
%% is replaced by a new one; `leave': the pool shrinks), `key_memory' (keys
%% remembered for moved-key reports, default 65536), `distributed' (default
%% false: join the pool of this name on other nodes), `member_capacity'
%% (distribution: queued requests per member this node still counts as
%% capacity, default 2), `pool_name' (the library's name for the pool,
%% default the atom's text), and every context option but `owner' (mode,
%% name, preload, queue_capacity, sandbox, memory_limit, max_restarts,
%% restart_window, process_helper, process_output) for each member.
-spec start_pool(pool(), pool_opts()) -> {ok, pid()} | {error, reason() | already_started}.
start_pool(Name, Opts) when is_atom(Name), is_map(Opts) ->
    check_options(Opts, [size, routing, queue_bound, replace, key_memory, distributed,
                         member_capacity, pool_name,
                         mode, name, preload, queue_capacity, sandbox, memory_limit,
                         max_restarts, restart_window, process_helper, process_output]),
    check_pool_options(Opts),
    _ = sandbox_args(maps:get(sandbox, Opts, undefined)),
    try supervisor:start_child(pyctx_pool_sup, [Name, Opts]) of
        {ok, Pid} -> {ok, Pid};
        {error, {already_started, _}} -> {error, already_started};
        {error, {pool, Reason}} -> {error, Reason};
        {error, Reason} -> {error, Reason}
    catch exit:{noproc, _} -> {error, not_running}
    end.

check_pool_options(Opts) ->
    Check = fun(Key, Pred) ->
                    case maps:find(Key, Opts) of
                        {ok, V} -> Pred(V) orelse error({bad_option, {Key, V}});
                        error -> true
                    end
            end,
    Uint = fun(V) -> is_integer(V) andalso V >= 0 end,
    Check(size, fun(V) -> is_integer(V) andalso V >= 1 end),
    Check(routing, fun(V) -> lists:member(V, [least_queued, round_robin, by_key]) end),
    Check(replace, fun(V) -> V =:= replace orelse V =:= leave end),
    Check(queue_bound, Uint),
    Check(key_memory, Uint),
    Check(queue_capacity, Uint),
    Check(memory_limit, Uint),
    Check(distributed, fun is_boolean/1),
    Check(member_capacity, fun(V) -> is_integer(V) andalso V >= 1 end),
    Check(max_restarts, fun(V) -> Uint(V) andalso V =< ?MAX_LIBRARY_TIMEOUT end),
    Check(restart_window, fun(V) -> Uint(V) andalso V =< ?MAX_LIBRARY_TIMEOUT end),
    Check(process_output, fun(V) -> V =:= stderr orelse V =:= log end),
    ok.

%% @equiv stop_pool(Name, 5000)
-spec stop_pool(pool()) -> ok | {error, reason() | not_found}.
stop_pool(Name) ->
    stop_pool(Name, ?STOP_TIMEOUT).

%% @doc Closes the pool: it takes no new requests (they get `{error,
%% not_running}' here, or go to other nodes), queued ones complete
%% `{error, closed}', running ones are interrupted, all within
%% `TimeoutMs'.
-spec stop_pool(pool(), timeout_ms()) -> ok | {error, reason() | not_found}.
stop_pool(Name, TimeoutMs) when is_atom(Name) ->
    pyctx_pool:stop(Name, close_timeout(TimeoutMs)).

%% @equiv resize_pool(Name, Size, infinity)
-spec resize_pool(pool(), pos_integer()) -> ok | {error, reason() | not_found}.
resize_pool(Name, Size) ->
    resize_pool(Name, Size, infinity).

%% @doc Grows the pool (new members with the same options; the pool is
%% unchanged if one cannot be made) or shrinks it: the leaving members
%% take no new requests at once, finish their queues for up to `TimeoutMs'
%% and close (what is left then completes `{error, closed}'). Returns once
%% they have closed.
-spec resize_pool(pool(), pos_integer(), timeout_ms()) -> ok | {error, reason() | not_found}.
resize_pool(Name, Size, TimeoutMs) when is_atom(Name), is_integer(Size) ->
    pyctx_pool:resize(Name, Size, resize_timeout(TimeoutMs)).

%% The library's waits: pyctx_pool_close takes 0 as "no wait" (and has no
%% unlimited value: the largest is about 49 days), pyctx_pool_resize takes
%% 0 (PYCTX_NO_TIMEOUT) as "as long as it takes", so a resize of 0 waits
%% the shortest time, 1 ms.
close_timeout(infinity) -> ?MAX_LIBRARY_TIMEOUT;
close_timeout(T) when is_integer(T), T >= 0, T =< ?MAX_LIBRARY_TIMEOUT -> T;
close_timeout(T) -> error({bad_option, {timeout, T}}).

resize_timeout(infinity) -> 0;
resize_timeout(0) -> 1;
resize_timeout(T) when is_integer(T), T > 0, T =< ?MAX_LIBRARY_TIMEOUT -> T;
resize_timeout(T) -> error({bad_option, {timeout, T}}).

%% @doc The pool's counters (the library's, over every member it ever
%% had): `name, size, closed, leaving, created, replaced, replace_failed,
%% refused_full, completed, failed, cancelled, timed_out, closed_requests,
%% queue_depth, keys_known', plus `distributed', `member_capacity' and
%% `nodes': what this node knows of the pool on other nodes, a list of
%% `#{node, server, queued, capacity, in_flight}' (`in_flight': this
%% node's requests there now).
-spec pool_info(pool()) -> map() | {error, not_found}.
pool_info(Name) ->
    case pyctx_pool:lookup(Name) of
        #{pool := Pool, distributed := Dist, capacity := Cap} ->
            case pyctx_nif:pool_info(Pool) of
                #{} = Info ->
                    Info#{distributed => Dist, member_capacity => Cap,
                          nodes => pyctx_dist:remote_load(Name)};
                Error ->
                    Error
            end;
        undefined ->
            {error, not_found}
    end.

%% @doc One map per member, in slot order: `member_id' (never reused),
%% `slot' (a replacement keeps it), `parked' and `busy' (hints), the
%% member's request counters, `queue_depth' and `thread_id'.
-spec pool_members(pool()) -> [map()] | {error, not_found}.
pool_members(Name) ->
    with_pool(Name, fun pyctx_nif:pool_members/1).

%% @doc A context handle of each member (its context_info/1, a set-up exec
%% on every member, closing one: the pool replaces it per its policy).
%% Dropping a handle does not close the member.
-spec pool_contexts(pool()) -> [context()] | {error, not_found}.
pool_contexts(Name) ->
    with_pool(Name, fun(Pool) ->
                            {Size, _} = pyctx_nif:pool_load(Pool),
                            lists:filtermap(fun(I) ->
                                                    case pyctx_nif:pool_member(Pool, I) of
                                                        {ok, Ctx} -> {true, Ctx};
                                                        _ -> false
                                                    end
                                            end, lists:seq(0, Size - 1))
                    end).

%% @doc An env on the least loaded member. It belongs to that member: eval
%% and exec with it (and object handles they return) go there; once the
%% member has left the pool they fail `{error, closed}'.
-spec pool_new_env(pool()) -> {ok, env()} | {error, reason() | not_found}.
pool_new_env(Name) ->
    with_pool(Name, fun pyctx_nif:pool_env_new/1).

%% @doc The pools running on this node.
-spec pools() -> [pool()].
pools() ->
    pyctx_pool:names().

with_pool(Name, Fun) ->
    case pyctx_pool:lookup(Name) of
        #{pool := Pool} -> Fun(Pool);
        undefined -> {error, not_found}
    end.

%% A synchronous pool request: routed here or, for a distributed pool, to
%% another node.
pool_sync(Name, Req, Opts, Allowed) ->
    check_options(Opts, Allowed),
    check_request(Req),
    Timeout = check_timeout(maps:get(timeout, Opts, ?DEFAULT_TIMEOUT)),
    Form = result_form(Opts),
    Key = maps:get(key, Opts, undefined),
    RouteInfo = route_info_option(Opts),
    case route(Name, Key, Form) of
        {local, Pool} ->
            wait(pool_submit(Pool, Req, Key, Form, ?NO_DEADLINE, RouteInfo), Timeout);
        {remote, Server} ->
            %% the remote request carries the caller's timeout as its
            %% deadline, so abandoned work stops there too
            Deadline = case Timeout of infinity -> 0; T -> library_timeout(T) end,
            pyctx_dist:call(Server, Name, Req, Key, Deadline, Timeout, RouteInfo);
        {error, _} = Error ->
            Error
    end.

pool_async(Name, Req, Opts, Allowed) ->
    check_options(Opts, Allowed),
    check_request(Req),
    Deadline = library_timeout(maps:get(timeout, Opts, infinity)),
    Form = result_form(Opts),
    Key = maps:get(key, Opts, undefined),
    RouteInfo = route_info_option(Opts),
    case route(Name, Key, Form) of
        {local, Pool} -> submitted(pool_submit(Pool, Req, Key, Form, Deadline, RouteInfo));
        {remote, Server} -> pyctx_dist:async(Server, Name, Req, Key, Deadline, RouteInfo);
        {error, _} = Error -> Error
    end.

%% The shapes the NIF would refuse with badarg, checked here too so that a
%% request routed to another node fails the same way, in the caller.
check_request({call, M, F, A, Kw}) ->
    is_name(M) andalso is_name(F) andalso is_list(A) andalso is_keywords(Kw)
        orelse error(badarg);
check_request({eval, Expr, Bindings}) ->
    is_name(Expr) andalso is_keywords(Bindings) orelse error(badarg);
check_request({exec, Code}) ->
    is_name(Code) orelse error(badarg).

is_name(T) -> is_atom(T) orelse is_binary(T) orelse is_list(T).
is_keywords(T) -> is_map(T) orelse is_list(T).

route(Name, Key, Form) ->
    case pyctx_pool:lookup(Name) of
        #{distributed := false, pool := Pool} -> {local, Pool};
        Entry -> pyctx_dist:route(Name, Entry, Key, Form)
    end.

route_info_option(Opts) ->
    case maps:get(route_info, Opts, false) of
        B when is_boolean(B) -> B;
        Other -> error({bad_option, {route_info, Other}})
    end.

%% Submits to a pool of this node; the NIF's request reference or
%% {error, Reason}. Also what pyctx_dist runs for requests from other nodes.
%% RouteInfo: an ok reply is {ok, Value, #{member, key_moved}}.
pool_submit(Pool, Req, Key, Form, Deadline, RouteInfo) ->
    KeyBin = case Key of
                 undefined -> undefined;
                 B when is_binary(B) -> B;
                 %% any term routes by key: its external format (stable
                 %% within one OTP release line, so across the nodes)
                 T -> term_to_binary(T)
             end,
    case Req of
        {call, M, F, A, Kw} when KeyBin =:= undefined, Form =:= value, not RouteInfo ->
            case pyctx_nif:pool_call(Pool, M, F, A, Kw, Deadline, owner()) of
                %% a lent buffer in the arguments needs a request object
                buffer -> pyctx_nif:pool_request(call, Pool, M, F, A, Kw, undefined, value,
                                                 Deadline, owner(), false);
                Submitted -> Submitted
            end;
        {call, M, F, A, Kw} ->
            pyctx_nif:pool_request(call, Pool, M, F, A, Kw, KeyBin, Form, Deadline, owner(),
                                   RouteInfo);
        {eval, Expr, Bindings} ->
            pyctx_nif:pool_request(eval, Pool, Expr, undefined, [], Bindings, KeyBin, Form,
                                   Deadline, owner(), RouteInfo);
        {exec, Code} ->
            pyctx_nif:pool_request(exec, Pool, Code, undefined, [], [], KeyBin, value,
                                   Deadline, owner(), RouteInfo)
    end.

%%% ---------------------------------------------------------------------
%%% Object handles
%%% ---------------------------------------------------------------------
%%
%% `call(Ctx, M, F, Args, #{result => object})' (and eval, and every
%% function below) returns `{ok, Object}', a handle to the live Python
%% result in that context. Its Python reference is dropped when the handle
%% is garbage collected or by release/1; afterwards, on another context,
%% or once its context is closed, every use is `{error, Reason}'
%% (`{invalid_argument, Msg}' released, `{decode, Msg}' as an argument of
%% another context, `closed'). Options as for call/5: `kwargs', `timeout',
%% `result'. Requests on one context run in order, so a release made after
%% a call runs after it.

%% @equiv object_call(Object, Args, #{})
-spec object_call(object(), [value()]) -> {ok, value()} | {error, reason()}.
object_call(Object, Args) ->
    object_call(Object, Args, #{}).

%% @doc `Object(*Args, **Kwargs)'.
-spec object_call(object(), [value()], object_opts()) -> {ok, value()} | {error, reason()}.
object_call(Object, Args, Opts) when is_map(Opts) ->
    object_sync(object_call, Object, undefined, Args, Opts, [kwargs, timeout, result]).

%% @equiv method_call(Object, Method, Args, #{})
-spec method_call(object(), name(), [value()]) -> {ok, value()} | {error, reason()}.
method_call(Object, Method, Args) ->
    method_call(Object, Method, Args, #{}).

%% @doc `Object.Method(*Args, **Kwargs)'.
-spec method_call(object(), name(), [value()], object_opts()) ->
          {ok, value()} | {error, reason()}.
method_call(Object, Method, Args, Opts) when is_map(Opts) ->
    object_sync(method_call, Object, Method, Args, Opts, [kwargs, timeout, result]).

%% @equiv getattr(Object, Name, #{})
-spec getattr(object(), name()) -> {ok, value()} | {error, reason()}.
getattr(Object, Name) ->
    getattr(Object, Name, #{}).

%% @doc `Object.Name'. Options: `timeout', `result'.
-spec getattr(object(), name(), object_opts()) -> {ok, value()} | {error, reason()}.
getattr(Object, Name, Opts) when is_map(Opts) ->
    object_sync(getattr, Object, Name, [], Opts, [timeout, result]).

%% @equiv release(Object, #{})
-spec release(object()) -> ok | {error, reason()}.
release(Object) ->
    release(Object, #{}).

%% @doc Drops the object's Python reference now (instead of at garbage
%% collection) and waits for it. The handle counts as released from the
%% submission on, even if the wait times out. Options: `timeout'.
-spec release(object(), #{timeout => timeout_ms()}) -> ok | {error, reason()}.
release(Object, Opts) when is_map(Opts) ->
    object_sync(release, Object, undefined, [], Opts, [timeout]).

-spec object_call_async(object(), [value()]) -> {ok, request()} | {error, reason()}.
object_call_async(Object, Args) ->
    object_call_async(Object, Args, #{}).

%% @doc object_call/3 answered by message, like call_async/5.
-spec object_call_async(object(), [value()], object_opts()) ->
          {ok, request()} | {error, reason()}.
object_call_async(Object, Args, Opts) when is_map(Opts) ->
    object_async(object_call, Object, undefined, Args, Opts, [kwargs, timeout, result]).

-spec method_call_async(object(), name(), [value()]) -> {ok, request()} | {error, reason()}.
method_call_async(Object, Method, Args) ->
    method_call_async(Object, Method, Args, #{}).

-spec method_call_async(object(), name(), [value()], object_opts()) ->
          {ok, request()} | {error, reason()}.
method_call_async(Object, Method, Args, Opts) when is_map(Opts) ->
    object_async(method_call, Object, Method, Args, Opts, [kwargs, timeout, result]).

-spec getattr_async(object(), name()) -> {ok, request()} | {error, reason()}.
getattr_async(Object, Name) ->
    getattr_async(Object, Name, #{}).

-spec getattr_async(object(), name(), object_opts()) -> {ok, request()} | {error, reason()}.
getattr_async(Object, Name, Opts) when is_map(Opts) ->
    object_async(getattr, Object, Name, [], Opts, [timeout, result]).

%% @doc release/1 answered by message: `{pyctx, Ref, ok | {error, Reason}}'.
-spec release_async(object()) -> {ok, request()} | {error, reason()}.
release_async(Object) ->
    object_async(release, Object, undefined, [], #{}, []).

%% @doc The handle's id in its context, whether it may still be used (not
%% released, context open), and its context's name.
-spec object_info(object()) -> #{id := non_neg_integer(), alive := boolean(),
                                 context := binary()}.
object_info(Object) ->
    pyctx_nif:object_info(Object).

object_sync(Kind, Object, A1, Args, Opts, Allowed) ->
    check_options(Opts, Allowed),
    Timeout = check_timeout(maps:get(timeout, Opts, ?DEFAULT_TIMEOUT)),
    wait(submit_object(Kind, Object, A1, Args, Opts, ?NO_DEADLINE), Timeout).

object_async(Kind, Object, A1, Args, Opts, Allowed) ->
    check_options(Opts, Allowed),
    submitted(submit_object(Kind, Object, A1, Args, Opts,
                            library_timeout(maps:get(timeout, Opts, infinity)))).

submit_object(Kind, Object, A1, Args, Opts, Deadline) ->
    pyctx_nif:request(Kind, Object, A1, undefined, Args, maps:get(kwargs, Opts, []),
                      result_form(Opts), Deadline, owner()).

%% The one-call path serves plain values; other result forms need a
%% request object.
submit_call(Ctx, Module, Function, Args, Opts, Deadline) ->
    Kwargs = maps:get(kwargs, Opts, []),
    case result_form(Opts) of
        value -> pyctx_nif:call(Ctx, Module, Function, Args, Kwargs, Deadline, owner());
        Form -> pyctx_nif:request(call, Ctx, Module, Function, Args, Kwargs, Form, Deadline,
                                  owner())
    end.

submit_eval(Target, Expression, Bindings, Opts, Deadline) ->
    case result_form(Opts) of
        value -> pyctx_nif:eval(Target, Expression, Bindings, Deadline, owner());
        Form -> pyctx_nif:request(eval, Target, Expression, undefined, [], Bindings, Form,
                                  Deadline, owner())
    end.

result_form(Opts) ->
    case maps:get(result, Opts, value) of
        Form when Form =:= value; Form =:= object; Form =:= buffer -> Form;
        Other -> error({bad_option, {result, Other}})
    end.

%%% ---------------------------------------------------------------------
%%% Streams
%%% ---------------------------------------------------------------------
%%
%% call_stream/4,5 (and eval_stream, object_stream, method_stream) open the
%% result -- a generator, an async generator, any iterator or iterable -- as
%% a stream owned by the calling process, which receives
%%
%%     {pyctx_stream, Stream, {item, Value}}     one per item, in order
%%     {pyctx_stream, Stream, done}              then exactly one of these
%%     {pyctx_stream, Stream, {error, Reason}}   two (the end)
%%
%% Demand works like `{active, N}': the iterator is never advanced more
%% times than the credit granted in total (`demand' at open, default 0,
%% then stream_demand/2). Finding the end takes one advance too, so a
%% stream of exactly N items granted N reports its end after one more
%% credit. An exception raised mid-stream ends it `{error, {python, ...}}'
%% after the items before it; stream_cancel/1 closes the iterator (a
%% generator's finally blocks run) and ends it `{error, cancelled}'; a
%% closed context ends it `{error, closed}'. The stream lives until its
%% end, or until its owner exits (which cancels it), like a port.

%% @equiv call_stream(Ctx, Module, Function, Args, #{})
-spec call_stream(context(), name(), name(), [value()]) -> {ok, stream()} | {error, reason()}.
call_stream(Ctx, Module, Function, Args) ->
    call_stream(Ctx, Module, Function, Args, #{}).

%% @doc Streams the result of `Module.Function(*Args, **Kwargs)'. Options:
%% `kwargs', `demand' (initial credit, default 0).
-spec call_stream(context(), name(), name(), [value()], stream_opts()) ->
          {ok, stream()} | {error, reason()}.
call_stream(Ctx, Module, Function, Args, Opts) when is_map(Opts) ->
    open_stream(call, Ctx, Module, Function, Args, Opts, [kwargs, demand]).

-spec eval_stream(target(), iodata()) -> {ok, stream()} | {error, reason()}.
eval_stream(Target, Expression) ->
    eval_stream(Target, Expression, #{}, #{}).

-spec eval_stream(target(), iodata(), map()) -> {ok, stream()} | {error, reason()}.
eval_stream(Target, Expression, Bindings) ->
    eval_stream(Target, Expression, Bindings, #{}).

%% @doc Streams the value of an expression. Options: `demand'.
-spec eval_stream(target(), iodata(), map(), #{demand => non_neg_integer()}) ->
          {ok, stream()} | {error, reason()}.
eval_stream(Target, Expression, Bindings, Opts) when is_map(Opts) ->
    check_options(Opts, [demand]),
    open_stream(eval, Target, Expression, undefined, [], Opts#{kwargs => Bindings}, [kwargs, demand]).

-spec object_stream(object(), [value()]) -> {ok, stream()} | {error, reason()}.
object_stream(Object, Args) ->
    object_stream(Object, Args, #{}).

%% @doc Streams the result of `Object(*Args, **Kwargs)'.
-spec object_stream(object(), [value()], stream_opts()) -> {ok, stream()} | {error, reason()}.
object_stream(Object, Args, Opts) when is_map(Opts) ->
    open_stream(object_call, Object, undefined, undefined, Args, Opts, [kwargs, demand]).

-spec method_stream(object(), name(), [value()]) -> {ok, stream()} | {error, reason()}.
method_stream(Object, Method, Args) ->
    method_stream(Object, Method, Args, #{}).

%% @doc Streams the result of `Object.Method(*Args, **Kwargs)'.
-spec method_stream(object(), name(), [value()], stream_opts()) ->
          {ok, stream()} | {error, reason()}.
method_stream(Object, Method, Args, Opts) when is_map(Opts) ->
    open_stream(method_call, Object, Method, undefined, Args, Opts, [kwargs, demand]).

%% @doc Grants `N' more credit: up to `N' more advances of the iterator,
%% each an item message (or the end). Ignored once the stream ended.
-spec stream_demand(stream(), non_neg_integer()) -> ok | {error, reason()}.
stream_demand(Stream, N) when is_integer(N), N >= 0 ->
    grant(Stream, N).

%% Credit is a 32-bit count in the library.
grant(Stream, N) when N > ?MAX_LIBRARY_TIMEOUT ->
    case pyctx_nif:stream_demand(Stream, ?MAX_LIBRARY_TIMEOUT) of
        ok -> grant(Stream, N - ?MAX_LIBRARY_TIMEOUT);
        Error -> Error
    end;
grant(Stream, N) ->
    pyctx_nif:stream_demand(Stream, N).

%% @doc Closes the iterator in its context (a generator's finally blocks
%% run, an async generator is aclose()d). The end message still comes,
%% exactly once: `{error, cancelled}' unless the stream had ended already.
-spec stream_cancel(stream()) -> ok | {error, reason()}.
stream_cancel(Stream) ->
    pyctx_nif:stream_cancel(Stream).

%% @equiv stream_next(Stream, infinity)
-spec stream_next(stream()) -> {ok, value()} | done | {error, reason()}.
stream_next(Stream) ->
    stream_next(Stream, infinity).

%% @doc The next item, for the owner: takes the next stream message from
%% the mailbox, granting one credit when none is outstanding. `done' or
%% `{error, Reason}' at the end (and on every later call); `{error,
%% timeout}' when nothing came in time (the stream goes on).
-spec stream_next(stream(), timeout_ms()) -> {ok, value()} | done | {error, reason()}.
stream_next(Stream, Timeout) ->
    receive
        {pyctx_stream, Stream, Event} -> next_reply(Event)
    after 0 ->
        case pyctx_nif:stream_pull(Stream) of
            {ended, End} ->
                %% the end message was sent before the stream read as ended
                receive {pyctx_stream, Stream, Event} -> next_reply(Event)
                after 0 -> End
                end;
            idle ->
                %% nothing owed and nothing on its way: an item that came
                %% meanwhile is here now; otherwise ask for one
                receive {pyctx_stream, Stream, Event} -> next_reply(Event)
                after 0 ->
                    case pyctx_nif:stream_demand(Stream, 1) of
                        ok -> next_event(Stream, Timeout);
                        Error -> Error
                    end
                end;
            owed ->
                next_event(Stream, Timeout);
            {error, _} = Error ->
                Error
        end
    end.

next_event(Stream, Timeout) ->
    receive {pyctx_stream, Stream, Event} -> next_reply(Event)
    after Timeout -> {error, timeout}
    end.

next_reply({item, Value}) -> {ok, Value};
next_reply(End) -> End.

open_stream(Kind, Target, A1, A2, Args, Opts, Allowed) ->
    check_options(Opts, Allowed),
    Demand = case maps:get(demand, Opts, 0) of
                 D when is_integer(D), D >= 0, D =< ?MAX_LIBRARY_TIMEOUT -> D;
                 D -> error({bad_option, {demand, D}})
             end,
    pyctx_nif:stream_open(Kind, Target, A1, A2, Args, maps:get(kwargs, Opts, []), Demand).

%%% ---------------------------------------------------------------------
%%% Borrowed buffers
%%% ---------------------------------------------------------------------
%%
%% lend/1,2 lends a binary to Python without a copy: the buffer it returns,
%% anywhere in a request's arguments (args, kwargs, eval bindings, nested
%% in lists and maps), reaches Python as a read-only `memoryview' over the
%% binary's own bytes. The NIF keeps the binary alive until the loan ends:
%% the buffer term is gone and every request and Python view of it too (a
%% view Python keeps in a global keeps the binary). `#{result => buffer}'
%% is the other direction: a buffer-protocol result (bytes, bytearray,
%% array.array, a numpy array) comes back as a binary over Python's memory,
%% which stays pinned until the binary is garbage collected.

%% @equiv lend(Binary, #{})
-spec lend(binary()) -> {ok, buffer()} | {error, reason()}.
lend(Binary) ->
    lend(Binary, #{}).

%% @doc Lends `Binary' read-only. Options: `format', a PEP 3118 / struct
%% element code such as `<<"d">>' or `<<"<i">>' (default unsigned bytes),
%% and `shape', a list of dimensions (default one dimension of all
%% elements); Python sees them as the view's format and shape.
-spec lend(binary(), lend_opts()) -> {ok, buffer()} | {error, reason()}.
lend(Binary, Opts) when is_map(Opts) ->
    check_options(Opts, [format, shape]),
    pyctx_nif:lend(Binary, maps:get(format, Opts, undefined), maps:get(shape, Opts, [])).

%% @doc Buffer counters of a context: views of lent buffers alive in its
%% Python now (`lent_views'), buffers lent to it over its life
%% (`lent_total'), and views of its Python objects held by Erlang binaries
%% now (`held_views'; the context cannot end its interpreter while any is
%% held: stop_context then reports `{error, {stuck, _}}').
-spec buffer_stats(context()) -> #{lent_views := non_neg_integer(),
                                   lent_total := non_neg_integer(),
                                   held_views := non_neg_integer()} | {error, reason()}.
buffer_stats(Ctx) ->
    pyctx_nif:buffer_stats(Ctx).

%%% ---------------------------------------------------------------------
%%% Host functions: Python calling Erlang
%%% ---------------------------------------------------------------------

%% @doc Makes `Fun' (a fun, or `{Module, Function}') callable from Python as
%% `pyctx.call(Name, *args)'. Each call runs in a new Erlang process; an
%% exception becomes `pyctx.HostError' in Python. Needs the application.
-spec register_function(name(), fun() | {module(), atom()}) -> ok | {error, reason()}.
register_function(Name, Fun) ->
    pyctx_host:register(Name, Fun).

-spec unregister_function(name()) -> ok | {error, reason()}.
unregister_function(Name) ->
    pyctx_host:unregister(Name).

%%% ---------------------------------------------------------------------
%%% Python talks to Erlang: pyctx.send and the shared store
%%% ---------------------------------------------------------------------
%%
%% In Python, `pyctx.send(Pid, Value)' sends `Value' to an Erlang process
%% (pids reach Python as `pyctx.HostTerm'), and `pyctx.send(pyctx.Symbol(
%% "name"), Value)' to a registered name; a dead pid or unknown name raises
%% `pyctx.SendError' (or returns False with `missing_ok=True'). Nothing to
%% set up on the Erlang side: the runtime installs the router.
%% With the application running, `pyctx.call("erlang.whereis", Name)' in
%% Python gives the pid registered as `Name' (a HostTerm) or None
%% (pyctx_host:whereis_name/1).
%%
%% The shared store is one key-value map per OS process, shared by Erlang
%% and every context (owngil ones too). Each write gets a version unique in
%% the process; `store_cas/3' writes only at the expected version (0: only
%% when absent). Python sees the same data with `pyctx.store_get/put/cas'.

-type version() :: non_neg_integer().

-spec store_put(name(), value()) -> {ok, version()} | {error, reason()}.
store_put(Key, Value) ->
    pyctx_nif:store_put(Key, Value).

-spec store_get(name()) -> {ok, value(), version()} | {error, not_found | reason()}.
store_get(Key) ->
    pyctx_nif:store_get(Key).

%% @doc Stores `Value' only when the entry's version is `Expected' (0: only
%% when absent): `{ok, NewVersion}', or `{conflict, CurrentVersion}' to retry
%% from (0 when absent).
-spec store_cas(name(), version(), value()) ->
          {ok, version()} | {conflict, version()} | {error, reason()}.
store_cas(Key, Expected, Value) ->
    pyctx_nif:store_cas(Key, Expected, Value).

-spec store_delete(name()) -> boolean() | {error, reason()}.
store_delete(Key) ->
    pyctx_nif:store_delete(Key, 0).

%% @doc Removes `Key' only at version `Expected' (0: any); true when removed.
-spec store_delete(name(), version()) -> boolean() | {error, reason()}.
store_delete(Key, Expected) ->
    pyctx_nif:store_delete(Key, Expected).

-spec store_keys() -> {ok, [binary()]} | {error, reason()}.
store_keys() ->
    pyctx_nif:store_keys(<<>>).

-spec store_keys(name()) -> {ok, [binary()]} | {error, reason()}.
store_keys(Prefix) ->
    pyctx_nif:store_keys(Prefix).

%%% ---------------------------------------------------------------------
%%% Channels
%%% ---------------------------------------------------------------------
%%
%% A channel holds at most `Capacity' values in each direction: a sender
%% facing a full side waits (or gets `{error, queue_full}' from the try
%% form), so both sides apply backpressure. Closing either end wakes every
%% waiter on both sides: values already queued can still be received, then
%% receivers get `{error, closed}' (Python: `pyctx.ChannelClosed').
%%
%% Waiting: the C API's channel waits block the calling thread and offer no
%% readiness callback, so a wait runs on a dirty I/O scheduler, one bounded
%% slice (at most 50 ms, ?CHANNEL_SLICE) per NIF call, looping here until
%% the deadline. A slice that times out takes nothing from the channel,
%% and a value the library hands out goes to the process that asked for
%% it: no value is lost or duplicated. A process killed while waiting frees its dirty
%% scheduler within a slice, and the try forms, tried first, cost no dirty
%% scheduler at all when a value (or room) is ready. Each waiting process
%% occupies one dirty I/O scheduler while it waits (10 by default: raise
%% it with `+SDio' for many concurrent waiters).

-define(CHANNEL_SLICE, 50).

%% @equiv channel_new(Capacity, #{})
-spec channel_new(pos_integer()) -> {ok, channel()} | {error, reason()}.
channel_new(Capacity) ->
    channel_new(Capacity, #{}).

%% @doc A channel of `Capacity' (>= 1) values per direction. `#{bytes =>
%% true}' makes a byte channel: Erlang sends binaries (or iodata) and
%% receives binaries, Python gets and sends `bytes', with no other
%% conversion. Otherwise values are terms, mapped as for requests.
-spec channel_new(pos_integer(), channel_opts()) -> {ok, channel()} | {error, reason()}.
channel_new(Capacity, Opts) when is_integer(Capacity), Capacity >= 0, is_map(Opts) ->
    check_options(Opts, [bytes]),
    Bytes = case maps:get(bytes, Opts, false) of
                B when is_boolean(B) -> B;
                Other -> error({bad_option, {bytes, Other}})
            end,
    pyctx_nif:channel_new(Capacity, Bytes).

%% @doc The id Python opens the channel by: `pyctx.Channel(Id)'.
-spec channel_id(channel()) -> pos_integer().
channel_id(Channel) ->
    pyctx_nif:channel_id(Channel).

%% @equiv channel_send(Channel, Value, 5000)
-spec channel_send(channel(), value()) -> ok | {error, reason()}.
channel_send(Channel, Value) ->
    channel_send(Channel, Value, ?DEFAULT_TIMEOUT).

%% @doc Sends `Value' to Python, waiting up to `Timeout' ms (or `infinity')
%% while Python's side is full: `ok', `{error, timeout}' (nothing was
%% sent), `{error, closed}', or `{error, {encode, Msg}}' for a term without
%% a Python mapping (on a byte channel, anything but iodata is
%% `{error, {invalid_argument, Msg}}').
-spec channel_send(channel(), value(), timeout_ms()) -> ok | {error, reason()}.
channel_send(Channel, Value, Timeout) ->
    Deadline = channel_deadline(Timeout),
    case pyctx_nif:channel_try_send(Channel, Value) of
        {full, _} when Timeout =:= 0 -> {error, timeout};
        {full, Encoded} -> channel_send_wait(Channel, Encoded, Deadline);
        Reply -> Reply
    end.

%% @doc channel_send/3 without waiting: `{error, queue_full}' when Python's
%% side is full.
-spec channel_try_send(channel(), value()) -> ok | {error, reason()}.
channel_try_send(Channel, Value) ->
    case pyctx_nif:channel_try_send(Channel, Value) of
        {full, _} -> {error, queue_full};
        Reply -> Reply
    end.

%% @equiv channel_recv(Channel, 5000)
-spec channel_recv(channel()) -> {ok, value()} | {error, reason()}.
channel_recv(Channel) ->
    channel_recv(Channel, ?DEFAULT_TIMEOUT).

%% @doc The next value Python sent, waiting up to `Timeout' ms (or
%% `infinity'): `{ok, Value}', `{error, timeout}', `{error, closed}' once
%% the channel is closed and drained, or `{error, {decode, Msg}}' for a
%% value without a term mapping (that value is consumed).
-spec channel_recv(channel(), timeout_ms()) -> {ok, value()} | {error, reason()}.
channel_recv(Channel, Timeout) ->
    Deadline = channel_deadline(Timeout),
    case pyctx_nif:channel_try_recv(Channel) of
        empty when Timeout =:= 0 -> {error, timeout};
        empty -> channel_recv_wait(Channel, Deadline);
        Reply -> Reply
    end.

%% @doc The next value if one is waiting, else `empty'.
-spec channel_try_recv(channel()) -> {ok, value()} | empty | {error, reason()}.
channel_try_recv(Channel) ->
    pyctx_nif:channel_try_recv(Channel).

%% @doc Closes both directions (idempotent).
-spec channel_close(channel()) -> ok.
channel_close(Channel) ->
    pyctx_nif:channel_close(Channel).

%% @doc Values each side received so far (`to_python', `from_python') and
%% values waiting now (`queued_to_python', `queued_to_host').
-spec channel_stats(channel()) -> channel_stats().
channel_stats(Channel) ->
    pyctx_nif:channel_stats(Channel).

%% @doc Active delivery, in the style of `{active, N}': the next `N' values
%% Python sends come to the calling process (the owner) as messages
%%
%%     {pyctx_channel, Channel, {data, Value}}     one per value, in order
%%     {pyctx_channel, Channel, {error, Reason}}   a value that had no mapping
%%     {pyctx_channel, Channel, passive}           the credit is used up
%%     {pyctx_channel, Channel, closed}            closed and drained: the end
%%
%% Calling it again while delivery runs adds `N' to the credit. A value is
%% only taken from the channel while credit remains, so never more than
%% the credit granted arrive, and each value arrives exactly once. `passive'
%% comes once each time delivery stops for lack of credit, after every value
%% of that credit; `closed' comes once, and then channel_active returns
%% `{error, closed}'. `channel_active(Channel, false)' withdraws the credit:
%% `ok' when delivery was running (a value already being received may
%% still arrive, then `passive'), `passive' when it was not (no message).
%% While delivery runs for one process, others get `{error, not_owner}';
%% the channel stays alive while it runs (it is then not garbage
%% collected), until its credit ends, it is closed, or the owner exits
%% (delivery stops, nothing more is sent). Delivery uses a thread of its
%% own while it runs (the library's receive blocks, and no scheduler may),
%% so grant credit in batches rather than one value at a time. Do not mix
%% it with channel_recv on the same channel: each value would go to one of
%% them, in no defined way.
-spec channel_active(channel(), pos_integer() | false) -> ok | passive | {error, reason()}.
channel_active(Channel, N) when N =:= false; is_integer(N), N > 0 ->
    pyctx_nif:channel_active(Channel, N).

channel_deadline(infinity) -> infinity;
channel_deadline(T) when is_integer(T), T >= 0 -> erlang:monotonic_time(millisecond) + T;
channel_deadline(_) -> error(badarg).

%% The next slice to wait, or `expired'.
channel_slice(infinity) ->
    ?CHANNEL_SLICE;
channel_slice(Deadline) ->
    case Deadline - erlang:monotonic_time(millisecond) of
        Left when Left =< 0 -> expired;
        Left -> min(Left, ?CHANNEL_SLICE)
    end.

channel_send_wait(Channel, Encoded, Deadline) ->
    case channel_slice(Deadline) of
        expired -> {error, timeout};
        Slice ->
            case pyctx_nif:channel_send_wait(Channel, Encoded, Slice) of
                {error, timeout} -> channel_send_wait(Channel, Encoded, Deadline);
                Reply -> Reply
            end
    end.

channel_recv_wait(Channel, Deadline) ->
    case channel_slice(Deadline) of
        expired -> {error, timeout};
        Slice ->
            case pyctx_nif:channel_recv_wait(Channel, Slice) of
                {error, timeout} -> channel_recv_wait(Channel, Deadline);
                Reply -> Reply
            end
    end.

%%% ---------------------------------------------------------------------
%%% Python logging to OTP logger
%%% ---------------------------------------------------------------------

%% @doc Routes Python `logging' records at or above `MinLevel' (a Python
%% level number: 10 debug ... 50 critical) from every context to OTP
%% `logger', with metadata `#{domain => [pyctx, python], python_logger,
%% context}'. Python never waits: beyond 1000 queued records they are
%% dropped and counted. The forwarder is a registered process,
%% `pyctx_log_forwarder'.
-spec forward_logging(non_neg_integer()) -> ok | {error, reason()}.
forward_logging(MinLevel) ->
    forward_logging(MinLevel, 1000).

-spec forward_logging(non_neg_integer(), pos_integer()) -> ok | {error, reason()}.
forward_logging(MinLevel, Capacity) ->
    Pid = case whereis(pyctx_log_forwarder) of
              undefined ->
                  P = spawn(fun log_forwarder/0),
                  try register(pyctx_log_forwarder, P), P
                  catch error:badarg -> exit(P, kill), whereis(pyctx_log_forwarder)
                  end;
              P -> P
          end,
    pyctx_nif:log_forward(Pid, MinLevel, Capacity).

-spec stop_forwarding_logging() -> ok | {error, reason()}.
stop_forwarding_logging() ->
    pyctx_nif:log_forward(none, 0, 0).

log_forwarder() ->
    receive
        {pyctx_log, Level, Logger, Message, Exception, Context, _Created} ->
            Text = case Exception of
                       <<>> -> Message;
                       _ -> <<Message/binary, "\n", Exception/binary>>
                   end,
            logger:log(otp_level(Level), "~ts", [Text],
                       #{domain => [pyctx, python], python_logger => Logger, context => Context}),
            log_forwarder()
    end.

otp_level(L) when L >= 50 -> critical;
otp_level(L) when L >= 40 -> error;
otp_level(L) when L >= 30 -> warning;
otp_level(L) when L >= 20 -> info;
otp_level(_) -> debug.

%%% ---------------------------------------------------------------------
%%% Runtime
%%% ---------------------------------------------------------------------

%% @doc Starts Python once per VM (with the application's `python_path').
%% Python cannot be restarted in the same OS process, so the runtime stays
%% up when the application stops.
-spec ensure_runtime() -> ok | {error, reason()}.
ensure_runtime() ->
    case pyctx_nif:runtime_state() of
        running -> ok;
        State when State =:= uninit; State =:= initing ->
            pyctx_nif:runtime_init(application:get_env(pyctx, python_path, []));
        _ShuttingDownOrStopped -> {error, not_running}
    end.

-spec runtime_state() -> uninit | initing | running | shutting_down | stopped.
runtime_state() ->
    pyctx_nif:runtime_state().

%% @doc Versions of the pyctx library and of Python, and whether this Python
%% supports owngil contexts.
-spec versions() -> #{pyctx := binary(), python := binary(), owngil := boolean()}.
versions() ->
    {Lib, Python, Owngil} = pyctx_nif:versions(),
    #{pyctx => Lib, python => Python, owngil => Owngil}.

%%% ---------------------------------------------------------------------
%%% Internal
%%% ---------------------------------------------------------------------

%% Waits for the reply of a request this process just submitted. On timeout
%% the request is abandoned (cancelled, its reply suppressed); a reply that
%% was already on its way is received and dropped here, so none is left in
%% the mailbox.
wait(Ref, Timeout) when is_reference(Ref) ->
    receive
        {pyctx, Ref, Reply} -> Reply
    after Timeout ->
        case pyctx_nif:abandon(Ref) of
            abandoned -> ok;
            _SendingOrSent -> receive {pyctx, Ref, _} -> ok end
        end,
        {error, timeout}
    end;
wait(Error, _Timeout) ->
    Error.

%% This process's owner handle: monitors the process once, so that its
%% pending requests are cancelled if it dies.
owner() ->
    case get('$pyctx_owner') of
        undefined ->
            Owner = pyctx_nif:owner_new(),
            put('$pyctx_owner', Owner),
            Owner;
        Owner ->
            Owner
    end.

submitted(Ref) when is_reference(Ref) -> {ok, Ref};
submitted(Error) -> Error.

check_timeout(infinity) -> infinity;
check_timeout(T) when is_integer(T), T >= 0, T =< ?MAX_LIBRARY_TIMEOUT -> T;
check_timeout(T) -> error({bad_option, {timeout, T}}).

%% The library's deadline for an asynchronous request (0 means none).
library_timeout(infinity) -> 0;
library_timeout(0) -> 1;
library_timeout(T) when is_integer(T), T > 0, T =< ?MAX_LIBRARY_TIMEOUT -> T;
library_timeout(T) when is_integer(T), T > 0 -> 0;
library_timeout(T) -> error({bad_option, {timeout, T}}).

%% The sandbox option flattened for the NIF: a bit set (0: no sandbox, see
%% c_src/nif_limits.h) and the allowed paths as {Path, ReadOnly}.
sandbox_args(undefined) ->
    {0, []};
sandbox_args(Policy) when is_map(Policy) ->
    check_options(Policy, [block_process_creation, block_sockets, restrict_files, allow_paths]),
    Bit = fun(Key, Value) ->
                  case maps:get(Key, Policy, false) of
                      true -> Value;
                      false -> 0;
                      Other -> error({bad_option, {Key, Other}})
                  end
          end,
    Paths = [case Access of
                 read_only -> {Path, true};
                 read_write -> {Path, false};
                 _ -> error({bad_option, {allow_paths, Access}})
             end || {Path, Access} <- maps:get(allow_paths, Policy, [])],
    {1 bor Bit(block_process_creation, 2) bor Bit(block_sockets, 4) bor Bit(restrict_files, 8),
     Paths};
sandbox_args(Other) ->
    error({bad_option, {sandbox, Other}}).

check_options(Opts, Allowed) ->
    case maps:keys(maps:without(Allowed, Opts)) of
        [] -> ok;
        [Key | _] -> error({bad_option, Key})
    end.
