#!/usr/bin/env escript
%%! -noshell
%% A pool spread over three Erlang nodes on this machine.
%%
%% This node becomes demo@127.0.0.1 and starts two peer nodes (OTP's peer
%% module); each of the three runs the pool `demo' with distributed => true.
%% Calls from here run on a local member while it has capacity and on the
%% least loaded peer otherwise; then one peer halts while calls are in
%% flight, and those come back {error, {nodedown, Node}}, once each.
%%
%%   bindings/erlang/test.sh     # or: cd bindings/erlang/pyctx && rebar3 compile
%%   LD_LIBRARY_PATH=build escript bindings/erlang/examples/distributed_pool.escript
%%
%% (LD_LIBRARY_PATH names the directory of libpyctx.so: the in-repository
%% NIF records no path to it; the peers inherit it.)
-mode(compile).

main(_) ->
    Here = filename:dirname(filename:absname(escript:script_name())),
    Ebin = filename:join([filename:dirname(Here), "pyctx", "_build", "default", "lib", "pyctx",
                          "ebin"]),
    true = code:add_patha(Ebin),
    %% epmd maps node names to ports; start it unless one runs
    _ = os:cmd("epmd -daemon"),
    {ok, _} = net_kernel:start(['demo@127.0.0.1', longnames]),
    Preload = <<"import os, time\n"
                "def work(x):\n"
                "    time.sleep(0.001)\n"
                "    return {'x': x, 'pid': os.getpid()}\n">>,
    PoolOpts = #{size => 2, distributed => true, preload => Preload},
    start_app(node()),
    {ok, _} = pyctx:start_pool(demo, PoolOpts#{member_capacity => 1}),
    Peers = [begin
                 {ok, Peer, Node} = peer:start(#{name => Name, host => "127.0.0.1",
                                                 longnames => true,
                                                 args => ["-pa", Ebin, "-connect_all", "false"]}),
                 start_app(Node),
                 {ok, _} = erpc:call(Node, pyctx, start_pool, [demo, PoolOpts]),
                 {Node, Peer}
             end || Name <- [demo_a, demo_b]],
    wait_for_peers(2, 100),
    Pids = maps:from_list([{list_to_integer(erpc:call(N, os, getpid, [])), N}
                           || N <- [node() | [N || {N, _} <- Peers]]]),

    %% one caller: the local members have capacity, everything stays here
    Seq = [begin {ok, #{<<"pid">> := P}} = pyctx:call(demo, '__main__', work, [I]), P end
           || I <- lists:seq(1, 200)],
    io:format("200 sequential calls ran on: ~p~n", [count(Seq, Pids)]),

    %% 2,000 concurrent calls: beyond the local capacity they spill over
    Par = burst(2000),
    io:format("2000 concurrent calls ran on: ~p~n",
              [count([P || {ok, #{<<"pid">> := P}} <- Par], Pids)]),
    io:format("the other nodes' load as this node knows it:~n~p~n",
              [maps:get(nodes, pyctx:pool_info(demo))]),

    %% a peer halts (as in a crash: no clean shutdown) while calls are in
    %% flight
    {Victim, _} = hd(Peers),
    Self = self(),
    spawn(fun() -> receive after 30 -> ok end, erpc:cast(Victim, erlang, halt, []),
                   Self ! halted end),
    Replies = burst(3000),
    receive halted -> ok end,
    Down = [R || {error, {nodedown, _}} = R <- Replies],
    io:format("3000 calls while ~s halted: ~b answered with a value, ~b with ~p~n",
              [Victim, length([ok || {ok, _} <- Replies]), length(Down),
               case Down of [D | _] -> D; [] -> none end]),
    3000 = length(Replies),
    halt(0).

start_app(Node) ->
    ok = erpc:call(Node, application, load, [pyctx]),
    ok = erpc:call(Node, application, set_env, [pyctx, pool_size, 0]),
    {ok, _} = erpc:call(Node, application, ensure_all_started, [pyctx]).

wait_for_peers(N, Tries) ->
    case length(maps:get(nodes, pyctx:pool_info(demo))) of
        N -> ok;
        _ when Tries > 0 -> receive after 20 -> wait_for_peers(N, Tries - 1) end
    end.

%% N calls from N processes at once; their replies in order.
burst(N) ->
    Parent = self(),
    Pids = [spawn_link(fun() -> Parent ! {self(), pyctx:call(demo, '__main__', work, [I])} end)
            || I <- lists:seq(1, N)],
    [receive {P, Reply} -> Reply end || P <- Pids].

count(OsPids, Names) ->
    lists:foldl(fun(P, Acc) ->
                        maps:update_with(maps:get(P, Names, P), fun(C) -> C + 1 end, 1, Acc)
                end, #{}, OsPids).
