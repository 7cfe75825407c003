%% Many Erlang processes at once, owngil parallelism, and callers that die
%% in the middle of a call.
-module(pyctx_concurrency_tests).
-include_lib("eunit/include/eunit.hrl").

%% A round where the machine showed at least this had a spare core.
-define(MIN_MACHINE_PARALLELISM, 1.7).
%% What two owngil contexts must reach in at least one round. With CPU time
%% shared fairly, two threads get at least 4/3 of one thread's share on
%% two cores however busy they are; serialized execution stays near 1.0.
-define(OWNGIL_SPEEDUP, 1.3).
%% At most this in a round where the machine had a spare core means the
%% contexts ran one at a time; load moves within seconds, so failing takes
%% ?SERIAL_ROUNDS such rounds.
-define(SERIALIZED, 1.1).
-define(SERIAL_ROUNDS, 3).

-import(pyctx_test_util, [modes/0, start/1, pyctx_messages/0, spin_code/0, gate_setup_code/1]).

concurrency_test_() ->
    {timeout, 120,
     [{"1000 concurrent processes", {timeout, 60, fun thousand_callers/0}},
      {"owngil contexts run in parallel", {timeout, 60, fun owngil_speedup/0}},
      {"a caller dying mid-call disturbs nothing else", {timeout, 30, fun caller_dies/0}},
      {"a dead caller's request is cancelled", {timeout, 30, fun dead_caller_cancels/0}}]}.

%% 1000 processes, each making calls on contexts of both modes; every
%% process must get exactly its own answers.
thousand_callers() ->
    Contexts = list_to_tuple([start(Mode) || Mode <- modes(), _ <- [1, 2]]),
    Parent = self(),
    N = 1000,
    Pids = [spawn_link(
              fun() ->
                      Ctx = element(1 + I rem tuple_size(Contexts), Contexts),
                      Results = [pyctx:call(Ctx, operator, add, [I, K], #{timeout => 30000})
                                 || K <- lists:seq(1, 5)],
                      {ok, Echo} = pyctx:eval(Ctx, <<"(i, str(i))">>, #{i => I}, #{timeout => 30000}),
                      Parent ! {done, I, Results, Echo, pyctx_messages()}
              end) || I <- lists:seq(1, N)],
    ?assertEqual(N, length(Pids)),
    Collected = [receive {done, I, Results, Echo, Left} -> {I, Results, Echo, Left} end
                 || I <- lists:seq(1, N)],
    [begin
         ?assertEqual([{ok, I + K} || K <- lists:seq(1, 5)], Results),
         ?assertEqual({I, integer_to_binary(I)}, Echo),
         ?assertEqual([], Left)
     end || {I, Results, Echo, Left} <- Collected],
    [ok = pyctx:stop_context(C) || C <- tuple_to_list(Contexts)].

%% CPU-bound Python in two owngil contexts at once against the same work
%% one after the other: the ratio shows real parallelism (two cores here:
%% ideally 2.0). Serialized execution cannot reach ?OWNGIL_SPEEDUP, so one
%% round that does is proof. The machine is often shared with other work,
%% so each round also measures the parallelism it has to give (the same
%% shape of work as two OS processes: shell busy loops): failing needs
%% repeated rounds where the machine clearly had a spare core while owngil
%% stayed serial, and no round that passed.
owngil_speedup() ->
    case lists:member(owngil, modes()) of
        false -> ok;
        true ->
            Burn = <<"def burn(n):\n"
                     "    total = 0\n"
                     "    for i in range(n):\n"
                     "        total += i * i % 7\n"
                     "    return total\n">>,
            [A, B] = [start(owngil) || _ <- [1, 2]],
            [ok = pyctx:exec(C, Burn) || C <- [A, B]],
            Work = calibrate(A),
            {ok, Expected} = pyctx:call(A, '__main__', burn, [Work], #{timeout => 60000}),
            PyCall = fun(C) -> {ok, Expected} = pyctx:call(C, '__main__', burn, [Work], #{timeout => 60000}) end,
            ShellWork = calibrate_shell(),
            ShellCall = fun(_) -> shell_burn(ShellWork) end,
            Measure = fun() -> {ratio(ShellCall, [a, b]), ratio(PyCall, [A, B])} end,
            {Verdict, Machine, Owngil} = speedup_rounds(Measure, 10, []),
            io:format(user, "~n    owngil speedup with 2 contexts: ~.2f (machine offers ~.2f)~n",
                      [Owngil, Machine]),
            Verdict =:= inconclusive andalso
                io:format(user, "    INCONCLUSIVE: the machine was too busy to show parallelism~n", []),
            ?assertNotEqual(too_slow, Verdict),
            [ok = pyctx:stop_context(C) || C <- [A, B]]
    end.

%% Up to N rounds of {machine ratio, owngil ratio}; stops at the first
%% round where owngil reaches ?OWNGIL_SPEEDUP. Returns {Verdict, P, O}.
speedup_rounds(_Measure, 0, Rounds) ->
    Serial = [R || {P, O} = R <- Rounds, P >= ?MIN_MACHINE_PARALLELISM, O =< ?SERIALIZED],
    {Machine, Owngil} = {lists:max([P || {P, _} <- Rounds]), lists:max([O || {_, O} <- Rounds])},
    io:format(user, "~n    rounds {machine, owngil}: ~p", [lists:reverse(Rounds)]),
    case length(Serial) >= ?SERIAL_ROUNDS of
        true -> {too_slow, Machine, Owngil};
        false -> {inconclusive, Machine, Owngil}
    end;
speedup_rounds(Measure, N, Rounds) ->
    {Machine, Owngil} = Measure(),
    case Owngil >= ?OWNGIL_SPEEDUP of
        true -> {ok, Machine, Owngil};
        false -> speedup_rounds(Measure, N - 1, [{Machine, Owngil} | Rounds])
    end.

%% A work size taking roughly 100 ms for one call on this machine.
calibrate(Ctx) ->
    Probe = 200000,
    {Us, {ok, _}} = timer:tc(fun() -> pyctx:call(Ctx, '__main__', burn, [Probe], #{timeout => 60000}) end),
    max(Probe, round(Probe * 100000 / max(Us, 1))).

calibrate_shell() ->
    Probe = 20000,
    {Us, _} = timer:tc(fun() -> shell_burn(Probe) end),
    max(Probe, round(Probe * 100000 / max(Us, 1))).

%% CPU-bound work in a separate OS process: a shell counting loop.
shell_burn(N) ->
    Loop = "i=0; while [ $i -lt " ++ integer_to_list(N) ++ " ]; do i=$((i+1)); done",
    Port = open_port({spawn_executable, "/bin/sh"}, [{args, ["-c", Loop]}, exit_status]),
    receive {Port, {exit_status, 0}} -> ok end.

%% Sequential time of four calls over parallel time of two workers doing
%% two calls each. The sequential time is the faster of one run before and
%% one after the parallel run, so a load spike cannot inflate the ratio.
ratio(Call, [X, Y]) ->
    Sequential = fun() -> element(1, timer:tc(fun() -> [Call(X) || _ <- [1, 2, 3, 4]] end)) end,
    Before = Sequential(),
    Parent = self(),
    {Parallel, _} =
        timer:tc(fun() ->
                         Pids = [spawn_link(fun() -> Call(W), Call(W), Parent ! {burned, self()} end)
                                 || W <- [X, Y]],
                         [receive {burned, P} -> ok end || P <- Pids]
                 end),
    min(Before, Sequential()) / Parallel.

%% The victim's request is running (it set `started`) when the victim is
%% killed; bystanders keep calling another context meanwhile.
caller_dies() ->
    Gate = "pyctx_test_gate_" ++ integer_to_list(erlang:unique_integer([positive])),
    GateMod = list_to_atom(Gate),
    [Busy, Helper] = [start(worker) || _ <- [1, 2]],
    ok = pyctx:exec(Busy, gate_setup_code(Gate)),
    Parent = self(),
    Victim = spawn(fun() ->
                           Reply = pyctx:call(Busy, GateMod, hold, [], #{timeout => infinity}),
                           Parent ! {victim_survived, Reply}
                   end),
    ?assertEqual({ok, true}, pyctx:call(Helper, GateMod, 'started.wait', [10])),
    Bystanders = [spawn_link(fun() -> bystander(Parent, Helper, I) end) || I <- lists:seq(1, 20)],
    VRef = monitor(process, Victim),
    exit(Victim, kill),
    receive {'DOWN', VRef, process, Victim, killed} -> ok end,
    %% Busy's request was running when its caller died: it is cancelled, or
    %% finishes once released; either way the context is free again and
    %% answers in order.
    ?assertEqual({ok, none}, pyctx:call(Helper, GateMod, 'release.set', [])),
    ?assertEqual({ok, 3}, pyctx:call(Busy, operator, add, [1, 2])),
    [receive {bystander, B, Result} -> ?assertEqual(ok, Result) end || B <- Bystanders],
    ?assertEqual([], pyctx_messages()),
    receive {victim_survived, _} -> ?assert(false) after 0 -> ok end,
    [ok = pyctx:stop_context(C) || C <- [Busy, Helper]].

bystander(Parent, Ctx, I) ->
    Results = [pyctx:call(Ctx, operator, mul, [I, K]) || K <- lists:seq(1, 50)],
    Expected = [{ok, I * K} || K <- lists:seq(1, 50)],
    Parent ! {bystander, self(), case Results of Expected -> ok; _ -> {wrong, Results} end}.

%% A caller killed while its request spins forever: the request is
%% cancelled, so the context serves the next caller (both modes).
dead_caller_cancels() ->
    [begin
         Ctx = start(Mode),
         ok = pyctx:exec(Ctx, spin_code()),
         Parent = self(),
         Victim = spawn(fun() ->
                                {ok, Ref} = pyctx:call_async(Ctx, '__main__', spin, []),
                                Parent ! {submitted, self()},
                                pyctx:await(Ref)
                        end),
         receive {submitted, Victim} -> ok end,
         exit(Victim, kill),
         ?assertEqual({ok, 7}, pyctx:eval(Ctx, <<"7">>, #{}, #{timeout => 10000})),
         ?assertEqual(1, maps:get(cancelled, pyctx:context_info(Ctx))),
         ok = pyctx:stop_context(Ctx)
     end || Mode <- modes()].
