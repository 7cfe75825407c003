#!/usr/bin/env escript
%%! -noshell +sbwt very_long +swt very_low
%% Calls spread over 1 and 2 local Erlang nodes: a distributed pool
%% (pyctx:start_pool(bench, #{distributed => true, ...})) on this node
%% alone, then with a peer node on the same machine running the same pool.
%% P processes make sync calls through pyctx:call(bench, ...); the table
%% gives calls/s (median of the rounds) and the share the peer ran.
%%
%%   escript bench/pyctx_dist_bench.escript [--calls N] [--procs P] [--rounds R]
%%                                          [--mode worker|owngil] [--size S]
%%
%% Two workloads, both from the repository's bench/pyctx_bench_funcs.py:
%% identity(1) (the cost of a call: routing, the hop to the other node and
%% back) and factorial_job(400, 4) (about half a millisecond of pure-Python
%% CPU work holding its interpreter's lock: a worker pool runs one at a time
%% per node, so a second node adds a second Python).
%%
%% Needs the binding built (../test.sh, or rebar3 compile in ../pyctx) and
%% libpyctx on the loader path (LD_LIBRARY_PATH=<repo>/build); starts epmd.
-mode(compile).

main(Args) ->
    Opts = parse(Args, #{calls => 20000, procs => 50, rounds => 3, mode => worker, size => 2}),
    Here = filename:dirname(filename:absname(escript:script_name())),
    Root = filename:dirname(Here),
    Ebin = filename:join([Root, "pyctx", "_build", "default", "lib", "pyctx", "ebin"]),
    true = code:add_patha(Ebin),
    BenchDir = filename:join([filename:dirname(filename:dirname(Root)), "bench"]),
    Preload = iolist_to_binary(["import sys\nsys.path.insert(0, ", io_lib:format("~p", [BenchDir]),
                                ")\nimport pyctx_bench_funcs\n"]),
    _ = os:cmd("epmd -daemon"),
    {ok, _} = net_kernel:start(['pyctx_bench@127.0.0.1', longnames]),
    #{calls := Calls, procs := Procs, rounds := Rounds, mode := Mode, size := Size} = Opts,
    PoolOpts = #{size => Size, mode => Mode, distributed => true, preload => Preload},
    start_app(node()),
    {ok, _} = pyctx:start_pool(bench, PoolOpts),
    #{python := Py, pyctx := Lib} = pyctx:versions(),
    io:format("pyctx ~s, Python ~s, OTP ~s, ~b cores; pool of ~b ~s members per node, "
              "~b processes; load before: ~s",
              [Lib, Py, erlang:system_info(otp_release),
               erlang:system_info(logical_processors_available), Size, Mode, Procs,
               os:cmd("uptime")]),
    Work = [{"identity(1)", identity, [1], Calls},
            {"factorial_job(400, 4)", factorial_job, [400, 4], max(1000, Calls div 10)}],
    One = [{Label, measure(F, A, N, Procs, Rounds)} || {Label, F, A, N} <- Work],
    {ok, Peer, Node} = peer:start(#{name => pyctx_bench_peer, host => "127.0.0.1",
                                    longnames => true,
                                    %% default scheduler busy-wait: a peer
                                    %% spinning on a shared machine only
                                    %% takes cores from this node
                                    args => ["-pa", Ebin, "-connect_all", "false"]}),
    start_app(Node),
    {ok, _} = erpc:call(Node, pyctx, start_pool, [bench, PoolOpts]),
    wait_for_peer(bench, 200),
    Two = [{Label, measure(F, A, N, Procs, Rounds)} || {Label, F, A, N} <- Work],
    %% one process, sequential: a call on this node, and one that must go
    %% to the peer (a pool only the peer has)
    {ok, _} = erpc:call(Node, pyctx, start_pool, [bench_remote, PoolOpts]),
    wait_for_peer(bench_remote, 200),
    Seq = max(2000, Calls div 4),
    LocalUs = latency(bench, Seq, Rounds),
    RemoteUs = latency(bench_remote, Seq, Rounds),
    %% for scale: a bare distribution round trip to the peer
    ErpcUs = median([element(1, timer:tc(fun() -> erpc_loop(Node, Seq) end)) / Seq
                     || _ <- lists:seq(1, Rounds)]),
    io:format("~n| workload | 1 node | 2 nodes | share on the peer |~n|---|---|---|---|~n"),
    [io:format("| ~s | ~s calls/s | ~s calls/s | ~.1f% |~n",
               [L, rate(R1), rate(R2), 100 * Peer2])
     || {{L, {R1, _}}, {L, {R2, Peer2}}} <- lists:zip(One, Two)],
    io:format("~none process, sync identity(1): ~.1f us on this node, ~.1f us on the peer; "
              "erpc:call to the peer ~.1f us (medians of ~b rounds of ~b)~n",
              [LocalUs, RemoteUs, ErpcUs, Rounds, Seq]),
    io:format("load after: ~s", [os:cmd("uptime")]),
    peer:stop(Peer),
    halt(0).

start_app(Node) ->
    ok = erpc:call(Node, application, load, [pyctx]),
    ok = erpc:call(Node, application, set_env, [pyctx, pool_size, 0]),
    {ok, _} = erpc:call(Node, application, ensure_all_started, [pyctx]).

%% pg tells this node of the peer's pool asynchronously
wait_for_peer(_Pool, 0) -> error(peer_not_seen);
wait_for_peer(Pool, N) ->
    case pyctx_dist:remote_load(Pool) of
        [_] -> ok;
        _ -> receive after 10 -> wait_for_peer(Pool, N - 1) end
    end.

erpc_loop(_Node, 0) -> ok;
erpc_loop(Node, N) ->
    _ = erpc:call(Node, erlang, node, []),
    erpc_loop(Node, N - 1).

median(Xs) -> lists:nth((length(Xs) + 1) div 2, lists:sort(Xs)).

latency(Pool, N, Rounds) ->
    loop(Pool, identity, [1], N div 10),
    Ts = lists:sort([element(1, timer:tc(fun() -> loop(Pool, identity, [1], N) end)) / N
                     || _ <- lists:seq(1, Rounds)]),
    lists:nth((Rounds + 1) div 2, Ts).

parse([], Acc) -> Acc;
parse(["--calls", N | T], Acc) -> parse(T, Acc#{calls => list_to_integer(N)});
parse(["--procs", N | T], Acc) -> parse(T, Acc#{procs => list_to_integer(N)});
parse(["--rounds", N | T], Acc) -> parse(T, Acc#{rounds => list_to_integer(N)});
parse(["--size", N | T], Acc) -> parse(T, Acc#{size => list_to_integer(N)});
parse(["--mode", M | T], Acc) -> parse(T, Acc#{mode => list_to_atom(M)});
parse(Other, _) ->
    io:format(standard_error, "unknown arguments: ~p~n", [Other]),
    halt(2).

%% {median calls/s, share of the calls the pool's other node ran}
measure(F, A, Calls, Procs, Rounds) ->
    PerProc = max(1, Calls div Procs),
    Run = fun() ->
                  Parent = self(),
                  Pids = [spawn_link(fun() -> loop(bench, F, A, PerProc), Parent ! {done, self()} end)
                          || _ <- lists:seq(1, Procs)],
                  [receive {done, P} -> ok end || P <- Pids]
          end,
    Run(),
    Results = [begin
                   #{completed := C0} = pyctx:pool_info(bench),
                   {T, _} = timer:tc(Run),
                   #{completed := C1} = pyctx:pool_info(bench),
                   Total = PerProc * Procs,
                   {Total / (T / 1.0e6), 1 - (C1 - C0) / Total}
               end || _ <- lists:seq(1, Rounds)],
    lists:nth((Rounds + 1) div 2, lists:sort(Results)).

loop(_Pool, _F, _A, 0) -> ok;
loop(Pool, F, A, N) ->
    {ok, _} = pyctx:call(Pool, pyctx_bench_funcs, F, A, #{timeout => 30000}),
    loop(Pool, F, A, N - 1).

rate(PerSec) when PerSec >= 1000 -> io_lib:format("~.1fK", [PerSec / 1000]);
rate(PerSec) -> io_lib:format("~.0f", [PerSec]).
