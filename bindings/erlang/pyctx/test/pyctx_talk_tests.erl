%% Python talks to Erlang: pyctx.send to pids and registered names, in
%% order, with dead targets reported; the shared store seen from both sides.
-module(pyctx_talk_tests).
-include_lib("eunit/include/eunit.hrl").

-import(pyctx_test_util, [modes/0, start/1]).

talk_test_() ->
    [{setup,
      fun() -> Ctx = start(Mode), ok = pyctx:exec(Ctx, <<"import pyctx">>), Ctx end,
      fun pyctx:stop_context/1,
      fun(Ctx) ->
              [{atom_to_list(Mode) ++ ": send to a pid", fun() -> send_to_pid(Ctx) end},
               {atom_to_list(Mode) ++ ": order is kept", fun() -> send_in_order(Ctx) end},
               {atom_to_list(Mode) ++ ": registered name", fun() -> send_to_name(Ctx) end},
               {atom_to_list(Mode) ++ ": dead pid", fun() -> send_to_dead(Ctx) end},
               {atom_to_list(Mode) ++ ": store", fun() -> store(Ctx) end},
               {atom_to_list(Mode) ++ ": logging", fun() -> logging(Ctx) end}]
      end}
     || Mode <- modes()].

send_to_pid(Ctx) ->
    ?assertEqual({ok, true}, pyctx:eval(Ctx, <<"pyctx.send(p, ('hello', 1))">>, #{p => self()})),
    receive Msg -> ?assertEqual({<<"hello">>, 1}, Msg) after 5000 -> error(no_message) end.

send_in_order(Ctx) ->
    ok = pyctx:exec(Ctx, <<"def burst(p):\n    for i in range(200): pyctx.send(p, i)\n">>),
    {ok, none} = pyctx:call(Ctx, '__main__', burst, [self()]),
    Got = [receive N -> N after 5000 -> error(no_message) end || _ <- lists:seq(1, 200)],
    ?assertEqual(lists:seq(0, 199), Got).

send_to_name(Ctx) ->
    true = register(pyctx_talk_tests_name, self()),
    try
        ?assertEqual({ok, true},
                     pyctx:eval(Ctx, <<"pyctx.send(pyctx.Symbol('pyctx_talk_tests_name'), 'named')">>)),
        receive Msg -> ?assertEqual(<<"named">>, Msg) after 5000 -> error(no_message) end
    after
        unregister(pyctx_talk_tests_name)
    end,
    %% Not registered any more (and an atom that never existed): gone.
    ?assertEqual({ok, false},
                 pyctx:eval(Ctx, <<"pyctx.send(pyctx.Symbol('pyctx_talk_tests_name'), 1, missing_ok=True)">>)),
    ?assertEqual({ok, false},
                 pyctx:eval(Ctx, <<"pyctx.send(pyctx.Symbol('no_such_atom_xyz_42'), 1, missing_ok=True)">>)).

send_to_dead(Ctx) ->
    {Pid, Mon} = spawn_monitor(fun() -> ok end),
    receive {'DOWN', Mon, process, Pid, _} -> ok end,
    ?assertMatch({error, {python, <<"pyctx.SendError">>, _, _}},
                 pyctx:eval(Ctx, <<"pyctx.send(p, 1)">>, #{p => Pid})),
    ?assertEqual({ok, false}, pyctx:eval(Ctx, <<"pyctx.send(p, 1, missing_ok=True)">>, #{p => Pid})).

store(Ctx) ->
    Key = <<"erl.", (integer_to_binary(erlang:unique_integer([positive])))/binary>>,
    {ok, V1} = pyctx:store_put(Key, [1, <<"two">>]),
    ?assertEqual({ok, [1, <<"two">>]}, pyctx:eval(Ctx, <<"pyctx.store_get(k)">>, #{k => Key})),
    {ok, V2} = pyctx:eval(Ctx, <<"pyctx.store_cas(k, v, {'a': 1})">>, #{k => Key, v => V1}),
    ?assert(V2 > V1),
    ?assertEqual({ok, #{<<"a">> => 1}, V2}, pyctx:store_get(Key)),
    ?assertEqual({conflict, V2}, pyctx:store_cas(Key, V1, 3)),
    {ok, V3} = pyctx:store_cas(Key, V2, 3),
    ?assertEqual({ok, [Key]}, pyctx:store_keys(Key)),
    ?assertEqual(false, pyctx:store_delete(Key, V2)),
    ?assertEqual(true, pyctx:store_delete(Key, V3)),
    ?assertEqual({error, not_found}, pyctx:store_get(Key)),
    ?assertMatch({error, {invalid_argument, _}}, pyctx:store_put(<<>>, 1)).

logging(Ctx) ->
    ok = pyctx_nif:log_forward(self(), 30, 100),
    try
        ok = pyctx:exec(Ctx, <<"import logging\n"
                               "logging.getLogger('erl.app').info('skipped')\n"
                               "logging.getLogger('erl.app').error('bad %s', 'thing')\n">>),
        receive
            {pyctx_log, Level, Logger, Message, Exception, _Context, Created} ->
                ?assertEqual({40, <<"erl.app">>, <<"bad thing">>, <<>>}, {Level, Logger, Message, Exception}),
                ?assert(is_float(Created))
        after 5000 -> error(no_log_record)
        end,
        receive {pyctx_log, _, _, M, _, _, _} -> error({unexpected, M}) after 0 -> ok end
    after
        ok = pyctx:stop_forwarding_logging()
    end,
    %% The OTP forwarder is a registered process.
    ok = pyctx:forward_logging(40),
    ?assert(is_pid(whereis(pyctx_log_forwarder))),
    ok = pyctx:stop_forwarding_logging().
