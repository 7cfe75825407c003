%% @private
%% The application's default pool of contexts behind pyctx:call/3.
%%
%% This process owns the contexts (they close when it dies) and publishes
%% them in persistent_term; callers pick one round robin with an atomic
%% counter, so routing a call costs no message to this process.
-module(pyctx_pool).
-behaviour(gen_server).

-export([start_link/0, pick/0, contexts/0]).
-export([init/1, handle_call/3, handle_cast/2, handle_info/2, terminate/2]).

-define(KEY, {?MODULE, contexts}).

start_link() ->
    gen_server:start_link({local, ?MODULE}, ?MODULE, [], []).

%% @doc The next context of the pool.
-spec pick() -> {ok, pyctx:context()} | {error, not_running}.
pick() ->
    case persistent_term:get(?KEY, undefined) of
        {Contexts, Counter} ->
            N = atomics:add_get(Counter, 1, 1),
            {ok, element(1 + N rem tuple_size(Contexts), Contexts)};
        undefined ->
            {error, not_running}
    end.

%% @doc Every context of the pool.
-spec contexts() -> [pyctx:context()].
contexts() ->
    case persistent_term:get(?KEY, undefined) of
        {Contexts, _} -> tuple_to_list(Contexts);
        undefined -> []
    end.

init([]) ->
    process_flag(trap_exit, true),
    Size = application:get_env(pyctx, pool_size, 2),
    Mode = application:get_env(pyctx, pool_mode, worker),
    Preload = application:get_env(pyctx, pool_preload, undefined),
    case start_contexts(Size, Mode, Preload, []) of
        {ok, []} ->
            {ok, []};
        {ok, Contexts} ->
            persistent_term:put(?KEY, {list_to_tuple(Contexts),
                                       atomics:new(1, [{signed, false}])}),
            {ok, Contexts};
        {error, Reason} ->
            {stop, {pool_context, Reason}}
    end.

start_contexts(0, _Mode, _Preload, Acc) ->
    {ok, lists:reverse(Acc)};
start_contexts(N, Mode, Preload, Acc) when is_integer(N), N > 0 ->
    Name = iolist_to_binary(io_lib:format("pyctx-pool-~b", [length(Acc) + 1])),
    Opts = #{mode => Mode, name => Name, owner => self()},
    Opts1 = case Preload of undefined -> Opts; _ -> Opts#{preload => Preload} end,
    case pyctx:start_context(Opts1) of
        {ok, Ctx} ->
            start_contexts(N - 1, Mode, Preload, [Ctx | Acc]);
        Error ->
            lists:foreach(fun pyctx:stop_context/1, Acc),
            Error
    end.

handle_call(_Request, _From, Contexts) ->
    {reply, {error, unknown_request}, Contexts}.

handle_cast(_Msg, Contexts) ->
    {noreply, Contexts}.

handle_info(_Info, Contexts) ->
    {noreply, Contexts}.

terminate(_Reason, Contexts) ->
    _ = persistent_term:erase(?KEY),
    lists:foreach(fun pyctx:stop_context/1, Contexts).
