%% @private
%% One named pool: a process that owns one C pool (pyctx_pool_t, a NIF
%% resource) and publishes it in persistent_term, so that submitting to
%% the pool costs no message to this process. Routing between the members
%% (least queued preferring an awake member, round robin, by key), resize,
%% replacing members that close or crash, and the pool's stats are the C
%% library's; this process only starts, resizes and stops it.
%%
%% The application's default pool (pyctx:call/3) is the pool named
%% `default', started from the `pool_*' application environment; pools of
%% the user's are started under pyctx_pool_sup by pyctx:start_pool/2.
-module(pyctx_pool).
-behaviour(gen_server).

-export([start_link/2, start_default/0, lookup/1, server/1, stop/2, resize/3, names/0]).
-export([init/1, handle_call/3, handle_cast/2, handle_info/2, terminate/2]).

%% persistent_term key of a pool's entry, a map:
%%   #{pool := PoolResource, distributed := boolean(), capacity := pos_integer(),
%%     counter := atomics:atomics_ref()}
-define(KEY(Name), {?MODULE, Name}).
-define(CLOSE_TIMEOUT, 5000).

%% Options start_pool/2 accepts beyond a context's (see pyctx:start_pool/2).
-define(POOL_KEYS, [size, routing, queue_bound, replace, key_memory, distributed,
                    member_capacity, pool_name]).
-define(MEMBER_KEYS, [mode, name, preload, queue_capacity, sandbox, memory_limit,
                      max_restarts, restart_window, process_helper, process_output]).

start_link(Name, Opts) when is_atom(Name), is_map(Opts) ->
    gen_server:start_link({local, server_name(Name)}, ?MODULE, {Name, Opts}, []).

%% The default pool from the application environment; `ignore' (no child)
%% when pool_size is 0.
start_default() ->
    case application:get_env(pyctx, pool_size, 2) of
        0 -> ignore;
        Size ->
            Opts0 = #{size => Size, mode => application:get_env(pyctx, pool_mode, worker),
                      pool_name => <<"pyctx-pool">>,
                      distributed => application:get_env(pyctx, pool_distributed, false)},
            Opts = case application:get_env(pyctx, pool_preload, undefined) of
                       undefined -> Opts0;
                       Preload -> Opts0#{preload => Preload}
                   end,
            start_link(default, Opts)
    end.

%% The entry of a running pool, or undefined.
-spec lookup(atom()) -> map() | undefined.
lookup(Name) ->
    persistent_term:get(?KEY(Name), undefined).

%% The registered name of a pool's process. One atom per pool name the
%% application's user chose (an atom already): bounded by them.
server_name(Name) ->
    list_to_atom("pyctx_pool:" ++ atom_to_list(Name)).

-spec server(atom()) -> pid() | undefined.
server(Name) ->
    whereis(server_name(Name)).

%% Every pool running on this node.
names() ->
    [Name || {?KEY(Name), _} <- persistent_term:get()].

stop(Name, TimeoutMs) ->
    call(Name, {stop, TimeoutMs}).

resize(Name, Size, TimeoutMs) ->
    call(Name, {resize, Size, TimeoutMs}).

call(Name, Request) ->
    case server(Name) of
        undefined -> {error, not_found};
        Pid ->
            try gen_server:call(Pid, Request, infinity)
            catch exit:{noproc, _} -> {error, not_found}
            end
    end.

%%% ---------------------------------------------------------------------

init({Name, Opts}) ->
    process_flag(trap_exit, true),
    case start_pool(Name, Opts) of
        {ok, Pool} ->
            Entry = #{pool => Pool,
                      distributed => maps:get(distributed, Opts, false),
                      capacity => maps:get(member_capacity, Opts, 2),
                      %% default_context/0 hands out the members in turn
                      counter => atomics:new(1, [{signed, false}])},
            persistent_term:put(?KEY(Name), Entry),
            maybe_join(Name, Entry),
            {ok, #{name => Name, pool => Pool, entry => Entry}};
        {error, Reason} ->
            {stop, {pool, Reason}}
    end.

%% Options are checked by pyctx:start_pool/2 (bad_option errors raised in
%% the caller); here they are flattened for the NIF.
start_pool(Name, Opts) ->
    Member = maps:with(?MEMBER_KEYS, Opts),
    {SandboxFlags, AllowPaths} = pyctx:sandbox_args(maps:get(sandbox, Member, undefined)),
    ProcessOpts = {maps:get(max_restarts, Member, 0), maps:get(restart_window, Member, 0),
                   maps:get(process_helper, Member, undefined),
                   maps:get(process_output, Member, stderr)},
    Mode = maps:get(mode, Member, worker),
    MemberArgs = {Mode, maps:get(name, Member, undefined), maps:get(preload, Member, undefined),
                  maps:get(queue_capacity, Member, 0), SandboxFlags, AllowPaths,
                  maps:get(memory_limit, Member, 0), ProcessOpts},
    PoolName = maps:get(pool_name, Opts, atom_to_binary(Name)),
    PoolArgs = {maps:get(size, Opts, 1), PoolName,
                maps:get(routing, Opts, least_queued), maps:get(queue_bound, Opts, 0),
                maps:get(replace, Opts, replace), maps:get(key_memory, Opts, 65536)},
    case pyctx:ensure_runtime() of
        ok ->
            pyctx:keep_child_exit_status(Mode),
            pyctx_nif:pool_start(MemberArgs, PoolArgs);
        Error ->
            Error
    end.

maybe_join(Name, #{distributed := true}) -> pyctx_dist:join(Name);
maybe_join(_Name, _Entry) -> ok.

maybe_leave(Name, #{distributed := true}) -> pyctx_dist:leave(Name);
maybe_leave(_Name, _Entry) -> ok.

handle_call({stop, TimeoutMs}, _From, State) ->
    Reply = unpublish_and_close(State, TimeoutMs),
    {stop, normal, Reply, State#{pool := closed}};
handle_call({resize, Size, TimeoutMs}, _From, #{pool := Pool} = State) ->
    %% waits (dirty I/O NIF) for new members, or for leaving ones to finish
    %% their queues: the pool keeps serving meanwhile, only this process
    %% is busy
    {reply, pyctx_nif:pool_resize(Pool, Size, TimeoutMs), State};
handle_call(_Request, _From, State) ->
    {reply, {error, unknown_request}, State}.

handle_cast(_Msg, State) ->
    {noreply, State}.

handle_info(_Info, State) ->
    {noreply, State}.

terminate(_Reason, #{pool := closed}) ->
    ok;
terminate(_Reason, State) ->
    _ = unpublish_and_close(State, ?CLOSE_TIMEOUT),
    ok.

%% No new request finds the pool once its entry is gone; requests already
%% submitted complete (closed, if still queued at the close).
unpublish_and_close(#{name := Name, pool := Pool, entry := Entry}, TimeoutMs) ->
    maybe_leave(Name, Entry),
    _ = persistent_term:erase(?KEY(Name)),
    pyctx_nif:pool_close(Pool, TimeoutMs).
