%% Helpers shared by the EUnit suites.
-module(pyctx_test_util).

-export([modes/0, start/1, start/2, wait_until/2, mailbox/0, pyctx_messages/0,
         thread_names/0, spin_code/0, gate_setup_code/1]).

%% Both context modes, owngil only where Python supports it.
modes() ->
    case pyctx:versions() of
        #{owngil := true} -> [worker, owngil];
        _ -> [worker]
    end.

start(Mode) ->
    start(Mode, #{}).

start(Mode, Opts) ->
    {ok, Ctx} = pyctx:start_context(Opts#{mode => Mode}),
    Ctx.

%% Polls Cond until it returns true, failing after TimeoutMs. Only for
%% effects that are asynchronous by design (an OS thread ending, a monitor
%% firing), never in place of a message that could be awaited.
wait_until(Cond, TimeoutMs) ->
    Deadline = erlang:monotonic_time(millisecond) + TimeoutMs,
    wait_until_loop(Cond, Deadline).

wait_until_loop(Cond, Deadline) ->
    case Cond() of
        true -> ok;
        false ->
            case erlang:monotonic_time(millisecond) > Deadline of
                true -> erlang:error(condition_not_reached);
                false -> receive after 5 -> wait_until_loop(Cond, Deadline) end
            end
    end.

mailbox() ->
    {messages, Messages} = process_info(self(), messages),
    Messages.

%% Every pyctx reply still in this process's mailbox.
pyctx_messages() ->
    [M || M <- mailbox(), element(1, M) =:= pyctx].

%% The names of this OS process's threads (context threads carry the
%% context's name).
thread_names() ->
    {ok, Tasks} = file:list_dir("/proc/self/task"),
    lists:filtermap(
      fun(Task) ->
              case file:read_file(filename:join(["/proc/self/task", Task, "comm"])) of
                  {ok, Name} -> {true, string:trim(Name)};
                  {error, _} -> false
              end
      end, Tasks).

%% Python that runs until it is interrupted.
spin_code() ->
    <<"def spin():\n"
      "    while True:\n"
      "        pass\n">>.

%% A module shared by worker contexts (they share sys.modules) holding two
%% events: `started` set by a request once it runs, `release` it waits for.
gate_setup_code(Module) ->
    iolist_to_binary(
      ["import sys, types, threading\n"
       "m = types.ModuleType('", Module, "')\n"
       "m.started = threading.Event()\n"
       "m.release = threading.Event()\n"
       "def hold():\n"
       "    m.started.set()\n"
       "    m.release.wait(30)\n"
       "    return 'released'\n"
       "m.hold = hold\n"
       "sys.modules['", Module, "'] = m\n"]).
