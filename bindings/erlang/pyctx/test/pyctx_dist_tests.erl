%% Pools across Erlang nodes (pyctx_dist): three peer nodes on loopback
%% (OTP's peer module), each running the pool `dpool' with distributed =>
%% true. The test VM becomes the distributed node pyctx_t@127.0.0.1 (no host
%% name lookup: every node is name@127.0.0.1) and starts epmd if none runs.
-module(pyctx_dist_tests).
-include_lib("eunit/include/eunit.hrl").

-import(pyctx_test_util, [wait_until/2]).

-define(POOL, dpool).
-define(CALLS, 10000).
-define(WINDOW, 200).
-define(KILL_AFTER, 3000).
%% Python run in each member of every node's pool: the answer names the OS
%% process (the node) that ran it.
%% The short sleep keeps requests in flight on every node, so the node
%% killed mid-stream has some to answer {error, {nodedown, Node}}.
-define(PRELOAD, <<"import os, time\n"
                   "def work(i):\n"
                   "    time.sleep(0.0005)\n"
                   "    return (i, os.getpid())\n">>).

dist_test_() ->
    {setup, fun setup/0, fun cleanup/1,
     fun(Peers) ->
             {inorder,
              [{"a remote call: values travel as terms", fun() -> remote_call(Peers) end},
               {timeout, 20, {"pyctx_dist restarting keeps requests in flight elsewhere",
                              fun relay_restart/0}},
               {timeout, 20, {"a caller that dies has its remote requests cancelled",
                              fun() -> dead_caller(Peers) end}},
               {timeout, 60,
                {"10,000 calls spread, a node killed mid-stream: one answer each",
                 fun() -> spread_and_kill(Peers) end}},
               {timeout, 30,
                {"a node that joins adds capacity at once", fun() -> join(Peers) end}},
               {"local members first while they have capacity", fun() -> local_first(Peers) end}]}
     end}.

%%% ---------------------------------------------------------------------

setup() ->
    ensure_epmd(),
    Started = case node() of
                  nonode@nohost ->
                      {ok, _} = net_kernel:start(['pyctx_t@127.0.0.1', longnames]),
                      true;
                  _ ->
                      false   % already distributed (rebar3 eunit --name ...)
              end,
    application:load(pyctx),
    ok = application:set_env(pyctx, pool_size, 1),
    {ok, _} = application:ensure_all_started(pyctx),
    Peers = [start_peer() || _ <- [1, 2, 3]],
    %% pg tells each node of the others' groups once they are connected:
    %% asynchronous by design, so wait for the three members to show
    wait_members(3),
    %% a table of peers that tests add to and kill from
    Tab = ets:new(pyctx_dist_peers, [public]),
    ets:insert(Tab, [{Node, Peer, OsPid} || {Node, Peer, OsPid} <- Peers]),
    ets:insert(Tab, {'$started_distribution', Started}),
    Tab.

cleanup(Tab) ->
    [{_, Started}] = ets:take(Tab, '$started_distribution'),
    _ = [catch peer:stop(Peer) || {_, Peer, _} <- peers(Tab)],
    ets:delete(Tab),
    ok = application:stop(pyctx),
    case Started of
        true -> net_kernel:stop();
        false -> ok
    end.

%% epmd maps node names to ports; a VM started without -name has not
%% started one, and net_kernel:start/1 needs it.
ensure_epmd() ->
    case erl_epmd:names("127.0.0.1") of
        {ok, _} -> ok;
        {error, _} ->
            Epmd = os:find_executable("epmd"),
            ?assertNotEqual(false, Epmd),
            _ = os:cmd(Epmd ++ " -daemon"),
            wait_until(fun() -> element(1, erl_epmd:names("127.0.0.1")) =:= ok end, 5000)
    end.

%% A peer node with this node's code path (the NIF comes from the
%% application's priv directory; libpyctx through the inherited
%% LD_LIBRARY_PATH), running the application and the distributed pool.
start_peer() ->
    Paths = lists:append([["-pa", P] || P <- code:get_path(), is_app_path(P)]),
    %% Peers connect to this node only (no full mesh), so killing one never
    %% makes global disconnect the others to avoid overlapping partitions.
    Args = Paths ++ ["-connect_all", "false",
                     "-kernel", "prevent_overlapping_partitions", "false"],
    {ok, Peer, Node} = peer:start(#{name => peer:random_name("pyctx_d"), host => "127.0.0.1",
                                    longnames => true, args => Args,
                                    wait_boot => 30000}),
    %% erpc over the distribution connection peer:start/1 made
    ok = erpc:call(Node, application, load, [pyctx], 30000),
    ok = erpc:call(Node, application, set_env, [pyctx, pool_size, 0], 30000),
    {ok, _} = erpc:call(Node, application, ensure_all_started, [pyctx], 30000),
    {ok, _} = erpc:call(Node, pyctx, start_pool,
                        [?POOL, #{size => 2, distributed => true, preload => ?PRELOAD}], 30000),
    {Node, Peer, erpc:call(Node, os, getpid, [], 30000)}.

is_app_path(P) ->
    string:find(P, "/pyctx/") =/= nomatch orelse string:find(P, "pyctx/ebin") =/= nomatch.

wait_members(N) ->
    wait_until(fun() -> length(pyctx_dist:remote_load(?POOL)) =:= N end, 10000).

%% {Node, Peer, OsPid} of the peers running now
peers(Tab) ->
    [P || {_, _, _} = P <- ets:tab2list(Tab)].

os_pid(Tab, Node) ->
    [{Node, _, OsPid}] = ets:lookup(Tab, Node),
    list_to_integer(OsPid).

%%% ---------------------------------------------------------------------

remote_call(Tab) ->
    %% this node has no member of dpool: every call goes to a peer
    ?assertEqual(undefined, pyctx_pool:lookup(?POOL)),
    {ok, {7, OsPid}} = pyctx:call(?POOL, '__main__', work, [7]),
    PeerPids = [os_pid(Tab, N) || {N, _, _} <- peers(Tab)],
    ?assert(lists:member(OsPid, PeerPids)),
    ?assertNotEqual(list_to_integer(os:getpid()), OsPid),
    %% terms of this node survive the trip, a pid included
    Self = self(),
    ?assertEqual({ok, {Self, [1, 2.5, <<"x">>], #{<<"a">> => {1, 2}}}},
                 pyctx:eval(?POOL, <<"(p, [1, 2.5, 'x'], {'a': (1, 2)})">>, #{p => Self})),
    ?assertEqual(ok, pyctx:exec(?POOL, <<"x = 1">>)),
    %% bad arguments fail here, as for a local pool, not on the other node
    ?assertError(badarg, pyctx:call(?POOL, operator, add, not_a_list)),
    ?assertError(badarg, pyctx:eval(?POOL, <<"1">>, not_bindings)),
    ?assertMatch({error, {python, <<"ZeroDivisionError">>, _, _}}, pyctx:eval(?POOL, <<"1/0">>)),
    %% async, await and a sync timeout (no late reply) on a remote member
    {ok, Ref} = pyctx:call_async(?POOL, operator, add, [2, 3]),
    ?assertEqual({ok, 5}, pyctx:await(Ref, 5000)),
    ?assertEqual({error, timeout},
                 pyctx:call(?POOL, time, sleep, [0.5], #{timeout => 20})),
    {ok, Ref2} = pyctx:call_async(?POOL, time, sleep, [0.5]),
    ok = pyctx:cancel(Ref2),
    %% the same key goes to the same node (and member)
    Keyed = [pyctx:call(?POOL, '__main__', work, [1], #{key => <<"user:1">>})
             || _ <- lists:seq(1, 10)],
    ?assertEqual(1, length(lists:usort(Keyed))),
    %% route_info is answered by the node that ran the request
    ?assertMatch({ok, {1, _}, #{member := _, key_moved := false}},
                 pyctx:call(?POOL, '__main__', work, [1],
                            #{key => <<"user:1">>, route_info => true})),
    {ok, Routed} = pyctx:call_async(?POOL, operator, add, [2, 3], #{route_info => true}),
    ?assertMatch({ok, 5, #{member := _, key_moved := false}}, pyctx:await(Routed, 5000)),
    %% every node reports its load here
    Loads = pyctx_dist:remote_load(?POOL),
    ?assertEqual(3, length(Loads)),
    [?assertMatch(#{capacity := 4}, L) || L <- Loads],
    ?assertEqual([], [M || M <- pyctx_test_util:mailbox(), element(1, M) =:= pyctx]).

%% This node's pyctx_dist is killed while a request of this process runs on
%% a peer: its record survives (the tables have their own process), the
%% reply comes to the restarted pyctx_dist by name and is delivered, once.
relay_restart() ->
    {ok, Ref} = pyctx:call_async(?POOL, time, sleep, [0.3]),
    Old = whereis(pyctx_dist),
    exit(Old, kill),
    wait_until(fun() -> is_pid(whereis(pyctx_dist)) andalso whereis(pyctx_dist) =/= Old end,
               5000),
    ?assertEqual({ok, none}, pyctx:await(Ref, 5000)),
    %% routing works again once pg and the reports are back
    wait_members(3),
    ?assertMatch({ok, {2, _}}, pyctx:call(?POOL, '__main__', work, [2])),
    ?assertEqual([], [M || M <- pyctx_test_util:mailbox(), element(1, M) =:= pyctx]).

%% A process with a request running on another node dies: the request is
%% cancelled there (interrupted: the spin ends), as for a local one.
dead_caller(Tab) ->
    Key = <<"dead-caller">>,
    {ok, {0, OsPid}} = pyctx:call(?POOL, '__main__', work, [0], #{key => Key}),
    [Node] = [N || {N, _, P} <- peers(Tab), list_to_integer(P) =:= OsPid],
    ok = pyctx:exec(?POOL, pyctx_test_util:spin_code(), #{key => Key}),
    Cancelled = fun() -> maps:get(cancelled, erpc:call(Node, pyctx, pool_info, [?POOL], 5000)) end,
    Before = Cancelled(),
    Parent = self(),
    Caller = spawn(fun() ->
                           {ok, _} = pyctx:call_async(?POOL, '__main__', spin, [], #{key => Key}),
                           Parent ! submitted,
                           receive never -> ok after 60000 -> ok end
                   end),
    receive submitted -> ok after 5000 -> error(not_submitted) end,
    %% running there (busy), then the caller dies
    wait_until(fun() -> lists:any(fun(#{busy := B}) -> B end,
                                  erpc:call(Node, pyctx, pool_members, [?POOL], 5000))
               end, 5000),
    exit(Caller, kill),
    %% the cancel travels to that node: asynchronous by design
    wait_until(fun() -> Cancelled() =:= Before + 1 end, 5000),
    ?assertEqual({ok, {1, OsPid}}, pyctx:call(?POOL, '__main__', work, [1], #{key => Key})).

%% 10,000 asynchronous calls, at most ?WINDOW in flight, spread over the
%% three nodes; once ?KILL_AFTER have been answered one node is killed
%% (SIGKILL: its connection drops, nothing is said). Every call must get
%% exactly one answer: a value from the node that ran it, or {error,
%% {nodedown, Node}} for those in flight on the killed node.
spread_and_kill(Tab) ->
    [{Victim, _, VictimOsPid} | _] = peers(Tab),
    State0 = #{next => 1, pending => #{}, answers => #{}, killed => false,
               victim => Victim, victim_os_pid => VictimOsPid},
    Deadline = erlang:monotonic_time(millisecond) + 45000,
    #{answers := Answers} = run(fill(State0), Deadline),
    ets:delete(Tab, Victim),
    %% every submitted call answered once, no duplicate arrives later: one
    %% more round trip to each live node goes through the same channels
    [?assertMatch({ok, _}, pyctx:call(?POOL, '__main__', work, [0], #{key => K}))
     || K <- lists:seq(1, 20)],
    Stray = [M || M <- pyctx_test_util:mailbox(), element(1, M) =:= pyctx],
    ?assertEqual([], Stray),
    ?assertEqual(?CALLS, map_size(Answers)),
    Replies = maps:values(Answers),
    Errors = [R || {error, _} = R <- Replies],
    Oks = [{I, P} || {ok, {I, P}} <- Replies],
    ?assertEqual(?CALLS, length(Errors) + length(Oks)),
    %% the only error is the killed node's, and some were in flight there
    ?assertEqual([{error, {nodedown, Victim}}], lists:usort(Errors)),
    ?assert(length(Errors) >= 1),
    %% each value answers its own call
    ?assertEqual(lists:sort([I || {I, _} <- Oks]),
                 lists:sort([I || {I, {ok, _}} <- maps:to_list(Answers)])),
    [?assertEqual(I, J) || {I, {ok, {J, _}}} <- maps:to_list(Answers)],
    %% and all three nodes ran calls
    ?assertEqual(3, length(lists:usort([P || {_, P} <- Oks]))),
    %% the killed node left the routing
    ?assertNot(lists:member(Victim, [N || #{node := N} <- pyctx_dist:remote_load(?POOL)])).

fill(#{next := Next, pending := Pending} = S) when Next =< ?CALLS, map_size(Pending) < ?WINDOW ->
    case pyctx:call_async(?POOL, '__main__', work, [Next]) of
        {ok, Ref} ->
            fill(S#{next := Next + 1, pending := Pending#{Ref => Next}});
        {error, _} = Error ->
            %% refused at once (the killed node, counted before its
            %% 'DOWN' reached this node): that is its one answer
            #{answers := A} = S,
            fill(S#{next := Next + 1, answers := A#{{refused, Next} => Error}})
    end;
fill(S) ->
    S.

run(#{next := Next, pending := Pending} = S, _Deadline)
  when Next > ?CALLS, map_size(Pending) =:= 0 ->
    S;
run(#{pending := Pending, answers := Answers} = S, Deadline) ->
    Left = max(0, Deadline - erlang:monotonic_time(millisecond)),
    receive
        {pyctx, Ref, Reply} when is_map_key(Ref, Pending) ->
            {I, Pending1} = maps:take(Ref, Pending),
            ?assertNot(is_map_key(I, Answers)),
            S1 = maybe_kill(S#{pending := Pending1, answers := Answers#{I => Reply}}),
            run(fill(S1), Deadline);
        {pyctx, Ref, Reply} ->
            error({unexpected_reply, Ref, Reply})
    after Left ->
        error({unanswered, map_size(Pending), maps:size(Answers)})
    end.

maybe_kill(#{killed := false, answers := A, victim_os_pid := OsPid} = S)
  when map_size(A) >= ?KILL_AFTER ->
    %% from another process: this one goes on submitting and receiving
    _ = spawn(fun() -> os:cmd("kill -9 " ++ OsPid) end),
    S#{killed := true};
maybe_kill(S) ->
    S.

%% A fourth node starts the pool: it is routed to as soon as pg tells this
%% node it joined, without restarting anything.
join(Tab) ->
    wait_members(2),
    {Node, Peer, OsPid} = start_peer(),
    ets:insert(Tab, {Node, Peer, OsPid}),
    wait_members(3),
    NewPid = list_to_integer(OsPid),
    Ran = [P || _ <- lists:seq(1, 100),
                {ok, {_, P}} <- [pyctx:call(?POOL, '__main__', work, [0])]],
    ?assertEqual(100, length(Ran)),
    ?assert(lists:member(NewPid, Ran)).

%% With a member of dpool on this node too, sequential calls stay here (the
%% local queue is under its capacity); a burst beyond it spills to peers.
local_first(Tab) ->
    {ok, _} = pyctx:start_pool(?POOL, #{size => 1, distributed => true, preload => ?PRELOAD,
                                        member_capacity => 1}),
    Here = list_to_integer(os:getpid()),
    Seq = lists:usort([P || _ <- lists:seq(1, 50),
                            {ok, {_, P}} <- [pyctx:call(?POOL, '__main__', work, [0])]]),
    ?assertEqual([Here], Seq),
    Refs = [element(2, {ok, _} = pyctx:call_async(?POOL, time, sleep, [0.01]))
            || _ <- lists:seq(1, 40)],
    ?assertEqual([{ok, none} || _ <- Refs], [pyctx:await(R, 10000) || R <- Refs]),
    #{completed := LocalDone} = pyctx:pool_info(?POOL),
    %% 50 sequential calls ran here, and only part of the burst
    ?assert(LocalDone >= 50),
    ?assert(LocalDone < 90),
    PeerCount = length(peers(Tab)),
    ?assert(PeerCount >= 2),
    ok = pyctx:stop_pool(?POOL).
