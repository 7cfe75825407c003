%% @private
%% The NIF library (c_src/). Every function here returns at once: requests
%% are submitted asynchronously and answered by message (see pyctx.erl);
%% the few calls that wait (runtime start, context start/stop, env creation)
%% run on dirty I/O schedulers.
-module(pyctx_nif).

-export([runtime_init/1, runtime_state/0, versions/0,
         context_start/9, context_stop/2, context_info/1, env_new/1,
         owner_new/0, call/7, eval/5, exec/4, request/9, object_info/1,
         lend/3, buffer_stats/1,
         stream_open/7, stream_demand/2, stream_cancel/1, stream_pull/1, abandon/1, cancel/1, request_state/1,
         host_register/2, host_unregister/1, host_reply/2,
         to_cbor/1, from_cbor/1, cbor_diagnose/1,
         store_put/2, store_get/1, store_cas/3, store_delete/2, store_keys/1,
         log_forward/3, keep_child_exit_status/0]).
%% Channels (c_src/nif_channel.c).
-export([channel_new/2, channel_id/1, channel_bytes/1, channel_try_send/2, channel_send_wait/3,
         channel_try_recv/1, channel_recv_wait/2, channel_close/1, channel_stats/1,
         channel_active/2]).
%% Pools (c_src/nif_pool.c).
-export([pool_start/2, pool_close/2, pool_resize/3, pool_info/1, pool_members/1, pool_load/1,
         pool_member/2, pool_env_new/1, pool_call/7, pool_request/11]).

-on_load(load/0).

load() ->
    erlang:load_nif(filename:join(priv_dir(), "pyctx_nif"), 0).

priv_dir() ->
    case code:priv_dir(pyctx) of
        {error, bad_name} ->
            %% not loaded as an application: priv/ beside ebin/
            filename:join(filename:dirname(filename:dirname(code:which(?MODULE))), "priv");
        Dir ->
            Dir
    end.

-define(NOT_LOADED, erlang:nif_error({not_loaded, ?MODULE})).

runtime_init(_Paths) -> ?NOT_LOADED.
runtime_state() -> ?NOT_LOADED.
versions() -> ?NOT_LOADED.
context_start(_Mode, _Name, _Preload, _QueueCapacity, _Owner, _SandboxFlags, _AllowPaths,
              _MemoryLimit, _ProcessOptions) -> ?NOT_LOADED.
context_stop(_Ctx, _TimeoutMs) -> ?NOT_LOADED.
context_info(_Ctx) -> ?NOT_LOADED.
env_new(_Ctx) -> ?NOT_LOADED.
owner_new() -> ?NOT_LOADED.
call(_Ctx, _Module, _Function, _Args, _Kwargs, _TimeoutMs, _Owner) -> ?NOT_LOADED.
eval(_Target, _Expression, _Locals, _TimeoutMs, _Owner) -> ?NOT_LOADED.
exec(_Target, _Code, _TimeoutMs, _Owner) -> ?NOT_LOADED.
request(_Kind, _Target, _A1, _A2, _Args, _Kwargs, _Form, _TimeoutMs, _Owner) -> ?NOT_LOADED.
object_info(_Object) -> ?NOT_LOADED.
lend(_Binary, _Format, _Shape) -> ?NOT_LOADED.
buffer_stats(_Ctx) -> ?NOT_LOADED.
stream_open(_Kind, _Target, _A1, _A2, _Args, _Kwargs, _Credit) -> ?NOT_LOADED.
stream_demand(_Stream, _N) -> ?NOT_LOADED.
stream_cancel(_Stream) -> ?NOT_LOADED.
stream_pull(_Stream) -> ?NOT_LOADED.
abandon(_Ref) -> ?NOT_LOADED.
cancel(_Ref) -> ?NOT_LOADED.
request_state(_Ref) -> ?NOT_LOADED.
host_register(_Name, _Dispatcher) -> ?NOT_LOADED.
host_unregister(_Name) -> ?NOT_LOADED.
host_reply(_Call, _Reply) -> ?NOT_LOADED.
to_cbor(_Term) -> ?NOT_LOADED.
from_cbor(_Binary) -> ?NOT_LOADED.
cbor_diagnose(_Binary) -> ?NOT_LOADED.
store_put(_Key, _Value) -> ?NOT_LOADED.
store_get(_Key) -> ?NOT_LOADED.
store_cas(_Key, _Expected, _Value) -> ?NOT_LOADED.
store_delete(_Key, _Expected) -> ?NOT_LOADED.
store_keys(_Prefix) -> ?NOT_LOADED.
log_forward(_Pid, _MinLevel, _Capacity) -> ?NOT_LOADED.
keep_child_exit_status() -> ?NOT_LOADED.
channel_new(_Capacity, _BytesMode) -> ?NOT_LOADED.
channel_id(_Channel) -> ?NOT_LOADED.
channel_bytes(_Channel) -> ?NOT_LOADED.
channel_try_send(_Channel, _Value) -> ?NOT_LOADED.
channel_send_wait(_Channel, _Encoded, _SliceMs) -> ?NOT_LOADED.
channel_try_recv(_Channel) -> ?NOT_LOADED.
channel_recv_wait(_Channel, _SliceMs) -> ?NOT_LOADED.
channel_close(_Channel) -> ?NOT_LOADED.
channel_stats(_Channel) -> ?NOT_LOADED.
channel_active(_Channel, _N) -> ?NOT_LOADED.
pool_start(_MemberOpts, _PoolOpts) -> ?NOT_LOADED.
pool_close(_Pool, _TimeoutMs) -> ?NOT_LOADED.
pool_resize(_Pool, _Size, _TimeoutMs) -> ?NOT_LOADED.
pool_info(_Pool) -> ?NOT_LOADED.
pool_members(_Pool) -> ?NOT_LOADED.
pool_load(_Pool) -> ?NOT_LOADED.
pool_member(_Pool, _Index) -> ?NOT_LOADED.
pool_env_new(_Pool) -> ?NOT_LOADED.
pool_call(_Pool, _Module, _Function, _Args, _Kwargs, _TimeoutMs, _Owner) -> ?NOT_LOADED.
pool_request(_Kind, _Pool, _A1, _A2, _Args, _Kwargs, _Key, _Form, _TimeoutMs, _Owner,
             _RouteInfo) -> ?NOT_LOADED.
