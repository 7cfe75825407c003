%% Process context options: the restart policy (a crashed child is
%% replaced, the preload runs again, up to a budget), the helper path, the
%% child's output as log records, and
%% the child's pid and restart count in context_info/1.
-module(pyctx_restart_tests).
-include_lib("eunit/include/eunit.hrl").

-import(pyctx_test_util, [pyctx_messages/0]).

restart_test_() ->
    {timeout, 60,
     [{"a crashed child is restarted within the budget", fun restarts/0},
      {"beyond the budget the context closes", fun budget_spent/0},
      {"without a policy a crash closes the context", fun no_policy/0},
      {"the helper path", fun helper/0},
      {"other modes report no child", fun other_modes/0},
      {"the child's output as log records", fun output_as_log/0},
      {"bad options", fun bad_options/0}]}.

preload() ->
    <<"import os\nbase = 40\nstarted_pid = os.getpid()\n">>.

crash(Ctx) ->
    pyctx:eval(Ctx, <<"__import__('os')._exit(3)">>).

restarts() ->
    {ok, Ctx} = pyctx:start_context(#{mode => process, preload => preload(),
                                      max_restarts => 2, restart_window => 60000}),
    #{child_pid := Pid1, restarts := 0} = pyctx:context_info(Ctx),
    ?assert(Pid1 > 0),
    ?assertEqual({ok, Pid1}, pyctx:eval(Ctx, <<"started_pid">>)),
    ok = pyctx:exec(Ctx, <<"state = 'lost with the child'">>),
    {error, {crashed, Reason}} = crash(Ctx),
    ?assertNotEqual(nomatch, binary:match(Reason, <<"code 3">>)),
    %% the next request waits for the new child; the preload ran again
    ?assertEqual({ok, 42}, pyctx:eval(Ctx, <<"base + 2">>)),
    {ok, Pid2} = pyctx:eval(Ctx, <<"started_pid">>),
    ?assertNotEqual(Pid1, Pid2),
    ?assertMatch({error, {python, <<"NameError">>, _, _}}, pyctx:eval(Ctx, <<"state">>)),
    ?assertMatch(#{child_pid := Pid2, restarts := 1, closed := false}, pyctx:context_info(Ctx)),
    ?assertMatch({error, {crashed, _}}, crash(Ctx)),
    ?assertEqual({ok, 42}, pyctx:eval(Ctx, <<"base + 2">>)),
    ?assertMatch(#{restarts := 2, closed := false}, pyctx:context_info(Ctx)),
    ok = pyctx:stop_context(Ctx),
    ?assertEqual([], pyctx_messages()).

budget_spent() ->
    {ok, Ctx} = pyctx:start_context(#{mode => process, preload => preload(), max_restarts => 1}),
    ?assertMatch({error, {crashed, _}}, crash(Ctx)),
    ?assertEqual({ok, 42}, pyctx:eval(Ctx, <<"base + 2">>)),
    ?assertMatch({error, {crashed, _}}, crash(Ctx)),
    %% the one restart is spent: the context closed
    ?assertEqual({error, closed}, pyctx:eval(Ctx, <<"1">>)),
    ?assertMatch(#{closed := true, restarts := 1, child_pid := 0}, pyctx:context_info(Ctx)),
    pyctx:stop_context(Ctx).

no_policy() ->
    {ok, Ctx} = pyctx:start_context(#{mode => process}),
    ?assertMatch({error, {crashed, _}}, crash(Ctx)),
    ?assertEqual({error, closed}, pyctx:eval(Ctx, <<"1">>)),
    ?assertMatch(#{closed := true, restarts := 0}, pyctx:context_info(Ctx)),
    pyctx:stop_context(Ctx).

helper() ->
    ?assertMatch({error, {not_found, _}},
                 pyctx:start_context(#{mode => process, process_helper => <<"/nonexistent/helper">>})),
    %% the library's own helper, named explicitly (next to libpyctx.so)
    Dir = [D || D <- string:split(os:getenv("LD_LIBRARY_PATH", ""), ":", all),
                filelib:is_regular(filename:join(D, "pyctx-process-helper"))],
    case Dir of
        [D | _] ->
            {ok, Ctx} = pyctx:start_context(#{mode => process,
                                              process_helper => filename:join(D, "pyctx-process-helper")}),
            ?assertEqual({ok, 2}, pyctx:eval(Ctx, <<"1 + 1">>)),
            ok = pyctx:stop_context(Ctx);
        [] ->
            ok
    end,
    %% ignored by other modes
    {ok, W} = pyctx:start_context(#{process_helper => <<"/nonexistent/helper">>, max_restarts => 3}),
    ?assertEqual({ok, 2}, pyctx:eval(W, <<"1 + 1">>)),
    ok = pyctx:stop_context(W).

other_modes() ->
    {ok, W} = pyctx:start_context(),
    ?assertMatch(#{child_pid := 0, restarts := 0}, pyctx:context_info(W)),
    ok = pyctx:stop_context(W).

bad_options() ->
    ?assertError({bad_option, {max_restarts, -1}}, pyctx:start_context(#{max_restarts => -1})),
    ?assertError({bad_option, {restart_window, x}}, pyctx:start_context(#{restart_window => x})),
    ?assertError(badarg, pyctx:start_context(#{mode => process, process_helper => 42})),
    ?assertError(badarg, pyctx:start_context(#{mode => process, process_output => loud})).

output_as_log() ->
    ok = pyctx_nif:log_forward(self(), 20, 100),
    {ok, Ctx} = pyctx:start_context(#{mode => process, name => <<"erl-out">>,
                                      process_output => log}),
    try
        ok = pyctx:exec(Ctx, <<"import sys\n"
                               "print('to stdout', flush=True)\n"
                               "print('to stderr', file=sys.stderr)\n">>),
        Got = lists:sort([receive {pyctx_log, Level, Logger, Message, _, Context, _} ->
                                      {Logger, Level, Message, Context}
                          after 10000 -> error(no_log_record)
                          end || _ <- [1, 2]]),
        ?assertEqual([{<<"pyctx.process.stderr">>, 30, <<"to stderr">>, <<"erl-out">>},
                      {<<"pyctx.process.stdout">>, 20, <<"to stdout">>, <<"erl-out">>}], Got)
    after
        pyctx:stop_context(Ctx),
        pyctx_nif:log_forward(none, 0, 0)
    end.
