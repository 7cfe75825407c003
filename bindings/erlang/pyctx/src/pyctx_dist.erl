%% @private
%% Pools across Erlang nodes.
%%
%% A pool started with `distributed => true' on several connected nodes is
%% one pool: pyctx:call(Pool, M, F, A) runs on a member of this node while
%% the local pool has capacity (fewer requests queued than `size *
%% member_capacity'), otherwise on the least loaded node that has the pool.
%% One process per node, registered `pyctx_dist', does three things:
%%
%%  - It is this node's member of the pg group {pyctx_pool, Name} (scope
%%    pyctx_pg) of every distributed pool running here, and serves the
%%    requests other nodes send it: it submits them to the local pool (the
%%    NIF answers it) and sends each reply back. Values travel as Erlang
%%    terms; host functions Python calls there run in that node's registry.
%%  - Every `dist_report_ms' (default 100) it sends every other node's
%%    pyctx_dist (the pg group pyctx_nodes) each local pool's load: queued requests and capacity, one
%%    small message per pool and node. Reports land in the ETS table
%%    pyctx_dist_load, which callers read to route without asking anyone;
%%    callers also count their own requests in flight there, so routing
%%    sees new load before the next report (a node's load is the larger of
%%    the two, over its capacity). A node that joins a group
%%    (pg:monitor_scope) is added to the table at once, with no load: it
%%    adds capacity without a restart.
%%  - It relays replies from other nodes to the calling processes, and
%%    monitors every remote member. A caller records each remote request in
%%    the ETS table pyctx_dist_calls (pending); whoever first claims the
%%    record (pending -> sending, an atomic ets:select_replace) answers: the
%%    relay with the reply, the relay with {error, {nodedown, Node}} when
%%    the member's node goes down (its 'DOWN' comes after every message that
%%    member sent before), or the caller itself when it gives up (timeout,
%%    cancel: the record is deleted while still pending, and the member is
%%    told to cancel). So every request is answered exactly once and a
%%    request whose node went down ran at most once. The relay also
%%    monitors each calling process once and cancels its pending requests
%%    when it dies.
-module(pyctx_dist).
-behaviour(gen_server).

-export([start_link/0, start_tables/0, join/1, leave/1, route/4, call/7, async/6, await/2,
         cancel/1, remote_load/1]).
-export([tables_init/1]).
-export([init/1, handle_call/3, handle_cast/2, handle_info/2, terminate/2]).

-define(SCOPE, pyctx_pg).
-define(GROUP(Name), {pyctx_pool, Name}).
%% Every node's pyctx_dist, pool or not: where load reports go (a node
%% without a member of a pool still routes calls to it).
-define(NODES, pyctx_nodes).
%% {{Name, Server}, Queued, Capacity, InFlight}: the pool Name on the node
%% of Server (a remote pyctx_dist); InFlight counts this node's requests.
-define(LOAD, pyctx_dist_load).
%% {Ref, Caller, Server, Name, pending | sending}: this node's requests on
%% other nodes.
-define(CALLS, pyctx_dist_calls).
%% What a member that joined is assumed to take until its first report.
-define(JOIN_CAPACITY, 2).
-define(REPORT_MS, 100).

start_link() ->
    gen_server:start_link({local, ?MODULE}, ?MODULE, [], []).

%% A distributed pool of this node starts or stops taking part.
join(Name) -> gen_server:call(?MODULE, {join, Name}).
leave(Name) -> gen_server:call(?MODULE, {leave, Name}).

%%% ---------------------------------------------------------------------
%%% Routing (in the calling process)
%%% ---------------------------------------------------------------------

%% Where a request for the pool Name goes: `Entry' is the local pool's
%% entry (pyctx_pool:lookup/1) or undefined when this node has none.
-spec route(atom(), map() | undefined, term(), atom()) ->
          {local, term()} | {remote, pid()} | {error, term()}.
route(Name, #{pool := Pool, capacity := Cap}, undefined, value) ->
    %% the common case, and the cheap check first: capacity here
    case local_load(Pool, Cap) of
        Load when Load < 1.0 ->
            {local, Pool};
        Load ->
            case remotes(Name) of
                [] ->
                    {local, Pool};
                Remotes ->
                    %% no capacity here: the least loaded node by the same
                    %% measure (queued over capacity), this one included
                    %% (first among equals: no hop)
                    Pid = least_loaded(Remotes),
                    [R] = [R || {P, _, _, _} = R <- Remotes, P =:= Pid],
                    case remote_load_of(R) < Load of
                        true -> {remote, Pid};
                        false -> {local, Pool}
                    end
            end
    end;
route(Name, Entry, Key, Form) ->
    case {Entry, remotes(Name)} of
        {undefined, []} ->
            {error, not_running};
        {#{pool := Pool}, _} when Form =/= value ->
            %% a handle or a view into another node's memory is no use here
            {local, Pool};
        {undefined, _} when Form =/= value ->
            {error, {unsupported, <<"object and buffer results need the pool on this node">>}};
        {_, Remotes} when Key =/= undefined ->
            by_key(Key, Entry, Remotes);
        {undefined, Remotes} ->
            {remote, least_loaded(Remotes)}
    end.

remotes(Name) ->
    try ets:select(?LOAD, [{{{Name, '$1'}, '$2', '$3', '$4'}, [], [{{'$1', '$2', '$3', '$4'}}]}])
    catch error:badarg -> []   % the application is not running
    end.

%% Queued requests over capacity: under 1.0, the local pool has capacity.
local_load(Pool, Cap) ->
    case pyctx_nif:pool_load(Pool) of
        {Size, Queued} when Size > 0 -> Queued / (Size * Cap);
        _ -> infinity_load()
    end.

%% A closed or empty local pool loses every comparison.
infinity_load() -> 1.0e300.

%% A remote node's load: its reported queue, or this node's requests in
%% flight there when more (the report is up to dist_report_ms old, and
%% counts this node's own queued requests too: adding the two would count
%% them twice), over its capacity.
remote_load_of({_Pid, Q, C, I}) ->
    max(Q, I) / max(C, 1).

%% Lowest load (remote_load_of/1); among
%% equals, a choice that differs from call to call, so that callers reading
%% the same table at the same instant do not all pick the same node, and a
%% lone caller's calls rotate. (Hashed with the node's name: phash2 of a
%% remote pid leaves its node out, and every node's pyctx_dist tends to
%% have the same local pid number.)
least_loaded(Remotes) ->
    Tie = erlang:unique_integer(),
    {_, _, Pid} = lists:min([{remote_load_of(R), erlang:phash2({Tie, node(P)}), P}
                             || {P, _, _, _} = R <- Remotes]),
    Pid.

%% The same key goes to the same node while the nodes holding the pool do
%% not change (rendezvous hashing on node names, the same on every node),
%% then to the same member there (the C pool's consistent hashing).
by_key(Key, Entry, Remotes) ->
    Local = case Entry of
                #{pool := Pool} -> [{erlang:phash2({Key, node()}), {local, Pool}}];
                undefined -> []
            end,
    Candidates = Local ++ [{erlang:phash2({Key, node(P)}), {remote, P}} || {P, _, _, _} <- Remotes],
    {_, Route} = lists:max(Candidates),
    Route.

%%% ---------------------------------------------------------------------
%%% Remote requests (in the calling process)
%%% ---------------------------------------------------------------------

%% A synchronous request on Server's node. On timeout the request is
%% abandoned: cancelled there, and no reply ever reaches the mailbox.
call(Server, Name, Req, Key, Deadline, Timeout, RouteInfo) ->
    case async(Server, Name, Req, Key, Deadline, RouteInfo) of
        {ok, Ref} ->
            receive
                {pyctx, Ref, Reply} -> Reply
            after Timeout ->
                case give_up(Ref) of
                    abandoned -> ok;
                    %% claimed by the relay: the reply is on its way
                    claimed -> receive {pyctx, Ref, _} -> ok after 5000 -> ok end
                end,
                {error, timeout}
            end;
        Error ->
            Error
    end.

%% Submits on Server's node; the reply comes as {pyctx, Ref, Reply}.
async(Server, Name, Req, Key, Deadline, RouteInfo) ->
    case whereis(?MODULE) of
        undefined ->
            {error, not_running};
        Relay ->
            Ref = make_ref(),
            true = ets:insert(?CALLS, {Ref, self(), Server, Name, pending}),
            watch_caller(Relay),
            try ets:update_counter(?LOAD, {Name, Server}, {4, 1}) of
                _ ->
                    %% replies come to this node's pyctx_dist by name, so
                    %% that they find it also after a restart
                    Server ! {pyctx_dist_req, {?MODULE, node()}, Ref, Name, Req, Key, Deadline,
                              #{route_info => RouteInfo}},
                    {ok, Ref}
            catch
                error:badarg ->
                    %% The member left, or its node went down, since routing.
                    %% If the relay's sweep found the record first it
                    %% answers; otherwise nothing was sent: answer here.
                    case delete_pending(Ref) of
                        true -> {error, {nodedown, node(Server)}};
                        false -> {ok, Ref}
                    end
            end
    end.

%% The relay monitors each process with remote requests once (as the NIF's
%% owner handle does for local ones), to cancel them if it dies.
watch_caller(Relay) ->
    case get('$pyctx_dist_watched') of
        Relay -> ok;
        _ -> Relay ! {pyctx_dist_watch, self()}, put('$pyctx_dist_watched', Relay)
    end.

%% pyctx:await/2 of a remote request whose reply is not in the mailbox.
await(Ref, Timeout) ->
    case lookup_call(Ref) of
        [] ->
            %% answered: in the mailbox now, unless already received
            receive {pyctx, Ref, Reply} -> Reply after 0 -> {error, no_reply} end;
        _ ->
            receive {pyctx, Ref, Reply} -> Reply after Timeout -> {error, timeout} end
    end.

%% pyctx:cancel/1 of a remote request: from the caller, no reply is or
%% will be in its mailbox afterwards; from another process, only the
%% cancel is sent (the caller then gets {error, cancelled}, or the result).
cancel(Ref) ->
    Self = self(),
    case lookup_call(Ref) of
        [{Ref, Self, _, _, pending}] ->
            case give_up(Ref) of
                abandoned -> ok;
                claimed -> wait_delivered(Ref), flush(Ref)
            end;
        [{Ref, _Other, Server, _, pending}] ->
            erlang:send(Server, {pyctx_dist_cancel, Ref}, [noconnect]),
            ok;
        [{Ref, _, _, _, sending}] ->
            wait_delivered(Ref), flush(Ref);
        [] ->
            flush(Ref)
    end.

%% A remote request's record; none once answered (or when the application
%% is not running: nothing can be pending then).
lookup_call(Ref) ->
    try ets:lookup(?CALLS, Ref)
    catch error:badarg -> []
    end.

%% The caller abandons a pending request: `abandoned' (its record deleted,
%% the member told to cancel) or `claimed' (the relay is answering).
give_up(Ref) ->
    case ets:lookup(?CALLS, Ref) of
        [{Ref, _, Server, Name, pending}] ->
            case delete_pending(Ref) of
                true ->
                    erlang:send(Server, {pyctx_dist_cancel, Ref}, [noconnect]),
                    in_flight_done(Name, Server),
                    abandoned;
                false ->
                    claimed
            end;
        _ ->
            claimed
    end.

delete_pending(Ref) ->
    ets:select_delete(?CALLS, [{{Ref, '_', '_', '_', pending}, [], [true]}]) =:= 1.

wait_delivered(Ref) ->
    case ets:member(?CALLS, Ref) of
        true -> erlang:yield(), wait_delivered(Ref);
        false -> ok
    end.

flush(Ref) ->
    receive {pyctx, Ref, _} -> ok after 0 -> ok end.

in_flight_done(Name, Server) ->
    try ets:update_counter(?LOAD, {Name, Server}, {4, -1, 0, 0})
    catch error:badarg -> ok
    end.

%% What this node knows of the pool Name elsewhere.
remote_load(Name) ->
    [#{node => node(P), server => P, queued => Q, capacity => C, in_flight => I}
     || {P, Q, C, I} <- remotes(Name)].

%%% ---------------------------------------------------------------------
%%% The server
%%% ---------------------------------------------------------------------

%% The two tables live in a process of their own, started before
%% pyctx_dist: when pyctx_dist restarts, the records of this node's
%% requests on other nodes survive, the replies (sent to it by name) find
%% them, and the new pyctx_dist monitors their members again.
%%
%% The same process watches the pg scope and forwards joins and leaves to
%% pyctx_dist: a process that both monitors a scope and is a member of one
%% of its groups makes pg crash when it exits (OTP issue #7625, fixed in
%% OTP 26.2), and pyctx_dist is a member.
start_tables() ->
    proc_lib:start_link(?MODULE, tables_init, [self()]).

tables_init(Parent) ->
    _ = ets:new(?LOAD, [ordered_set, public, named_table, {read_concurrency, true},
                        {write_concurrency, true}]),
    _ = ets:new(?CALLS, [set, public, named_table, {write_concurrency, true}]),
    register(pyctx_dist_tables, self()),
    {ScopeRef, _Groups} = pg:monitor_scope(?SCOPE),
    proc_lib:init_ack(Parent, {ok, self()}),
    tables_loop(ScopeRef).

tables_loop(ScopeRef) ->
    receive
        {ScopeRef, Event, Group, Pids} ->
            %% lost while pyctx_dist restarts: its init reads pg itself
            case whereis(?MODULE) of
                undefined -> ok;
                Dist -> Dist ! {pyctx_dist_pg, Event, Group, Pids}
            end;
        _ ->
            ok
    end,
    tables_loop(ScopeRef).

init([]) ->
    %% members this node has requests on or routes to, from before a
    %% restart: watched again (one already gone answers 'DOWN' at once)
    Known = lists:usort(ets:select(?LOAD, [{{{'_', '$1'}, '_', '_', '_'}, [], ['$1']}]) ++
                        ets:select(?CALLS, [{{'_', '_', '$1', '_', '_'}, [], ['$1']}])),
    %% the scope's groups now; joins and leaves from now on come from the
    %% tables' process (see start_tables/0), whose monitor is older
    Groups = [{G, pg:get_members(?SCOPE, G)} || G <- pg:which_groups(?SCOPE)],
    ok = pg:join(?SCOPE, ?NODES, self()),
    State = #{joined => #{},          % Name => true: distributed pools here
              monitors => #{},        % remote member => monitor reference
              callers => #{},         % local caller => monitor reference
              served => #{},          % NIF request => {Relay, Ref}
              by_ref => #{},          % Ref => NIF request
              report_ms => application:get_env(pyctx, dist_report_ms, ?REPORT_MS)},
    State0 = lists:foldl(fun monitor_member/2, State, Known),
    State1 = lists:foldl(fun({Group, Pids}, S) -> joined(Group, Pids, S) end, State0, Groups),
    erlang:send_after(maps:get(report_ms, State1), self(), report),
    {ok, State1}.

handle_call({join, Name}, _From, #{joined := Joined} = S) ->
    ok = pg:join(?SCOPE, ?GROUP(Name), self()),
    %% tell the others now rather than at the next tick
    report(Name),
    {reply, ok, S#{joined := Joined#{Name => true}}};
handle_call({leave, Name}, _From, #{joined := Joined} = S) ->
    _ = pg:leave(?SCOPE, ?GROUP(Name), self()),
    {reply, ok, S#{joined := maps:remove(Name, Joined)}};
handle_call(_Request, _From, S) ->
    {reply, {error, unknown_request}, S}.

handle_cast(_Msg, S) ->
    {noreply, S}.

%% -- serving other nodes' requests --
handle_info({pyctx_dist_req, Relay, Ref, Name, Req, Key, Deadline}, S) ->
    %% from a node of the release before route_info
    handle_info({pyctx_dist_req, Relay, Ref, Name, Req, Key, Deadline, #{}}, S);
handle_info({pyctx_dist_req, Relay, Ref, Name, Req, Key, Deadline, Opts}, S) ->
    RouteInfo = maps:get(route_info, Opts, false) =:= true,
    Submitted = case pyctx_pool:lookup(Name) of
                    #{pool := Pool} ->
                        try pyctx:pool_submit(Pool, Req, Key, value, Deadline, RouteInfo)
                        catch error:Reason ->
                                {error, {invalid_argument,
                                         iolist_to_binary(io_lib:format("~p on ~s",
                                                                        [Reason, node()]))}}
                        end;
                    undefined ->
                        {error, not_running}
                end,
    case Submitted of
        NifRef when is_reference(NifRef) ->
            #{served := Served, by_ref := ByRef} = S,
            {noreply, S#{served := Served#{NifRef => {Relay, Ref}},
                         by_ref := ByRef#{Ref => NifRef}}};
        Error ->
            erlang:send(Relay, {pyctx_dist_reply, Ref, Error}, [noconnect]),
            {noreply, S}
    end;
handle_info({pyctx, NifRef, Reply}, #{served := Served, by_ref := ByRef} = S) ->
    case maps:take(NifRef, Served) of
        {{Relay, Ref}, Served1} ->
            erlang:send(Relay, {pyctx_dist_reply, Ref, Reply}, [noconnect]),
            {noreply, S#{served := Served1, by_ref := maps:remove(Ref, ByRef)}};
        error ->
            {noreply, S}
    end;
handle_info({pyctx_dist_cancel, Ref}, #{served := Served, by_ref := ByRef} = S) ->
    case maps:take(Ref, ByRef) of
        {NifRef, ByRef1} ->
            case pyctx_nif:abandon(NifRef) of
                abandoned ->
                    %% no reply will come; the caller gave up already
                    {noreply, S#{served := maps:remove(NifRef, Served), by_ref := ByRef1}};
                _SendingOrSent ->
                    %% the reply comes and is forwarded; the relay drops it
                    {noreply, S#{by_ref := ByRef1}}
            end;
        error ->
            {noreply, S}
    end;

%% -- relaying replies to this node's callers --
handle_info({pyctx_dist_reply, Ref, Reply}, S) ->
    deliver(Ref, Reply),
    {noreply, S};

%% -- load --
handle_info(report, #{joined := Joined, report_ms := Ms} = S) ->
    _ = [report(Name) || Name <- maps:keys(Joined)],
    erlang:send_after(Ms, self(), report),
    {noreply, S};
handle_info({pyctx_dist_load, Name, Pid, Queued, Capacity}, S) ->
    case ets:update_element(?LOAD, {Name, Pid}, [{2, Queued}, {3, Capacity}]) of
        true ->
            {noreply, S};
        false ->
            %% a report that overtook the member's pg join, or came after
            %% its leave: count it only while pg lists the member
            case lists:member(Pid, pg:get_members(?SCOPE, ?GROUP(Name))) of
                true ->
                    ets:insert_new(?LOAD, {{Name, Pid}, Queued, Capacity, 0}),
                    {noreply, monitor_member(Pid, S)};
                false ->
                    {noreply, S}
            end
    end;
handle_info({pyctx_dist_pg, join, Group, Pids}, S) ->
    {noreply, joined(Group, Pids, S)};
handle_info({pyctx_dist_pg, leave, {pyctx_pool, Name}, Pids}, S) ->
    _ = [ets:delete(?LOAD, {Name, P}) || P <- Pids, node(P) =/= node()],
    {noreply, S};
handle_info({pyctx_dist_pg, leave, _Group, _Pids}, S) ->
    {noreply, S};

%% -- this node's callers: one that dies has its remote requests cancelled --
handle_info({pyctx_dist_watch, Pid}, #{callers := Callers} = S) ->
    case maps:is_key(Pid, Callers) of
        true -> {noreply, S};
        false -> {noreply, S#{callers := Callers#{Pid => erlang:monitor(process, Pid)}}}
    end;
handle_info({'DOWN', MRef, process, Pid, _Reason}, #{callers := Callers} = S)
  when map_get(Pid, Callers) =:= MRef ->
    Pending = ets:select(?CALLS, [{{'$1', Pid, '$2', '$3', pending}, [], [{{'$1', '$2', '$3'}}]}]),
    _ = [case delete_pending(Ref) of
             true ->
                 erlang:send(Server, {pyctx_dist_cancel, Ref}, [noconnect]),
                 in_flight_done(Name, Server);
             false ->
                 ok
         end || {Ref, Server, Name} <- Pending],
    {noreply, S#{callers := maps:remove(Pid, Callers)}};

%% -- a remote member is gone (its node went down, or it exited) --
handle_info({'DOWN', _MRef, process, Pid, _Reason}, #{monitors := Mons} = S) ->
    Node = node(Pid),
    %% first out of routing, then answer what is in flight there (a caller
    %% that routed before this point finds no load entry when it counts its
    %% request, and answers it itself unless the sweep below found it)
    ets:match_delete(?LOAD, {{'_', Pid}, '_', '_', '_'}),
    Refs = ets:select(?CALLS, [{{'$1', '_', Pid, '_', pending}, [], ['$1']}]),
    _ = [deliver(R, {error, {nodedown, Node}}) || R <- Refs],
    {noreply, S#{monitors := maps:remove(Pid, Mons)}};
handle_info(_Info, S) ->
    {noreply, S}.

terminate(_Reason, _S) ->
    ok.

%% Members that joined a pool group: remote ones enter the load table at
%% once (new capacity). A node that joined the nodes' group hears this
%% node's load for every pool now rather than at the next tick.
joined({pyctx_pool, Name}, Pids, S) ->
    Remote = [P || P <- Pids, node(P) =/= node()],
    _ = [ets:insert_new(?LOAD, {{Name, P}, 0, ?JOIN_CAPACITY, 0}) || P <- Remote],
    lists:foldl(fun monitor_member/2, S, Remote);
joined(?NODES, Pids, #{joined := Joined} = S) ->
    case [P || P <- Pids, node(P) =/= node()] of
        [] -> ok;
        _ -> _ = [report(Name) || Name <- maps:keys(Joined)]
    end,
    S;
joined(_Group, _Pids, S) ->
    S.

monitor_member(Pid, #{monitors := Mons} = S) ->
    case maps:is_key(Pid, Mons) of
        true -> S;
        false -> S#{monitors := Mons#{Pid => erlang:monitor(process, Pid)}}
    end.

%% Sends the local pool's load to every other member of its group.
report(Name) ->
    case pyctx_pool:lookup(Name) of
        #{pool := Pool, capacity := Cap} ->
            case pyctx_nif:pool_load(Pool) of
                {Size, Queued} ->
                    Msg = {pyctx_dist_load, Name, self(), Queued, Size * Cap},
                    _ = [erlang:send(P, Msg, [noconnect])
                         || P <- pg:get_members(?SCOPE, ?NODES), node(P) =/= node()],
                    ok;
                _ ->
                    ok
            end;
        undefined ->
            ok
    end.

%% Answers the caller of Ref once: claims its record (pending -> sending),
%% sends, deletes. A record the caller deleted (gave up) is not answered.
deliver(Ref, Reply) ->
    Claim = [{{Ref, '$1', '$2', '$3', pending}, [], [{{{const, Ref}, '$1', '$2', '$3', sending}}]}],
    case ets:select_replace(?CALLS, Claim) of
        1 ->
            [{Ref, Caller, Server, Name, sending}] = ets:lookup(?CALLS, Ref),
            Caller ! {pyctx, Ref, Reply},
            ets:delete(?CALLS, Ref),
            in_flight_done(Name, Server);
        0 ->
            ok
    end.
