%% Contexts, envs, sync and async requests, errors, timeouts and cancel, in
%% both modes.
-module(pyctx_requests_tests).
-include_lib("eunit/include/eunit.hrl").

-import(pyctx_test_util, [modes/0, start/1, start/2, wait_until/2, pyctx_messages/0,
                          thread_names/0, spin_code/0]).

requests_test_() ->
    [{"requests in " ++ atom_to_list(Mode) ++ " mode",
      {foreach,
       fun() -> Ctx = start(Mode), ok = pyctx:exec(Ctx, spin_code()), Ctx end,
       fun pyctx:stop_context/1,
       [fun(Ctx) -> {Name, fun() -> Test(Ctx) end} end || {Name, Test} <- cases()]}}
     || Mode <- modes()].

cases() ->
    [{"call, eval and exec", fun basics/1},
     {"python errors", fun python_errors/1},
     {"envs are separate namespaces", fun envs/1},
     {"async replies by documented message", fun async_message/1},
     {"await times out and can be awaited again", fun await_timeout/1},
     {"sync timeout cancels and leaves no message", fun sync_timeout/1},
     {"timeouts racing replies leave no message", fun racing_timeouts/1},
     {"library deadline on async requests", fun async_deadline/1},
     {"cancel of a running request", fun cancel_running/1},
     {"cancel after completion flushes the reply", fun cancel_after_completion/1},
     {"cancel from another process", fun cancel_by_other/1},
     {"stopping answers pending requests with closed", fun stop_pending/1},
     {"requests after stop", fun after_stop/1}].

basics(Ctx) ->
    ?assertEqual({ok, 3}, pyctx:call(Ctx, operator, add, [1, 2])),
    ?assertEqual({ok, <<"/">>}, pyctx:call(Ctx, 'os.path', dirname, [<<"/x">>])),
    ?assertEqual({ok, 42}, pyctx:eval(Ctx, <<"x * y">>, #{x => 6, <<"y">> => 7})),
    ?assertEqual(ok, pyctx:exec(Ctx, <<"counter = 10">>)),
    ?assertEqual({ok, 11}, pyctx:eval(Ctx, "counter + 1")),
    ?assertEqual(ok, pyctx:exec(Ctx, [<<"def twice(v):\n">>, <<"    return v * 2\n">>])),
    ?assertEqual({ok, 8}, pyctx:call(Ctx, '__main__', twice, [4])),
    ?assertEqual({ok, [1, 1]}, pyctx:call(Ctx, <<"__main__">>, <<"twice">>, [[1]], #{timeout => 1000})),
    ?assertEqual({ok, <<"ab">>}, pyctx:eval(Ctx, <<"a + b">>, #{a => <<"a">>, b => <<"b">>},
                                            #{timeout => infinity})).

python_errors(Ctx) ->
    {error, {python, Type, Message, Traceback}} = pyctx:call(Ctx, builtins, int, [<<"x">>]),
    ?assertEqual(<<"ValueError">>, Type),
    ?assertEqual(<<"invalid literal for int() with base 10: 'x'">>, Message),
    ?assertNotEqual(nomatch, binary:match(Traceback, <<"ValueError">>)),
    ?assertMatch({error, {python, <<"ZeroDivisionError">>, _, _}}, pyctx:eval(Ctx, <<"1 / 0">>)),
    ?assertMatch({error, {python, <<"ModuleNotFoundError">>, _, _}},
                 pyctx:call(Ctx, no_such_module_here, f, [])),
    ?assertMatch({error, {python, <<"SyntaxError">>, _, _}}, pyctx:exec(Ctx, <<"def (">>)),
    ok = pyctx:exec(Ctx, <<"class AppError(Exception):\n    pass\n"
                           "def fail():\n    raise AppError('nope')\n">>),
    %% exception types are qualified by their module
    ?assertMatch({error, {python, <<"__main__.AppError">>, <<"nope">>, _}},
                 pyctx:call(Ctx, '__main__', fail, [])),
    %% the context keeps working after errors
    ?assertEqual({ok, 2}, pyctx:eval(Ctx, <<"1 + 1">>)).

envs(Ctx) ->
    {ok, EnvA} = pyctx:new_env(Ctx),
    {ok, EnvB} = pyctx:new_env(Ctx),
    ok = pyctx:exec(EnvA, <<"x = 'a'">>),
    ok = pyctx:exec(EnvB, <<"x = 'b'">>),
    ?assertEqual({ok, <<"a">>}, pyctx:eval(EnvA, <<"x">>)),
    ?assertEqual({ok, <<"b!">>}, pyctx:eval(EnvB, <<"x + y">>, #{y => <<"!">>})),
    ?assertMatch({error, {python, <<"NameError">>, _, _}}, pyctx:eval(Ctx, <<"x">>)),
    {ok, Ref} = pyctx:eval_async(EnvA, <<"x * 2">>),
    ?assertEqual({ok, <<"aa">>}, pyctx:await(Ref)),
    %% an env is not a context for call/4
    ?assertError(badarg, pyctx:call(EnvA, operator, add, [1, 2])).

async_message(Ctx) ->
    {ok, Ref} = pyctx:call_async(Ctx, operator, mul, [6, 7]),
    ?assert(is_reference(Ref)),
    receive {pyctx, Ref, Reply} -> ?assertEqual({ok, 42}, Reply) end,
    {ok, ExecRef} = pyctx:exec_async(Ctx, <<"z = 1">>),
    receive {pyctx, ExecRef, ExecReply} -> ?assertEqual(ok, ExecReply) end,
    {ok, ErrRef} = pyctx:eval_async(Ctx, <<"undefined_name">>, #{}, #{timeout => 5000}),
    ?assertMatch({error, {python, <<"NameError">>, _, _}}, pyctx:await(ErrRef)),
    {ok, KwRef} = pyctx:call_async(Ctx, builtins, int, [<<"11">>], #{kwargs => #{base => 2}}),
    ?assertEqual({ok, 3}, pyctx:await(KwRef, 5000)),
    %% many in flight, answered in any order
    Refs = [{I, element(2, pyctx:call_async(Ctx, operator, add, [I, 1]))} || I <- lists:seq(1, 200)],
    [?assertEqual({ok, I + 1}, pyctx:await(R)) || {I, R} <- lists:reverse(Refs)],
    ?assertEqual({error, no_reply}, pyctx:await(Ref, 0)),
    ?assertEqual([], pyctx_messages()).

await_timeout(Ctx) ->
    {ok, Ref} = pyctx:call_async(Ctx, '__main__', spin, []),
    ?assertEqual({error, timeout}, pyctx:await(Ref, 20)),
    ?assertEqual(pending, pyctx_nif:request_state(Ref)),
    ok = pyctx:cancel(Ref),
    ?assertEqual({error, cancelled}, pyctx:await(Ref, 1000)),
    ?assertEqual({ok, 1}, pyctx:eval(Ctx, <<"1">>)),
    ?assertEqual([], pyctx_messages()).

sync_timeout(Ctx) ->
    T0 = erlang:monotonic_time(millisecond),
    ?assertEqual({error, timeout}, pyctx:call(Ctx, '__main__', spin, [], #{timeout => 50})),
    ?assert(erlang:monotonic_time(millisecond) - T0 >= 50),
    ?assertEqual({error, timeout}, pyctx:eval(Ctx, <<"spin()">>, #{}, #{timeout => 10})),
    ?assertEqual({error, timeout}, pyctx:exec(Ctx, <<"spin()">>, #{timeout => 0})),
    %% requests run in order, so once this one is answered the timed-out
    %% ones have completed too: none of their replies may be here
    ?assertEqual({ok, 5}, pyctx:eval(Ctx, <<"5">>)),
    ?assertEqual([], pyctx_messages()),
    #{cancelled := Cancelled, timed_out := TimedOut} = pyctx:context_info(Ctx),
    ?assertEqual(3, Cancelled + TimedOut).

%% Timeouts of 0 and 1 ms on fast requests fire around the moment the reply
%% is sent, exercising every interleaving of abandon and completion.
racing_timeouts(Ctx) ->
    Results = [pyctx:call(Ctx, operator, pos, [I], #{timeout => I rem 2}) || I <- lists:seq(1, 3000)],
    Ok = length([R || {ok, _} = R <- Results]),
    TimedOut = length([R || {error, timeout} = R <- Results]),
    ?assertEqual(3000, Ok + TimedOut),
    ?assert(TimedOut > 0),
    [?assertEqual({ok, I}, R) || {I, {ok, _} = R} <- lists:zip(lists:seq(1, 3000), Results)],
    %% in order: every earlier request has completed once this one has
    ?assertEqual({ok, 0}, pyctx:call(Ctx, operator, pos, [0])),
    ?assertEqual([], pyctx_messages()).

async_deadline(Ctx) ->
    {ok, Ref} = pyctx:call_async(Ctx, '__main__', spin, [], #{timeout => 30}),
    ?assertEqual({error, timeout}, pyctx:await(Ref)),
    ?assertEqual({ok, 1}, pyctx:eval(Ctx, <<"1">>)).

cancel_running(Ctx) ->
    {ok, Ref} = pyctx:call_async(Ctx, '__main__', spin, []),
    {ok, Queued} = pyctx:eval_async(Ctx, <<"'queued'">>),
    ok = pyctx:cancel(Ref),
    ?assertEqual(abandoned, pyctx_nif:request_state(Ref)),
    ?assertEqual({ok, <<"queued">>}, pyctx:await(Queued)),
    ?assertEqual({ok, 2}, pyctx:eval(Ctx, <<"2">>)),
    ?assertEqual([], pyctx_messages()).

cancel_after_completion(Ctx) ->
    {ok, Ref} = pyctx:call_async(Ctx, operator, add, [1, 1]),
    %% in order: once this is answered, Ref's reply has been sent
    {ok, 3} = pyctx:eval(Ctx, <<"3">>),
    ?assertEqual(sent, pyctx_nif:request_state(Ref)),
    ?assertMatch([{pyctx, Ref, {ok, 2}}], pyctx_messages()),
    ok = pyctx:cancel(Ref),
    ?assertEqual([], pyctx_messages()),
    %% and cancelling a reply already received returns at once
    {ok, Ref2} = pyctx:call_async(Ctx, operator, add, [2, 2]),
    {ok, 4} = pyctx:await(Ref2),
    ?assertEqual(ok, pyctx:cancel(Ref2)).

cancel_by_other(Ctx) ->
    {ok, Ref} = pyctx:call_async(Ctx, '__main__', spin, []),
    Self = self(),
    spawn(fun() -> Self ! {cancelled, pyctx:cancel(Ref)} end),
    receive {cancelled, Result} -> ?assertEqual(ok, Result) end,
    %% the owner still gets exactly one reply
    ?assertEqual({error, cancelled}, pyctx:await(Ref, 5000)),
    ?assertEqual([], pyctx_messages()).

stop_pending(Ctx) ->
    {ok, Running} = pyctx:call_async(Ctx, '__main__', spin, []),
    Queued = [element(2, pyctx:eval_async(Ctx, <<"1">>)) || _ <- lists:seq(1, 5)],
    ?assertEqual(ok, pyctx:stop_context(Ctx)),
    ?assertEqual({error, closed}, pyctx:await(Running, 5000)),
    [?assertEqual({error, closed}, pyctx:await(R, 5000)) || R <- Queued],
    ?assertEqual(true, maps:get(closed, pyctx:context_info(Ctx))).

after_stop(Ctx) ->
    ok = pyctx:stop_context(Ctx),
    ?assertEqual(ok, pyctx:stop_context(Ctx)),
    ?assertEqual({error, closed}, pyctx:call(Ctx, operator, add, [1, 2])),
    ?assertEqual({error, closed}, pyctx:eval(Ctx, <<"1">>)),
    ?assertEqual({error, closed}, pyctx:call_async(Ctx, operator, add, [1, 2])),
    ?assertEqual({error, closed}, pyctx:new_env(Ctx)).

%%% Context options and lifetime (mode-independent or per mode)

options_test_() ->
    [{"preload, name and mode", fun preload/0},
     {"bad options", fun bad_options/0},
     {"queue capacity", fun queue_capacity/0},
     {"closed when the owner process dies", fun owner_death/0},
     {"freed when no reference remains", fun freed_by_gc/0},
     {"freed by the completion of its last request", fun freed_by_completion/0}].

preload() ->
    [begin
         Ctx = start(Mode, #{preload => <<"import math\nz = math.sqrt(49)">>, name => <<"pre-", (atom_to_binary(Mode))/binary>>}),
         ?assertEqual({ok, 7.0}, pyctx:eval(Ctx, <<"z">>)),
         #{name := Name, mode := M} = pyctx:context_info(Ctx),
         ?assertEqual(<<"pre-", (atom_to_binary(Mode))/binary>>, Name),
         ?assertEqual(Mode, M),
         ok = pyctx:stop_context(Ctx)
     end || Mode <- modes()],
    {error, {python, Type, Message, _}} =
        pyctx:start_context(#{preload => <<"raise RuntimeError('boom')">>}),
    ?assertEqual(<<"RuntimeError">>, Type),
    ?assertNotEqual(nomatch, binary:match(Message, <<"boom">>)).

bad_options() ->
    ?assertMatch({error, {invalid_argument, _}}, pyctx:start_context(#{mode => turbo})),
    ?assertError({bad_option, colour}, pyctx:start_context(#{colour => blue})),
    Ctx = start(worker),
    ?assertError({bad_option, retries}, pyctx:call(Ctx, operator, add, [1, 2], #{retries => 3})),
    ?assertError({bad_option, {timeout, -1}}, pyctx:eval(Ctx, <<"1">>, #{}, #{timeout => -1})),
    ok = pyctx:stop_context(Ctx).

queue_capacity() ->
    Ctx = start(worker, #{queue_capacity => 1}),
    ok = pyctx:exec(Ctx, spin_code()),
    {ok, Spin} = pyctx:call_async(Ctx, '__main__', spin, []),
    %% the spinning request runs or fills the queue: at most one more fits
    Results = [pyctx:eval_async(Ctx, <<"1">>) || _ <- lists:seq(1, 4)],
    Full = [R || {error, queue_full} = R <- Results],
    ?assert(length(Full) >= 3),
    ok = pyctx:stop_context(Ctx),
    ?assertEqual({error, closed}, pyctx:await(Spin, 5000)),
    %% every accepted request is answered once (what a stop answers queued
    %% requests with is stop_pending's subject)
    [?assertNotEqual({error, timeout}, pyctx:await(R, 5000)) || {ok, R} <- Results],
    ?assertEqual([], pyctx_messages()).

owner_death() ->
    Self = self(),
    Owner = spawn(fun() -> receive stop -> ok end end),
    {ok, Ctx} = pyctx:start_context(#{owner => Owner}),
    ?assertEqual({ok, 1}, pyctx:eval(Ctx, <<"1">>)),
    MRef = monitor(process, Owner),
    Owner ! stop,
    receive {'DOWN', MRef, process, Owner, normal} -> ok end,
    %% closing runs on its own thread once the monitor fires
    wait_until(fun() -> maps:get(closed, pyctx:context_info(Ctx)) end, 5000),
    ?assertEqual({error, closed}, pyctx:eval(Ctx, <<"1">>)),
    %% an owner that is already dead is refused
    Dead = spawn(fun() -> ok end),
    DRef = monitor(process, Dead),
    receive {'DOWN', DRef, process, Dead, _} -> ok end,
    ?assertEqual({error, not_running}, pyctx:start_context(#{owner => Dead})),
    ?assertEqual(Self, self()).

freed_by_gc() ->
    Name = <<"gcctx", (integer_to_binary(erlang:unique_integer([positive]) rem 100000))/binary>>,
    Self = self(),
    {Pid, MRef} = spawn_monitor(
                    fun() ->
                            {ok, Ctx} = pyctx:start_context(#{name => Name}),
                            {ok, _} = pyctx:new_env(Ctx),
                            {ok, 1} = pyctx:eval(Ctx, <<"1">>),
                            Seen = lists:member(Name, thread_names()),
                            %% Ctx stays referenced until here
                            {ok, 2} = pyctx:eval(Ctx, <<"2">>),
                            Self ! {running, Seen}
                    end),
    receive {running, Seen} -> ?assert(Seen) end,
    receive {'DOWN', MRef, process, Pid, normal} -> ok end,
    %% the last reference died with the process: the destructor closes the
    %% context and its thread exits
    wait_until(fun() -> not lists:member(Name, thread_names()) end, 5000).

%% The process dies right after submitting: its request is cancelled, and
%% the completion (on the context's own thread) drops the last reference to
%% the context, whose destructor then frees it from that thread.
freed_by_completion() ->
    Name = <<"lastreq", (integer_to_binary(erlang:unique_integer([positive]) rem 100000))/binary>>,
    Self = self(),
    {Pid, MRef} = spawn_monitor(
                    fun() ->
                            {ok, Ctx} = pyctx:start_context(#{name => Name}),
                            ok = pyctx:exec(Ctx, spin_code()),
                            {ok, _Ref} = pyctx:call_async(Ctx, '__main__', spin, []),
                            Self ! {running, lists:member(Name, thread_names())}
                    end),
    receive {running, Seen} -> ?assert(Seen) end,
    receive {'DOWN', MRef, process, Pid, normal} -> ok end,
    wait_until(fun() -> not lists:member(Name, thread_names()) end, 5000).
