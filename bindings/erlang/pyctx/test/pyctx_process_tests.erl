%% Process contexts: Python in a child process of the VM. The mode atom,
%% evaluation in the child, many Erlang processes sharing one, and a child
%% that exits: every request behind it is answered once with
%% {error, {crashed, Reason}}.
-module(pyctx_process_tests).
-include_lib("eunit/include/eunit.hrl").

-import(pyctx_test_util, [start/1, start/2, pyctx_messages/0]).

process_test_() ->
    {timeout, 60,
     [{"a process context evaluates in a child", fun evaluates_in_a_child/0},
      {"Erlang processes share a process context", fun shared_by_processes/0},
      {"a child's exit answers every pending request once as crashed",
       fun exit_crashes_pending/0},
      {"a child killed by a signal is reported with the signal", fun killed_by_signal/0}]}.

vm_pid() ->
    list_to_integer(os:getpid()).

evaluates_in_a_child() ->
    Ctx = start(process, #{name => <<"erl-proc">>, preload => <<"base = 40">>}),
    ?assertEqual({ok, 42}, pyctx:eval(Ctx, <<"base + 2">>)),
    ?assertEqual({ok, 6}, pyctx:call(Ctx, math, gcd, [12, 18])),
    {ok, Pid} = pyctx:eval(Ctx, <<"__import__('os').getpid()">>),
    ?assertNotEqual(vm_pid(), Pid),
    ?assertEqual({ok, vm_pid()}, pyctx:eval(Ctx, <<"__import__('os').getppid()">>)),
    Info = pyctx:context_info(Ctx),
    ?assertMatch(#{mode := process, name := <<"erl-proc">>, closed := false}, Info),
    %% a process context's thread id is its child's pid
    ?assertEqual(Pid, maps:get(thread_id, Info)),
    ?assertMatch({error, {python, <<"ZeroDivisionError">>, _, _}}, pyctx:eval(Ctx, <<"1 / 0">>)),
    %% the VM no longer ignores SIGCHLD (see c_src/nif_process.c)
    ?assertNot(sigchld_ignored()),
    ?assertEqual(ok, pyctx:stop_context(Ctx)),
    ?assertEqual({error, closed}, pyctx:eval(Ctx, <<"1">>)).

%% Bit 17 - 1 of SigIgn in /proc/self/status: SIGCHLD ignored.
sigchld_ignored() ->
    {ok, Status} = file:read_file("/proc/self/status"),
    {match, [Hex]} = re:run(Status, <<"SigIgn:\\s*([0-9a-f]+)">>, [{capture, all_but_first, list}]),
    (list_to_integer(Hex, 16) band (1 bsl 16)) =/= 0.

shared_by_processes() ->
    Ctx = start(process),
    ok = pyctx:exec(Ctx, <<"def tag(p, i): return [p, i]">>),
    #{completed := Before} = pyctx:context_info(Ctx),
    Parent = self(),
    Procs = 4, Calls = 50,
    Pids = [spawn_link(
              fun() ->
                      Results = [pyctx:call(Ctx, '__main__', tag, [P, I]) || I <- lists:seq(1, Calls)],
                      Parent ! {done, P, Results, pyctx_messages()}
              end) || P <- lists:seq(1, Procs)],
    [receive
         {done, P, Results, Left} ->
             ?assertEqual([{ok, [P, I]} || I <- lists:seq(1, Calls)], Results),
             ?assertEqual([], Left)
     end || {P, _} <- lists:zip(lists:seq(1, Procs), Pids)],
    #{completed := After} = pyctx:context_info(Ctx),
    ?assertEqual(Procs * Calls, After - Before),
    pyctx:stop_context(Ctx).

%% The child blocks reading a FIFO it made, so the request that ends it
%% with os._exit(3) and 25 requests from each of four Erlang processes
%% queue behind; once the gate opens, each is answered exactly once.
exit_crashes_pending() ->
    Fifo = filename:join(tmp_dir(), "pyctx-erl-proc-gate-" ++ os:getpid()),
    file:delete(Fifo),
    Preload = iolist_to_binary(["import os\ngate = '", Fifo, "'\nos.mkfifo(gate)\n"]),
    Ctx = start(process, #{preload => Preload}),
    #{thread_id := ChildPid, completed := Completed0, failed := Failed0} = pyctx:context_info(Ctx),
    {ok, Gate} = pyctx:exec_async(Ctx, <<"with open(gate, 'rb') as f:\n    f.read(1)\n">>),
    {ok, Exit} = pyctx:exec_async(Ctx, <<"os._exit(3)">>),
    Parent = self(),
    Procs = 4, PerProc = 25,
    Pids = [spawn_link(
              fun() ->
                      Refs = [begin {ok, R} = pyctx:eval_async(Ctx, <<"2">>), R end
                              || _ <- lists:seq(1, PerProc)],
                      Parent ! {submitted, self()},
                      Replies = [pyctx:await(R, 10000) || R <- Refs],
                      %% a second reply to any of them would still be here
                      Parent ! {replies, self(), Replies, pyctx_messages()}
              end) || _ <- lists:seq(1, Procs)],
    [receive {submitted, P} -> ok end || P <- Pids],
    {ok, W} = file:open(Fifo, [write, raw, binary]),
    ok = file:write(W, <<"x">>),
    ok = file:close(W),
    ok = file:delete(Fifo),

    ?assertEqual(ok, pyctx:await(Gate, 10000)),
    Crashed = fun(Reply) ->
                      ?assertMatch({error, {crashed, Reason}} when is_binary(Reason), Reply),
                      {error, {crashed, Reason}} = Reply,
                      ?assertNotEqual(nomatch, binary:match(Reason, <<"exited with code 3">>)),
                      ?assertNotEqual(nomatch, binary:match(Reason, integer_to_binary(ChildPid)))
              end,
    Crashed(pyctx:await(Exit, 10000)),
    [receive
         {replies, P, Replies, Left} ->
             ?assertEqual(PerProc, length(Replies)),
             lists:foreach(Crashed, Replies),
             ?assertEqual([], Left)
     end || P <- Pids],
    ?assertEqual([], pyctx_messages()),
    %% one completion counted per request (crashed ones as failed)
    Info = pyctx:context_info(Ctx),
    ?assertMatch(#{closed := true, cancelled := 0, timed_out := 0, closed_requests := 0}, Info),
    ?assertEqual(1, maps:get(completed, Info) - Completed0),
    ?assertEqual(Procs * PerProc + 1, maps:get(failed, Info) - Failed0),
    ?assertEqual({error, closed}, pyctx:eval(Ctx, <<"1">>)),
    %% the VM runs on: a new process context works
    Next = start(process),
    ?assertEqual({ok, 5}, pyctx:eval(Next, <<"2 + 3">>)),
    pyctx:stop_context(Next),
    pyctx:stop_context(Ctx).

killed_by_signal() ->
    Ctx = start(process, #{preload => <<"import time">>}),
    #{thread_id := ChildPid} = pyctx:context_info(Ctx),
    {ok, Ref} = pyctx:eval_async(Ctx, <<"time.sleep(60)">>),
    %% the sleeper may still be queued or already running: either way it
    %% is answered once, as crashed by signal 9
    "" = os:cmd("kill -9 " ++ integer_to_list(ChildPid)),
    {error, {crashed, Reason}} = pyctx:await(Ref, 10000),
    ?assertNotEqual(nomatch, binary:match(Reason, <<"signal 9">>)),
    ?assertEqual([], pyctx_messages()),
    pyctx:stop_context(Ctx).

tmp_dir() ->
    case os:getenv("TMPDIR") of
        false -> "/tmp";
        "" -> "/tmp";
        Dir -> Dir
    end.
