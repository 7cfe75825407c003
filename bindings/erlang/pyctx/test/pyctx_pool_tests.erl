%% Named pools on the C library's pool (pyctx_pool_t): routing, keys, the
%% queue bound, resize, replacement, stop, async requests, envs and objects.
-module(pyctx_pool_tests).
-include_lib("eunit/include/eunit.hrl").

-import(pyctx_test_util, [modes/0, wait_until/2, pyctx_messages/0, gate_setup_code/1]).

setup() ->
    application:load(pyctx),
    ok = application:set_env(pyctx, pool_size, 1),
    {ok, _} = application:ensure_all_started(pyctx),
    ok.

cleanup(_) ->
    ok = application:stop(pyctx).

pool_test_() ->
    {setup, fun setup/0, fun cleanup/1,
     [{"start, use and stop in " ++ atom_to_list(M) ++ " mode", fun() -> basics(M) end}
      || M <- modes()] ++
     [{"bad options and failed starts", fun bad_input/0},
      {"least queued: a busy member is passed over", fun least_queued/0},
      {"by key: the same key, the same member", fun by_key/0},
      {"route_info: the member that ran it, and keys moved by a resize", fun route_info/0},
      {"the queue bound answers queue_full at once", fun queue_bound/0},
      {"resize: grow, and shrink after the queue", fun resize/0},
      {"a closed member is replaced, or left", fun replacement/0},
      {"a crashed process member is replaced", fun process_crash/0},
      {"stop answers queued requests closed, once", fun stop/0},
      {"async, cancel and timeouts on a pool", fun async/0},
      {"envs and objects belong to their member", fun envs_objects/0},
      {"a killed pool process: restarted, the old pool closed once collected",
       fun lifetime/0}]}.

thread(Pool) ->
    {ok, Id} = pyctx:call(Pool, threading, get_ident, []),
    Id.

basics(Mode) ->
    Name = list_to_atom("basics_" ++ atom_to_list(Mode)),
    {ok, Pid} = pyctx:start_pool(Name, #{size => 2, mode => Mode,
                                         preload => <<"marker = 'pre'">>}),
    ?assert(is_process_alive(Pid)),
    ?assertEqual({error, already_started}, pyctx:start_pool(Name, #{})),
    ?assert(lists:member(Name, pyctx:pools())),
    ?assertEqual({ok, 3.0}, pyctx:call(Name, math, sqrt, [9])),
    ?assertEqual({ok, <<"pre!">>}, pyctx:eval(Name, <<"marker + s">>, #{s => <<"!">>})),
    ?assertEqual(ok, pyctx:exec(Name, <<"y = 1">>)),
    ?assertEqual({ok, [3, 2, 1]},
                 pyctx:call(Name, builtins, sorted, [[1, 3, 2]], #{kwargs => #{reverse => true}})),
    ?assertMatch({error, {python, <<"ZeroDivisionError">>, _, _}},
                 pyctx:eval(Name, <<"1/0">>)),
    Members = pyctx:pool_members(Name),
    ?assertEqual(2, length(Members)),
    ?assertEqual(2, length(lists:usort([maps:get(thread_id, M) || M <- Members]))),
    [?assertMatch(#{mode := Mode, closed := false}, pyctx:context_info(C))
     || C <- pyctx:pool_contexts(Name)],
    #{size := 2, completed := Completed, failed := Failed} = pyctx:pool_info(Name),
    ?assertEqual({4, 1}, {Completed, Failed}),
    ?assertEqual(ok, pyctx:stop_pool(Name)),
    ?assertEqual({error, not_found}, pyctx:stop_pool(Name)),
    ?assertEqual({error, not_running}, pyctx:call(Name, math, sqrt, [9])),
    ?assertNot(lists:member(Name, pyctx:pools())).

bad_input() ->
    ?assertError({bad_option, {size, 0}}, pyctx:start_pool(bad, #{size => 0})),
    ?assertError({bad_option, {routing, random}}, pyctx:start_pool(bad, #{routing => random})),
    ?assertError({bad_option, owner}, pyctx:start_pool(bad, #{owner => self()})),
    ?assertError({bad_option, colour}, pyctx:start_pool(bad, #{colour => red})),
    ?assertError(function_clause, pyctx:start_pool("bad", #{})),
    ?assertMatch({error, {invalid_argument, <<"a pool has 1 to 256 members", _/binary>>}},
                 pyctx:start_pool(bad, #{size => 300})),
    ?assertMatch({error, {python, <<"ZeroDivisionError">>, _, _}},
                 pyctx:start_pool(bad, #{preload => <<"1/0">>})),
    ?assertEqual({error, not_found}, pyctx:pool_info(bad)),
    {ok, _} = pyctx:start_pool(bad, #{}),
    ?assertError({bad_option, colour}, pyctx:call(bad, math, sqrt, [1], #{colour => red})),
    ?assertError({bad_option, kwargs}, pyctx:exec(bad, <<"1">>, #{kwargs => []})),
    ?assertError(badarg, pyctx:call(bad, math, sqrt, not_a_list)),
    ok = pyctx:stop_pool(bad).

%% worker members share sys.modules, so one gate module serves both
least_queued() ->
    {ok, _} = pyctx:start_pool(lq, #{size => 2}),
    ok = pyctx:exec(lq, gate_setup_code("lq_gate")),
    {ok, Held} = pyctx:call_async(lq, lq_gate, hold, []),
    {ok, true} = pyctx:eval(lq, <<"__import__('lq_gate').started.wait(10)">>),
    %% every call now goes to the idle member, never behind the held one
    Ids = lists:usort([thread(lq) || _ <- lists:seq(1, 20)]),
    ?assertEqual(1, length(Ids)),
    Busy = [M || #{busy := true} = M <- pyctx:pool_members(lq)],
    ?assertMatch([#{thread_id := _}], Busy),
    ?assertNotEqual(Ids, [maps:get(thread_id, hd(Busy))]),
    ok = pyctx:exec(lq, <<"__import__('lq_gate').release.set()">>),
    ?assertEqual({ok, <<"released">>}, pyctx:await(Held, 10000)),
    ok = pyctx:stop_pool(lq).

by_key() ->
    {ok, _} = pyctx:start_pool(keyed, #{size => 3, routing => by_key}),
    Of = fun(Key) ->
                 {ok, Id} = pyctx:call(keyed, threading, get_ident, [], #{key => Key}),
                 Id
         end,
    Keys = [<<"user:", (integer_to_binary(I))/binary>> || I <- lists:seq(1, 30)] ++
           [{any, term}, 42],
    First = [{K, Of(K)} || K <- Keys],
    %% stable, and spread over more than one member
    ?assertEqual(First, [{K, Of(K)} || K <- Keys]),
    ?assert(length(lists:usort([Id || {_, Id} <- First])) > 1),
    %% eval and exec follow the key too: state of a key stays in its member
    ok = pyctx:exec(keyed, <<"import builtins; builtins.k_state = 'here'">>, #{key => <<"s">>}),
    ?assertEqual({ok, <<"here">>},
                 pyctx:eval(keyed, <<"__import__('builtins').k_state">>, #{}, #{key => <<"s">>})),
    ok = pyctx:stop_pool(keyed).

route_info() ->
    {ok, _} = pyctx:start_pool(routed, #{size => 2, routing => by_key}),
    Keys = [<<"k", (integer_to_binary(I))/binary>> || I <- lists:seq(1, 40)],
    Route = fun(K) ->
                    {ok, 42, R} = pyctx:eval(routed, <<"40 + 2">>, #{},
                                             #{key => K, route_info => true}),
                    R
            end,
    MemberIds = [maps:get(member_id, M) || M <- pyctx:pool_members(routed)],
    First = [{K, Route(K)} || K <- Keys],
    %% a key seen for the first time has not moved; the same key, the same
    %% member, one of the pool's
    [?assertMatch(#{key_moved := false}, R) || {_, R} <- First],
    [?assertEqual(R, Route(K)) || {K, R} <- First],
    [?assert(lists:member(maps:get(member, R), MemberIds)) || {_, R} <- First],
    ok = pyctx:resize_pool(routed, 3),
    After = [{K, Route(K)} || K <- Keys],
    %% reported moved: exactly the keys whose member changed, and only once
    Changed = [K || {{K, R0}, {K, R1}} <- lists:zip(First, After),
                    maps:get(member, R0) =/= maps:get(member, R1)],
    ?assertEqual(Changed, [K || {K, #{key_moved := true}} <- After]),
    ?assertNotEqual([], Changed),
    [?assertMatch(#{key_moved := false}, Route(K)) || K <- Changed],
    %% async and exec forms; errors as without the option
    {ok, Ref} = pyctx:call_async(routed, math, sqrt, [4], #{key => <<"k1">>, route_info => true}),
    ?assertMatch({ok, 2.0, #{member := _, key_moved := false}}, pyctx:await(Ref, 10000)),
    ?assertMatch({ok, #{member := _, key_moved := false}},
                 pyctx:exec(routed, <<"x = 1">>, #{key => <<"k1">>, route_info => true})),
    ?assertMatch({error, {python, <<"ZeroDivisionError">>, _, _}},
                 pyctx:eval(routed, <<"1/0">>, #{}, #{key => <<"k1">>, route_info => true})),
    ?assertError({bad_option, {route_info, yes}},
                 pyctx:call(routed, math, sqrt, [1], #{route_info => yes})),
    ok = pyctx:stop_pool(routed),
    %% without a key: the member least queued routing chose
    {ok, _} = pyctx:start_pool(unkeyed, #{size => 2}),
    Ids = [maps:get(member_id, M) || M <- pyctx:pool_members(unkeyed)],
    {ok, 3.0, #{member := M, key_moved := false}} =
        pyctx:call(unkeyed, math, sqrt, [9], #{route_info => true}),
    ?assert(lists:member(M, Ids)),
    ?assertEqual({ok, 3.0}, pyctx:call(unkeyed, math, sqrt, [9], #{})),
    ok = pyctx:stop_pool(unkeyed).

queue_bound() ->
    {ok, _} = pyctx:start_pool(bounded, #{size => 1, queue_bound => 2}),
    ok = pyctx:exec(bounded, gate_setup_code("qb_gate")),
    {ok, Held} = pyctx:call_async(bounded, qb_gate, hold, []),
    {ok, true} = pyctx:eval(side_ctx(), <<"__import__('qb_gate').started.wait(10)">>),
    {ok, Q1} = pyctx:call_async(bounded, math, sqrt, [1]),
    {ok, Q2} = pyctx:call_async(bounded, math, sqrt, [4]),
    ?assertEqual({error, queue_full}, pyctx:call_async(bounded, math, sqrt, [9])),
    ?assertEqual({error, queue_full}, pyctx:call(bounded, math, sqrt, [9])),
    #{refused_full := 2, queue_depth := 2} = pyctx:pool_info(bounded),
    {ok, true} = pyctx:eval(side_ctx(), <<"__import__('qb_gate').release.set() or True">>),
    ?assertEqual({ok, <<"released">>}, pyctx:await(Held, 10000)),
    ?assertEqual({ok, 1.0}, pyctx:await(Q1, 10000)),
    ?assertEqual({ok, 2.0}, pyctx:await(Q2, 10000)),
    ?assertEqual([], pyctx_messages()),
    ok = pyctx:stop_pool(bounded).

%% A context outside the pool (worker: it shares the gate modules).
side_ctx() ->
    case get(side_ctx) of
        undefined ->
            {ok, Ctx} = pyctx:start_context(),
            put(side_ctx, Ctx),
            Ctx;
        Ctx ->
            Ctx
    end.

resize() ->
    {ok, _} = pyctx:start_pool(sized, #{size => 1, mode => owngil_or_worker()}),
    ?assertEqual(ok, pyctx:resize_pool(sized, 3)),
    ?assertMatch(#{size := 3, created := 3}, pyctx:pool_info(sized)),
    %% queue work on every member, then shrink: the leaving members finish
    %% their queues before they close, so nothing is answered closed
    Refs = [element(2, {ok, _} = pyctx:call_async(sized, time, sleep, [0.02]))
            || _ <- lists:seq(1, 12)],
    ?assertEqual(ok, pyctx:resize_pool(sized, 1)),
    ?assertEqual([{ok, none} || _ <- Refs], [pyctx:await(R, 10000) || R <- Refs]),
    ?assertMatch(#{size := 1, leaving := 0, closed_requests := 0}, pyctx:pool_info(sized)),
    ?assertEqual(1, length(pyctx:pool_members(sized))),
    ?assertMatch({error, {invalid_argument, _}}, pyctx:resize_pool(sized, 0)),
    ?assertEqual({error, not_found}, pyctx:resize_pool(no_such_pool, 2)),
    ok = pyctx:stop_pool(sized).

owngil_or_worker() ->
    case lists:member(owngil, modes()) of
        true -> owngil;
        false -> worker
    end.

replacement() ->
    {ok, _} = pyctx:start_pool(rep, #{size => 2}),
    [C1, _] = pyctx:pool_contexts(rep),
    #{thread_id := Gone} = pyctx:context_info(C1),
    ok = pyctx:stop_context(C1),
    %% the pool's keeper notices within about 20 ms (by design asynchronous)
    wait_until(fun() -> maps:get(replaced, pyctx:pool_info(rep)) =:= 1 end, 5000),
    Threads = [maps:get(thread_id, M) || M <- pyctx:pool_members(rep)],
    ?assertEqual(2, length(Threads)),
    ?assertNot(lists:member(Gone, Threads)),
    ok = pyctx:stop_pool(rep),
    %% replace => leave: the pool shrinks instead
    {ok, _} = pyctx:start_pool(leave, #{size => 2, replace => leave}),
    [L1, _] = pyctx:pool_contexts(leave),
    ok = pyctx:stop_context(L1),
    wait_until(fun() -> maps:get(size, pyctx:pool_info(leave)) =:= 1 end, 5000),
    ?assertMatch(#{replaced := 0}, pyctx:pool_info(leave)),
    ?assertEqual({ok, 2.0}, pyctx:call(leave, math, sqrt, [4])),
    ok = pyctx:stop_pool(leave).

process_crash() ->
    {ok, _} = pyctx:start_pool(procs, #{size => 1, mode => process}),
    {ok, Pid1} = pyctx:call(procs, os, getpid, []),
    ?assertMatch({error, {crashed, _}}, pyctx:call(procs, os, '_exit', [3])),
    wait_until(fun() -> maps:get(replaced, pyctx:pool_info(procs)) =:= 1 end, 10000),
    {ok, Pid2} = pyctx:call(procs, os, getpid, []),
    ?assertNotEqual(Pid1, Pid2),
    ok = pyctx:stop_pool(procs).

stop() ->
    {ok, _} = pyctx:start_pool(stopping, #{size => 1}),
    %% a gate whose wait Python can interrupt (a loop of short sleeps)
    ok = pyctx:exec(stopping, <<"import sys, types, threading, time\n"
                                "m = types.ModuleType('stop_gate')\n"
                                "m.started = threading.Event()\n"
                                "m.release = threading.Event()\n"
                                "def hold():\n"
                                "    m.started.set()\n"
                                "    while not m.release.is_set():\n"
                                "        time.sleep(0.001)\n"
                                "m.hold = hold\n"
                                "sys.modules['stop_gate'] = m\n">>),
    {ok, Held} = pyctx:call_async(stopping, stop_gate, hold, []),
    {ok, true} = pyctx:eval(side_ctx(), <<"__import__('stop_gate').started.wait(10)">>),
    Queued = [element(2, {ok, _} = pyctx:call_async(stopping, math, sqrt, [I]))
              || I <- lists:seq(1, 20)],
    %% the running one is interrupted, the queued ones answer closed
    ok = pyctx:stop_pool(stopping, 5000),
    ?assertMatch({error, _}, pyctx:await(Held, 5000)),
    ?assertEqual([{error, closed} || _ <- Queued], [pyctx:await(R, 5000) || R <- Queued]),
    ?assertEqual([], pyctx_messages()),
    {ok, true} = pyctx:eval(side_ctx(), <<"__import__('stop_gate').release.set() or True">>).

async() ->
    {ok, _} = pyctx:start_pool(asy, #{size => 1}),
    %% interruptible at once (a sleep in C is not)
    ok = pyctx:exec(asy, pyctx_test_util:spin_code()),
    {ok, R1} = pyctx:call_async(asy, operator, add, [1, 2]),
    ?assertEqual({ok, 3}, pyctx:await(R1, 5000)),
    {ok, R2} = pyctx:eval_async(asy, <<"a * 2">>, #{a => 21}),
    receive {pyctx, R2, Reply2} -> ?assertEqual({ok, 42}, Reply2) after 5000 -> error(no_reply) end,
    {ok, R3} = pyctx:exec_async(asy, <<"b = 1">>),
    ?assertEqual(ok, pyctx:await(R3, 5000)),
    %% cancel: no reply ever reaches the mailbox
    {ok, R4} = pyctx:call_async(asy, '__main__', spin, []),
    ok = pyctx:cancel(R4),
    %% a sync timeout: the running call is interrupted, no late reply
    ?assertEqual({error, timeout}, pyctx:call(asy, '__main__', spin, [], #{timeout => 50})),
    %% the async deadline of the library
    ?assertEqual({error, timeout}, pyctx:await(element(2, pyctx:call_async(
                                                            asy, '__main__', spin, [],
                                                            #{timeout => 50})), 5000)),
    %% one member: this call runs after the interrupted ones completed
    ?assertEqual({ok, 1.0}, pyctx:call(asy, math, sqrt, [1])),
    ?assertEqual([], pyctx_messages()),
    #{cancelled := Cancelled, timed_out := TimedOut} = pyctx:pool_info(asy),
    ?assertEqual(3, Cancelled + TimedOut),
    ok = pyctx:stop_pool(asy).

envs_objects() ->
    {ok, _} = pyctx:start_pool(eo, #{size => 2}),
    {ok, Env} = pyctx:pool_new_env(eo),
    ok = pyctx:exec(Env, <<"counter = 10">>),
    ?assertEqual({ok, 11}, pyctx:eval(Env, <<"counter + 1">>)),
    {ok, Obj} = pyctx:call(eo, collections, 'Counter', [[1, 1, 2]], #{result => object}),
    ?assertEqual({ok, [{1, 2}]}, pyctx:method_call(Obj, most_common, [1])),
    #{alive := true, context := CtxName} = pyctx:object_info(Obj),
    Names = [maps:get(name, pyctx:context_info(C)) || C <- pyctx:pool_contexts(eo)],
    ?assert(lists:member(CtxName, Names)),
    ok = pyctx:stop_pool(eo),
    %% their member is gone with the pool
    ?assertEqual({error, closed}, pyctx:eval(Env, <<"counter">>)),
    ?assertEqual({error, closed}, pyctx:method_call(Obj, most_common, [1])).

%% The pool's process owns it: killed, the pool is started again by its
%% supervisor, and the old C pool closes once its term is collected (its
%% requests in flight answered, once). A closed pool answers closed.
lifetime() ->
    {ok, Pid} = pyctx:start_pool(life, #{size => 1}),
    [Old] = pyctx:pool_contexts(life),
    #{thread_id := OldThread} = pyctx:context_info(Old),
    Ref = erlang:monitor(process, Pid),
    exit(Pid, kill),
    receive {'DOWN', Ref, process, Pid, killed} -> ok after 5000 -> error(not_killed) end,
    %% restarted under pyctx_pool_sup with the same options
    wait_until(fun() ->
                       case pyctx_pool:server(life) of
                           undefined -> false;
                           New -> New =/= Pid
                       end
               end, 5000),
    {ok, NewThread} = {ok, thread(life)},
    ?assertNotEqual(OldThread, NewThread),
    %% the old pool's term was dropped from persistent_term: once collected
    %% the destructor closed its member (asynchronous by design)
    erlang:garbage_collect(),
    wait_until(fun() -> maps:get(closed, pyctx:context_info(Old)) end, 5000),
    ok = pyctx:stop_pool(life),
    %% the resource itself, closed explicitly: every submission answers
    %% closed at once (a caller that read the pool just before stop_pool)
    Member = {worker, undefined, undefined, 0, 0, [], 0, {0, 0, undefined, stderr}},
    {ok, Pool} = pyctx_nif:pool_start(Member, {1, <<"raw">>, least_queued, 0, replace, 0}),
    ok = pyctx_nif:pool_close(Pool, 1000),
    ok = pyctx_nif:pool_close(Pool, 1000),
    Owner = pyctx_nif:owner_new(),
    ?assertEqual({error, closed},
                 pyctx_nif:pool_call(Pool, math, sqrt, [1], [], 0, Owner)),
    ?assertEqual({error, closed},
                 pyctx_nif:pool_request(eval, Pool, <<"1">>, undefined, [], [], undefined,
                                        value, 0, Owner, false)),
    ?assertMatch(#{closed := true, size := 0}, pyctx_nif:pool_info(Pool)),
    ?assertError(badarg, pyctx_nif:pool_call(not_a_pool, math, sqrt, [1], [], 0, Owner)).
